"""INR benchmark: the Neural Experts Kodak protocol and the STRAINER transfer protocol.

    .venv/bin/python benchmarks/inr.py --scale small    # 2-core CPU, about 45 minutes
    .venv/bin/python benchmarks/inr.py --scale paper    # both papers' full protocols, for a GPU
    .venv/bin/python benchmarks/inr.py --scale tiny     # seconds; what the tests run

A preset fills every size; a flag given on the command line overrides it. Every
(image, model) result and every STRAINER fit is written to --out as it finishes and
skipped on a restart, and long fits checkpoint inside --out/…/ckpt, so an interrupted
run resumes where it stopped: run the same command again. The run ends with
--out/tables.md (the tables the README carries), --out/summary.json and the figures.

PSNR for Neural Experts is in the paper's convention ([-1,1] data, peak max(gt)) and in
the [0,1] one (about 6.02 dB higher); STRAINER PSNR is [0,1] (peak 1), as its paper reports.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from models.inr import _experts as ne
from models.inr import _plots
from models.inr._cli import load_train_test
from models.inr._data import grid, load_kodak, to_pm1
from models.inr._fit import fit
from models.inr._strainer import METHODS, TransferResult, strainer_protocol

ROOT = Path(__file__).resolve().parents[1]
NE_MS_PER_IT = 26.6  # the paper's Neural Experts step, 4 experts, NVIDIA A5000
#: The five models of the reduced comparison (``--scale paper`` runs all six of the paper's table).
SMALL_MODELS = ("siren_base", "siren_wider", "vanilla_moe", "neural_experts", "neural_experts_small")
CLAIMED_ORDER = ("neural_experts", "siren_wider", "siren_base")  # the paper: 89.35 > 77.50 > 57.23 dB
REPORT_STEPS = (50, 100, 200, 500)  # STRAINER milestones, plus the last step
LABELS = {"siren_base": "SIREN base", "siren_wider": "SIREN wider", "vanilla_moe": "vanilla MoE",
          "vanilla_moe_pretrained": "vanilla MoE + pretraining", "neural_experts": "Neural Experts",
          "neural_experts_small": "Neural Experts small", "siren": "SIREN (random init)",
          "siren_finetuned": "SIREN fine-tuned", "strainer_1": "STRAINER-1", "strainer_10": "STRAINER-10"}

#: Presets. ``small`` was sized from measured steps on the 2-core CPU (see the README);
#: ``paper`` is both papers' protocols (STRAINER at alpine's 178², its example resolution).
SCALES = {
    "tiny": dict(images=1, size=16, steps=20, pretrain_steps=10, record_every=2, time_steps=4, models=SMALL_MODELS,
                 strainer_n_train=2, strainer_n_test=1, strainer_size=16, strainer_width=16,
                 strainer_train_steps=20, strainer_test_steps=60, strainer_record_every=10),
    "small": dict(images=6, size=32, steps=800, pretrain_steps=1000, record_every=40, time_steps=20,
                  models=SMALL_MODELS, strainer_n_train=10, strainer_n_test=10, strainer_size=32, strainer_width=128,
                  strainer_train_steps=1000, strainer_test_steps=1000, strainer_record_every=10),
    "paper": dict(images=24, size=128, steps=30_000, pretrain_steps=3000, record_every=500, time_steps=50,
                  models=ne.MODELS, strainer_n_train=10, strainer_n_test=10, strainer_size=178, strainer_width=256,
                  strainer_train_steps=5000, strainer_test_steps=2000, strainer_record_every=10),
}


class InputError(Exception):
    """Bad input that the user can fix: reported as one line, not a traceback."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of usage + message
        self.exit(2, f"{self.prog}: error: {message}\n")


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _ms_per_step(model, coords, target, *, lr, n=50):
    """Steady-state time of one training step with the training optimiser (compile excluded:
    the second and third runs differ by n steps)."""
    kw = dict(optimizer=ne._paper_adam(lr, 0.9999), record_every=n, steps_per_chunk=n, progress=False,
              loss=ne.scaled_mse)
    if isinstance(model, ne.NeuralExperts):
        kw.update(loss=ne.experts_loss, predict_fn=ne.experts_predict)
    times = []
    for steps in (n, n, 2 * n):  # the first run compiles
        t = time.perf_counter()
        out = fit(model, coords, target, steps=steps, **kw)
        jax.block_until_ready(jax.tree.leaves(eqx.filter(out.model, eqx.is_array)))
        times.append(time.perf_counter() - t)
    return 1e3 * (times[2] - times[1]) / n


def _predict(model, coords):
    return ne.experts_predict(model, coords) if isinstance(model, ne.NeuralExperts) else jax.vmap(model)(coords)


def neural_experts(args) -> dict:
    names = [f"kodim{i:02d}" for i in range(1, args.images + 1)]
    try:
        imgs = load_kodak(args.kodak, names=names, crop=args.size)
    except (FileNotFoundError, ValueError) as error:
        raise InputError(f"{error} (--kodak)") from None
    coords = grid(args.size, args.size)  # jax's default float: float32, or float64 under jax_enable_x64
    out = Path(args.out) / "neural_experts"
    out.mkdir(parents=True, exist_ok=True)
    key = jax.random.key(args.seed)
    pretrained, agreement, timing = {}, {}, {}
    results = {m: [] for m in args.models}
    for img_name, img in zip(names, imgs):
        target = jnp.asarray(to_pm1(img).reshape(-1, 3), dtype=coords.dtype)
        for m in args.models:
            tag = f"{img_name}_{m}_s{args.size}_n{args.steps}_p{args.pretrain_steps}"
            path = out / f"{tag}.json"
            if path.exists():
                results[m].append(json.loads(path.read_text()))
                continue
            model = ne.build(m, key=key)
            if ne.needs_pretraining(m) and args.pretrain_steps:
                if m not in pretrained:  # signal-independent: once per model and grid, reused for every image
                    cache = out / f"pretrained_{m}_s{args.size}_p{args.pretrain_steps}.eqx"
                    if cache.exists():
                        pretrained[m] = eqx.tree_deserialise_leaves(cache, model)
                        agreement[m] = json.loads(cache.with_suffix(".json").read_text())["agreement"]
                    else:
                        pretrained[m], traj = ne.pretrain_manager(
                            model, coords, key=jax.random.key(args.seed + 1), steps=args.pretrain_steps,
                            record_every=args.pretrain_steps)
                        agreement[m] = float(traj.metric[-1])
                        eqx.tree_serialise_leaves(cache, pretrained[m])
                        cache.with_suffix(".json").write_text(json.dumps({"agreement": agreement[m]}))
                model = pretrained[m]
            if m not in timing:
                timing[m] = (_ms_per_step(model, coords, target, lr=args.lr, n=args.time_steps), _load())
            t0 = time.perf_counter()
            trained, traj = ne.train_model(m, model, coords, target, steps=args.steps, learning_rate=args.lr,
                                           record_every=args.record_every, checkpoint_dir=_ckpt(out, tag))
            rgb01 = np.clip((np.asarray(_predict(trained, coords)) + 1.0) / 2.0, 0.0, 1.0)
            np.save(out / f"{tag}.npy", rgb01.reshape(img.shape).astype(np.float32))
            # the same prediction scored both ways: [-1,1] with peak max(gt), and [0,1] with peak 1
            offset = 10.0 * np.log10(4.0 / float(jnp.max(target)) ** 2)
            row = {"image": img_name, "model": m, "params": ne.param_count(trained),
                   "psnr_pm1": float(traj.metric[-1]), "psnr_01": float(traj.metric[-1]) + offset,
                   "wall_s": time.perf_counter() - t0, "ms_per_step": timing[m][0], "load_at_timing": timing[m][1],
                   "pretrain_agreement": agreement.get(m), "steps": traj.steps.tolist(),
                   "trajectory_psnr_pm1": traj.metric.tolist(), "reconstruction": f"{tag}.npy"}
            path.write_text(json.dumps(row))
            results[m].append(row)
            print(f"{img_name} {m:24s} {row['psnr_pm1']:7.2f} dB [-1,1]  {row['psnr_01']:7.2f} dB [0,1]  "
                  f"({row['wall_s']:.0f} s)", flush=True)
    _ne_plots(results, dict(zip(names, imgs)), out, Path(args.out), args)
    return _ne_table(results)


def _ckpt(out, tag):
    d = out / "ckpt" / tag
    d.mkdir(parents=True, exist_ok=True)
    return d


def _ne_table(results) -> dict:
    table = {}
    for m, rows in results.items():
        if not rows:
            continue
        pm1, p01 = np.array([r["psnr_pm1"] for r in rows]), np.array([r["psnr_01"] for r in rows])
        paper_params, paper_psnr = ne.PAPER[m]
        table[m] = {"params": rows[0]["params"], "paper_params": paper_params, "psnr_pm1_mean": float(pm1.mean()),
                    "psnr_pm1_std": float(pm1.std()), "psnr_01_mean": float(p01.mean()),
                    "psnr_01_std": float(p01.std()), "paper_psnr_pm1": paper_psnr,
                    "ms_per_step": rows[0]["ms_per_step"], "load_at_timing": rows[0].get("load_at_timing"),
                    "pretrain_agreement": rows[0].get("pretrain_agreement"), "n_images": len(rows),
                    "wall_s": float(sum(r["wall_s"] for r in rows)),
                    # the whole fit's time per step, median over images (the first one also compiles)
                    "fit_ms_per_step": float(1e3 * np.median([r["wall_s"] / r["steps"][-1] for r in rows]))}
    return table


def _ne_plots(results, images, out, root, args) -> None:
    """PSNR against step (mean ± std over images) for every model, and each image's reconstructions."""
    curves, bands = {}, {}
    for m, rows in results.items():
        if rows:
            traj = np.array([r["trajectory_psnr_pm1"] for r in rows])
            curves[LABELS[m]] = (np.array(rows[0]["steps"]), traj.mean(0))
            bands[LABELS[m]] = traj.std(0)
    _plots.psnr_curves(curves, root / "neural_experts_psnr.png", bands=bands, ylabel="PSNR (dB), [-1,1] convention",
                       title=f"Neural Experts protocol: {args.images} Kodak image(s), {args.size}², mean ± std")
    for name, img in images.items():
        recs = {LABELS[m]: np.load(out / r["reconstruction"]) for m, rows in results.items()
                for r in rows if r["image"] == name}
        _plots.reconstructions(img, recs, root / f"neural_experts_{name}.png",
                               title=f"{name}, {args.size}² crop, {args.steps} steps")


AUDIO_PAPER_MSE_E4 = {  # ×1e-4, bach / counting / two speakers
    "siren_base": {"gt_bach": 0.71, "gt_counting": 36.6, "gt_twospeakers": 2.06},
    "siren_wider": {"gt_bach": 0.49, "gt_counting": 15.9, "gt_twospeakers": 0.51},
    "neural_experts": {"gt_bach": 0.12, "gt_counting": 1.72, "gt_twospeakers": 0.16},
}


def audio(args) -> dict:
    """The paper's audio clips: coordinates in [-100, 100], amplitude / max|x|, metric MSE."""
    from models.inr._data import load_audio

    if not Path(args.audio).is_dir() or not any(Path(args.audio).glob("*.wav")):
        raise InputError(f"--audio {args.audio} is not a folder holding .wav clips")
    out = Path(args.out) / "audio"
    out.mkdir(parents=True, exist_ok=True)
    table = {}
    for wav in sorted(Path(args.audio).glob("*.wav")):
        try:
            c, a = load_audio(wav)
        except (FileNotFoundError, ValueError) as error:
            raise InputError(str(error)) from None
        coords, target = jnp.asarray(c, dtype=jnp.float32), jnp.asarray(a, dtype=jnp.float32)
        for m in AUDIO_PAPER_MSE_E4:
            path = out / f"{wav.stem}_{m}_n{args.audio_steps}.json"
            if not path.exists():
                model = ne.build(m, 1, 1, key=jax.random.key(args.seed))
                if ne.needs_pretraining(m) and args.pretrain_steps:
                    model, _ = ne.pretrain_manager(model, coords, key=jax.random.key(args.seed + 1),
                                                   steps=args.pretrain_steps, record_every=args.pretrain_steps)
                trained, _ = ne.train_model(m, model, coords, target, steps=args.audio_steps, learning_rate=args.lr,
                                            record_every=args.record_every, checkpoint_dir=_ckpt(out, path.stem))
                pred = ne.experts_predict(trained, coords) if m == "neural_experts" else jax.vmap(trained)(coords)
                path.write_text(json.dumps({"mse": float(jnp.mean((pred - target) ** 2))}))
            table.setdefault(m, {})[wav.stem] = json.loads(path.read_text())["mse"]
    print(f"\nAudio ({args.audio_steps} steps), MSE ×1e-4 (ours / paper)")
    for m, row in table.items():
        print(f"{m:16s} " + "  ".join(f"{k}: {1e4 * v:.3g} / {AUDIO_PAPER_MSE_E4[m].get(k, float('nan'))}"
                                      for k, v in row.items()))
    return table


def strainer(args) -> dict:
    test_domain = args.strainer_test_domain or args.strainer_domain
    tag = (f"strainer_{args.strainer_domain}_{test_domain}_s{args.strainer_size}_w{args.strainer_width}"
           f"_tr{args.strainer_train_steps}_te{args.strainer_test_steps}_n{args.strainer_n_train}"
           f"-{args.strainer_n_test}_r{args.strainer_record_every}")
    path = Path(args.out) / f"{tag}.json"
    if path.exists():
        summary = json.loads(path.read_text())
    else:
        try:
            train, test = load_train_test(args.strainer_domain, test_domain, args.strainer_n_train,
                                          args.strainer_n_test, args.strainer_size, kodak=args.kodak)
        except (FileNotFoundError, ValueError) as error:
            raise InputError(str(error)) from None
        if train.shape[-1] != test.shape[-1]:
            train, test = train.mean(-1, keepdims=True), test.mean(-1, keepdims=True)
        t0 = time.perf_counter()
        res = strainer_protocol(train.astype(np.float32), test.astype(np.float32), key=jax.random.key(args.seed),
                                width=args.strainer_width, train_steps=args.strainer_train_steps,
                                test_steps=args.strainer_test_steps, record_every=args.strainer_record_every,
                                checkpoint_dir=Path(args.out) / "ckpt" / tag)
        summary = strainer_summary(res, args, test_domain, time.perf_counter() - t0)
        Path(args.out).mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(summary))
    name = _strainer_labels(summary["n_train"])
    _plots.psnr_curves({name[m]: (np.array(summary["steps"]), np.array(summary["curve_mean"][m])) for m in METHODS},
                       Path(args.out) / "strainer_psnr.png", ylabel="PSNR (dB), [0,1] convention",
                       bands={name[m]: np.array(summary["curve_std"][m]) for m in METHODS},
                       title=f"STRAINER protocol: {summary['n_test']} test {test_domain}, {summary['size']}², "
                             "mean ± std")
    return summary


def _strainer_labels(n_train: int) -> dict:
    """``strainer_10`` is the library's name for the encoder of all N training images."""
    return {**LABELS, "strainer_10": f"STRAINER-{n_train}"}


def strainer_summary(res: TransferResult, args, test_domain: str, wall_s: float) -> dict:
    """Milestone PSNRs (mean, std), the curves, and how soon each method reaches SIREN's final PSNR."""
    end = int(res.steps[-1])
    ms = [s for s in REPORT_STEPS if s < end and s % args.strainer_record_every == 0] + [end]
    reach = {m: res.steps_to_reach(m) for m in METHODS}
    return {"train_domain": args.strainer_domain, "test_domain": test_domain, "n_train": args.strainer_n_train,
            "n_test": args.strainer_n_test, "size": args.strainer_size, "width": args.strainer_width,
            "train_steps": args.strainer_train_steps, "test_steps": end, "wall_s": wall_s, "load_end": _load(),
            "milestones": ms, "psnr_01": {m: [res.at(m, s) for s in ms] for m in METHODS},
            "steps_to_reach_siren_final": {m: None if np.isnan(v) else v for m, v in reach.items()},
            "steps": res.steps.tolist(), "curve_mean": {m: res.psnr[m].mean(0).tolist() for m in METHODS},
            "curve_std": {m: res.psnr[m].std(0).tolist() for m in METHODS}}


# ----------------------------------------------------------------------------- tables

def _pm(mean, std):
    return f"{mean:.2f} ± {std:.2f}"


def ne_markdown(table: dict, meta: dict) -> str:
    """The Neural Experts table: ours beside the paper's, and whether the paper's ranking holds here."""
    lines = [f"Neural Experts protocol: {meta['images']} Kodak image(s) (kodim01…), ×4 downscale, {meta['size']}² "
             f"centre crop, {meta['steps']} steps (last 20 % experts only), lr {meta['lr']:g}·0.9999^step; "
             f"mixtures' managers pretrained {meta['pretrain_steps']} steps. Paper: 24 images, 128², 30,000 steps.",
             "",
             "| model | params | paper params | PSNR [-1,1] | PSNR [0,1] | paper PSNR [-1,1] | ms / step | "
             "fit ms / step |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for m, r in table.items():
        lines.append(f"| {LABELS[m]} | {r['params']:,} | {r['paper_params']:,} | "
                     f"{_pm(r['psnr_pm1_mean'], r['psnr_pm1_std'])} | {_pm(r['psnr_01_mean'], r['psnr_01_std'])} | "
                     f"{r['paper_psnr_pm1']:.2f} | {r['ms_per_step']:.1f} | {r['fit_ms_per_step']:.1f} |")
    lines += ["", ranking(table)]
    pre = {m: r["pretrain_agreement"] for m, r in table.items() if r.get("pretrain_agreement") is not None}
    if pre:
        lines.append("Manager pretraining reproduced the random expert map on "
                     + ", ".join(f"{100 * a:.0f} % of pixels ({LABELS[m]})" for m, a in pre.items()) + ".")
    return "\n".join(lines)


def ranking(table: dict) -> str:
    """One line: does Neural Experts > SIREN wider > SIREN base hold in the measured means?"""
    have = [m for m in CLAIMED_ORDER if m in table]
    if len(have) < 2:
        return "Ranking: too few of Neural Experts, SIREN wider and SIREN base were run to compare."
    order = sorted(have, key=lambda m: -table[m]["psnr_pm1_mean"])
    verdict = "holds" if order == list(have) else "does not hold"
    return (f"Paper's ranking {' > '.join(LABELS[m] for m in have)}: {verdict} here (measured: "
            + " > ".join(f"{LABELS[m]} {table[m]['psnr_pm1_mean']:.2f}" for m in order) + " dB).")


def strainer_markdown(s: dict) -> str:
    """The STRAINER table: PSNR at the milestones, the gain over SIREN, and steps to SIREN's final PSNR."""
    ms, end = s["milestones"], s["test_steps"]
    head = " | ".join(f"step {m}" if m != end else f"step {m} (end)" for m in ms)
    lines = [f"STRAINER protocol: encoders trained {s['train_steps']} steps on {s['n_train']} LFW {s['train_domain']} "
             f"(`skimage.data.lfw_subset`, 25² resized to {s['size']}²), then {s['n_test']} held-out "
             f"{s['test_domain']} fitted {end} steps; SIREN width {s['width']}, 5 shared layers, Adam 1e-4; "
             "PSNR [0,1] convention, mean ± std over the test images. No meta-learned baseline is implemented.",
             "",
             f"| init | {head} | steps to SIREN's final PSNR |",
             "|---|" + "---:|" * (len(ms) + 1)]
    name = _strainer_labels(s["n_train"])
    for m in METHODS:
        cells = " | ".join(_pm(mu, sd) for mu, sd in s["psnr_01"][m])
        reach = s["steps_to_reach_siren_final"][m]
        lines.append(f"| {name[m]} | {cells} | {'never' if reach is None else f'{reach:.0f}'} |")
    gain = " | ".join(f"{a[0] - b[0]:+.2f}" for a, b in zip(s["psnr_01"]["strainer_10"], s["psnr_01"]["siren"]))
    lines.append(f"| {name['strainer_10']} − SIREN (dB) | {gain} | |")
    reach = s["steps_to_reach_siren_final"]["strainer_10"]
    when = "never within the fit" if reach is None else f"at step {reach:.0f}, {end / max(reach, 1):.1f}× sooner"
    lines += ["", "Claims: the paper, about +10 dB early and SIREN's final PSNR reached about 3× sooner; an "
              f"independent reproduction, 2–3 dB early and no final gap. Here {name['strainer_10']} reaches "
              f"SIREN's final PSNR {when}."]
    return "\n".join(lines)


def hardware(summary: dict) -> str:
    info = Path("/proc/cpuinfo")
    names = [line.split(":", 1)[1].strip() for line in (info.read_text().splitlines() if info.exists() else [])
             if line.startswith("model name")]
    cpu = names[0] if names else platform.processor() or "CPU"
    return f"{summary['device']}: {os.cpu_count()}-core {cpu}, jax {jax.__version__}"


def markdown(summary: dict) -> str:
    """Everything the README carries, from a run's summary.json (so the README can be checked against it).

    Loads are the ones recorded with the measurements (a resumed run re-renders old results)."""
    parts = [f"Command: `{summary['command']}`. Hardware: {summary['hardware']}."]
    if "neural_experts" in summary:
        loads = [r["load_at_timing"] for r in summary["neural_experts"].values() if r["load_at_timing"]]
        parts += [ne_markdown(summary["neural_experts"], summary["args"]),
                  f"The fits took {sum(r['wall_s'] for r in summary['neural_experts'].values()) / 60:.0f} min. "
                  "ms / step: steady state, compile excluded, on the first image trained (the difference of two "
                  "timed runs, so noisy under load); fit ms / step: a whole fit's wall time over its steps, median "
                  "over images. Load average (1, 5, 15 min) at each model's timing "
                  + ", ".join(str(x) for x in loads) + "."]
    if "strainer" in summary:
        s = summary["strainer"]
        parts.append(strainer_markdown(s) + f"\nThe STRAINER fits took {s['wall_s'] / 60:.0f} min; load average "
                     f"at their end {s['load_end']}.")
    return "\n\n".join(parts) + "\n"


# ----------------------------------------------------------------------------- command line

def parse(argv=None) -> argparse.Namespace:
    p = _Parser(prog="benchmarks/inr.py", description=__doc__.split("\n")[0])
    p.add_argument("--scale", default="small", help="preset: " + ", ".join(SCALES))
    p.add_argument("--kodak", default=str(ROOT / ".." / "shared" / "data" / "kodak"))
    p.add_argument("--images", type=int, help="Kodak images kodim01.. (paper: 24)")
    p.add_argument("--size", type=int, help="centre crop after ×4 downscale (paper: 128)")
    p.add_argument("--steps", type=int, help="paper: 30000")
    p.add_argument("--pretrain-steps", type=int, help="manager pretraining (paper: about 3000)")
    p.add_argument("--record-every", type=int)
    p.add_argument("--lr", type=float, default=1e-5)
    p.add_argument("--time-steps", type=int, help="steps per timing run (ms/step, compile excluded)")
    p.add_argument("--models", help="comma-separated subset of " + ",".join(ne.MODELS))
    p.add_argument("--strainer-domain", default="faces")
    p.add_argument("--strainer-test-domain", default=None)
    p.add_argument("--strainer-n-train", type=int)
    p.add_argument("--strainer-n-test", type=int)
    p.add_argument("--strainer-size", type=int)
    p.add_argument("--strainer-width", type=int)
    p.add_argument("--strainer-train-steps", type=int)
    p.add_argument("--strainer-test-steps", type=int)
    p.add_argument("--strainer-record-every", type=int)
    p.add_argument("--audio", help="folder of the paper's wav clips (e.g. ../shared/data/audio); off by default")
    p.add_argument("--audio-steps", type=int, default=30_000)
    p.add_argument("--skip-ne", action="store_true")
    p.add_argument("--skip-strainer", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="results folder (default runs/inr-SCALE, git-ignored)")
    p.add_argument("--json", help="also write the summary to this file")
    args = p.parse_args(argv)
    if args.scale not in SCALES:
        p.error(f"unknown --scale {args.scale!r}; choose one of {', '.join(SCALES)}")
    for name, value in SCALES[args.scale].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.models = [m for m in args.models.split(",") if m] if isinstance(args.models, str) else list(args.models)
    unknown = [m for m in args.models if m not in ne.MODELS]
    if unknown:
        p.error(f"unknown model {unknown[0]!r}; choose from {', '.join(ne.MODELS)}")
    for name in ("images", "size", "steps", "record_every", "time_steps", "strainer_n_train", "strainer_n_test",
                 "strainer_size", "strainer_width", "strainer_test_steps", "strainer_record_every"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    stage1 = int(round(0.8 * args.steps))
    if stage1 % args.record_every or (args.steps - stage1) % args.record_every:
        p.error(f"--steps {args.steps} splits into {stage1} + {args.steps - stage1} (last 20 % experts only); "
                f"both must be multiples of --record-every {args.record_every}")
    if args.strainer_test_steps % args.strainer_record_every:
        p.error(f"--strainer-test-steps {args.strainer_test_steps} must be a multiple of --strainer-record-every")
    if args.out is None:
        args.out = str(ROOT / "runs" / f"inr-{args.scale}")
    if Path(args.out).exists() and not Path(args.out).is_dir():
        p.error(f"--out {args.out} is a file; give a folder")
    return args


def main(argv=None) -> dict:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse(argv)
    print(f"device: {jax.devices()[0]}; scale {args.scale}; results in {args.out}", flush=True)
    summary = {"command": " ".join(["python benchmarks/inr.py", *argv]), "device": str(jax.devices()[0]),
               "load_start": _load(),  # paths stay out: the summary is committed as the README's source
               "args": {k: v for k, v in vars(args).items() if k not in ("kodak", "out", "json")}}
    summary["hardware"] = hardware(summary)
    try:
        if not args.skip_ne:
            summary["neural_experts"] = neural_experts(args)
        if args.audio:
            summary["audio"] = audio(args)
        if not args.skip_strainer:
            summary["strainer"] = strainer(args)
    except InputError as error:
        print(f"benchmarks/inr.py: error: {error}", file=sys.stderr)
        sys.exit(2)
    summary["load_end"] = _load()
    text = markdown(summary)
    print("\n" + text, flush=True)
    out = Path(args.out)
    (out / "tables.md").write_text(text)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    if "neural_experts" in summary and "neural_experts" in summary["neural_experts"]:
        ms = summary["neural_experts"]["neural_experts"]["ms_per_step"]
        print(f"Neural Experts step: {ms:.1f} ms here ({args.size}² pixels, {jax.devices()[0].platform}) vs "
              f"{NE_MS_PER_IT} ms in the paper (A5000, 128²)")
    return summary


if __name__ == "__main__":
    main()
