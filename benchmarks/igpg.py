"""IGPG evaluation: generated networks on held-out tasks and architectures, against simple starts.

    .venv/bin/python benchmarks/igpg.py --scale tiny     # minutes: checks the whole pipeline runs
    .venv/bin/python benchmarks/igpg.py --scale small --ablation-seeds 1   # the CPU evaluation (about an hour on 2 cores)
    .venv/bin/python benchmarks/igpg.py --scale paper    # GPU size

Tasks are class subsets of scikit-learn's digits that keep the digit labels (``classes_only``):
each holds 6 of the 10 classes, and the held-out task is a subset never trained on, so a
generator must combine what it saw of its classes in other tasks. Zoos of CNNs and MLPs
(models.zoo, resumable under --out) are built once, as fixed-seed zoos (``SHARED_INIT``);
the three seeds vary the generator's training and sampling. The full model is a residual
generator (``RESIDUAL``): it tokenises each network's difference from its architecture's
mean over the training zoo, and its prior reads, besides the two prefixes, one dataset token
per class, each weight's coordinates, and at the output layer's row k class k's token
(``READS``). Each generator gives samples, their mean, and its expected-value network
(``GENERATED_EXPECTED``). The ablations drop the dataset embedding or the architecture
embedding; "raw weights" tokenises the weights themselves and reads each one's
initialisation instead (the previous full model); "canonicalised (symm)" tokenises
``symm.canonicalise`` representatives. Ablations that tokenise the same networks reuse the
full model's tokeniser of the same seed (same settings, key and data: the checkpoint is read
back). Tables, mean ± std over seeds: test accuracy after 0, 1 and 5 epochs of
fine-tuning from the generated network, a random initialisation, the zoo-mean network and
the best zoo network of another task, on a held-out task (first training architecture) and
on held-out architectures (a CNN and an MLP, never in the training set); the memorisation
check (relative distance to the nearest training network after ``symm.canonicalise``, with
the noisy-copy and ensemble-average baselines); tokeniser fidelity (accuracy of
reconstructed zoo networks minus the originals', per architecture); the ablations; and
training / generation times. The full model's curves and memorisation histogram go to
``OUT/SCALE/igpg.png``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import time
from pathlib import Path

import jax
import numpy as np

SCALES = {
    "tiny": dict(train_tasks=2, networks=3, baseline_tasks=1, zoo_steps=20, tok_steps=60, prior_steps=30, samples=2, tiny=True,
                 archs=("cnn conv3x3-2 gap dense-10 relu", "mlp dense-4 dense-10 tanh"),
                 held_archs=("mlp dense-6 dense-10 tanh",)),  # one held-out case: the test's cost is compiling
    "small": dict(train_tasks=16, networks=6, baseline_tasks=4, zoo_steps=300, tok_steps=3000, prior_steps=1500, d_model=128,
                  samples=4, tiny=False,
                  archs=("mlp dense-12 dense-10 tanh", "cnn conv3x3-8 conv3x3-8 gap dense-10 relu",
                         "mlp dense-8 dense-10 tanh"),
                  held_archs=("mlp dense-10 dense-10 tanh", "cnn conv3x3-6 conv3x3-8 gap dense-10 relu")),
    "paper": dict(train_tasks=32, networks=32, baseline_tasks=8, zoo_steps=1000, tok_steps=20000, prior_steps=20000, d_model=256,
                  samples=16,
                  tiny=False, archs=("cnn conv3x3-16 gap dense-10 relu", "cnn conv3x3-16 conv3x3-16 gap dense-10 relu",
                                     "cnn conv3x3-8 conv3x3-8 conv3x3-8 gap dense-10 relu", "mlp dense-32 dense-10 tanh"),
                  held_archs=("cnn conv3x3-16 conv3x3-16 conv3x3-16 gap dense-10 relu", "mlp dense-64 dense-10 tanh")),
}
EPOCHS = (0, 1, 5)
# The element-wise mean of the samples drawn for a task: an estimate of the generator's
# conditional mean network (averaging is meaningful on fixed-seed zoos), against the zoo
# mean, which averages over every training task.
GENERATED_MEAN = "generated, mean of samples"
# The conditioning check's two rows: a task's networks under its own conditioning and another task's.
OWN_NLL, OTHER_NLL = "prior NLL | own task's conditioning", "prior NLL | another task's conditioning"
# A fixed-seed zoo: every network of an architecture, on every task, starts from one
# initialisation. Measured at small scale, with a zoo of independent initialisations the
# generated networks were at chance (0.08 vs random 0.13, held-out task, seed 0): each
# network is then mostly its own initialisation noise, which a CPU-sized prior cannot model.
SHARED_INIT = True
# What the prior reads besides the two prefixes (PriorConfig): one dataset token per class,
# where each weight sits, and, at each weight of the output layer's row k, class k's token.
# Measured at small scale (seed 0, d_model 128, 1,500 steps; held-out task, epoch 0): raw
# weights with the initialisation's token (read_init) 0.22 a sample, 0.42 expected; the output
# rows reading their class 0.33 / 0.55, with the generated output layer on the zoo-mean hidden
# layer at 0.93 (the generated hidden layer was the weak part); a residual generator (below)
# 0.47 / 0.89.
READS = dict(dataset_per_class=True, weight_coordinates=True, dataset_at_output_rows=True)
# The full model tokenises each network's difference from its architecture's training mean
# (IgpgConfig(residual=True)): the prior models how a task's networks differ from the average,
# which it otherwise has to memorise weight by weight. A held-out architecture has no training
# mean: its differences are added to its initialisation.
RESIDUAL = True
# The samples drawn per case, and each generator's deterministic expected-value network.
GENERATED_EXPECTED = "generated, expected value"


def _configs(scale: dict):
    from models.igpg import PriorConfig, TokeniserConfig
    from models.igpg._pipeline import IgpgConfig

    if scale["tiny"]:
        tok = TokeniserConfig(chunk_size=16, tokens_per_chunk=16, codebook_size=32, code_dim=1, hidden=32,
                              per_weight=True, steps=scale["tok_steps"], batch_size=128, lr=3e-3)
        prior = PriorConfig(d_model=32, heads=2, layers=1, context=32, max_positions=1024,
                            steps=scale["prior_steps"], batch_size=8, lr=3e-3, **READS)
    else:
        tok = TokeniserConfig(steps=scale["tok_steps"], lr=2e-3, per_weight=True)
        prior = PriorConfig(d_model=scale["d_model"], heads=4, layers=4, context=128, max_positions=8192,
                            steps=scale["prior_steps"], lr=1e-3, **READS)
    full = IgpgConfig(tok, prior, canonicalise=False, residual=RESIDUAL)
    return {
        "IGPG": full,
        "no dataset embedding": dataclasses.replace(full, prior=dataclasses.replace(prior, use_dataset=False)),
        "no architecture embedding": dataclasses.replace(full, prior=dataclasses.replace(prior, use_architecture=False)),
        # The previous full model: raw weights, each position reading its initialisation's token.
        "raw weights (reads the initialisation)": dataclasses.replace(
            full, residual=False, prior=dataclasses.replace(prior, read_init=True)),
        "canonicalised (symm)": dataclasses.replace(full, canonicalise=True),
    }


def _run_dir(out: Path, variant: str, seed: int) -> Path:
    return out / "runs" / variant.replace(" ", "_").replace("(", "").replace(")", "") / f"seed-{seed}"


def _conditioning_nll(generator, task_entries, config) -> np.ndarray:
    """``[i, j]``: the prior's NLL per token of task ``i``'s networks under task ``j``'s conditioning."""
    from models.igpg import sequence_nll
    from models.igpg._pipeline import entry_conditioning, prepare_params

    dtype = np.float64 if jax.config.x64_enabled else np.float32
    tokens = [generator.encode_batch(e.architecture, e.space, prepare_params(e, config.canonicalise, dtype))
              for e in task_entries]
    conds = [entry_conditioning(e, generator.tokeniser, config) for e in task_entries]
    return np.array([[sequence_nll(generator.prior, t, c) for c in conds] for t in tokens])


def _fmt(values) -> str:
    values = np.asarray(values, float)
    return f"{values.mean():.3f} ± {values.std():.3f}"


def readme_tables(results: dict, cases: list[str], full_variant: str) -> str:
    """The README's tables: per case, start x epoch for the full model; then one row per variant."""
    full = results[full_variant]
    lines = []
    for case in cases:
        starts = dict.fromkeys(name.split(" | ")[1] for name in full if name.startswith(f"{case} | "))
        lines += [f"{case}, test accuracy after fine-tuning epochs {' / '.join(map(str, EPOCHS))} "
                  f"({full_variant}, {len(full['prior_s'])} seeds):", "",
                  "| start | " + " | ".join(f"epoch {e}" for e in EPOCHS) + " |", "|---" * (len(EPOCHS) + 1) + "|"]
        lines += [f"| {start} | " + " | ".join(_fmt(full[f"{case} | {start} | epoch {e}"]) for e in EPOCHS) + " |"
                  for start in starts]
        lines.append("")
    case = cases[0]
    fidelity = [name for name in full if name.startswith("tokeniser fidelity | ")]
    lines += [f"Variants ({case}, generated networks and the mean of each seed's samples; memorisation = relative "
              "distance to the nearest training network, canonicalised):", "",
              "| variant | seeds | prior loss | generated, epoch 0 / 1 / 5 | mean of samples, epoch 0 / 1 "
              "| expected value, epoch 0 / 1 | memorisation | own / other task's NLL "
              "| tokeniser fidelity (accuracy gap per training arch) | tokeniser s | prior s | generate s/net |",
              "|---" * 12 + "|"]
    for variant, row in results.items():
        gen = " / ".join(f"{np.mean(row[f'{case} | generated | epoch {e}']):.3f}" for e in EPOCHS)
        mean, expected = (" / ".join(f"{np.mean(row[f'{case} | {start} | epoch {e}']):.3f}" for e in EPOCHS[:2])
                          if f"{case} | {start} | epoch 0" in row else "-" for start in (GENERATED_MEAN, GENERATED_EXPECTED))
        nll = f"{np.mean(row[OWN_NLL]):.3f} / {np.mean(row[OTHER_NLL]):.3f}"
        fid = " / ".join(f"{np.mean(row[name]):+.3f}" for name in fidelity)
        loss = _fmt(row["prior_loss"]) if "prior_loss" in row else "-"
        lines.append(f"| {variant} | {len(row['prior_s'])} | {loss} | {gen} (± {np.std(row[f'{case} | generated | epoch 0']):.3f}) "
                     f"| {mean} | {expected} | {_fmt(row['memorisation | generated'])} | {nll} | {fid} | {np.mean(row['tokeniser_s']):.0f} "
                     f"| {np.mean(row['prior_s']):.0f} | {np.mean(row['generate_s']):.1f} |")
    if "memorisation | training net + noise" in full:
        lines += ["", f"Memorisation baselines ({full_variant}): training network + 10% noise "
                  f"{_fmt(full['memorisation | training net + noise'])}, ensemble average "
                  f"{_fmt(full['memorisation | ensemble average'])}."]
    return "\n".join(lines)


def main(scale_name: str = "tiny", out: str | Path = "runs/igpg-bench", seeds: int = 3, progress: bool = True,
         variants: tuple[str, ...] | None = None, ablation_seeds: int | None = None) -> dict:
    """Every variant of ``_configs`` (or only ``variants``) x ``seeds`` (the ablations x
    ``ablation_seeds``, default ``seeds``); returns and prints the tables."""
    from models.igpg import Architecture
    from models.igpg._evaluate import nearest_distance, noisy_copy, zoo_mean
    from models.igpg._pipeline import accuracy, build_zoo_entries, finetune, prepare_params, train_igpg
    from models.igpg._tasks import subset_tasks
    from models.train._checkpoint import atomic_write_text
    from models.zoo import load_source

    scale = SCALES[scale_name]
    out = Path(out) / scale_name
    source = load_source("digits")
    tasks = subset_tasks(source, scale["train_tasks"] + 1, size=6)
    train_tasks, held_task = tasks[:-1], tasks[-1]
    zoo = lambda task, arch: build_zoo_entries(task, arch, out / "zoos" / f"{task.name}__{arch.replace(' ', '_')}",
                                               n=scale["networks"], steps=(scale["zoo_steps"],) * 2,
                                               shared_init=SHARED_INIT, progress=progress)
    t = time.perf_counter()
    entries = {(task.name, arch): zoo(task, arch)[0] for task in train_tasks for arch in scale["archs"]}
    # The held-out architectures' zoos serve only the zoo-mean and best-other-task baselines,
    # so they are trained on the first few tasks only.
    held_arch_entries = {arch: [zoo(task, arch)[0] for task in train_tasks[: scale["baseline_tasks"]]]
                         for arch in scale["held_archs"]}
    zoo_seconds = time.perf_counter() - t
    arch0 = scale["archs"][0]
    cases = {"held-out task": (held_task, arch0, [entries[(tk.name, arch0)] for tk in train_tasks]),
             **{f"held-out architecture {arch}": (held_task, arch, held) for arch, held in held_arch_entries.items()}}
    results: dict = {}
    configs = _configs(scale)
    full_variant = next(iter(configs))
    full = configs[full_variant]
    unknown = sorted(set(variants or ()) - set(configs))
    if unknown:
        raise ValueError(f"unknown variant {unknown[0]!r}: use some of {', '.join(configs)}")
    for variant, config in configs.items():
        if variants is not None and variant not in variants:
            continue
        for seed in range(seeds if variant == full_variant or ablation_seeds is None else ablation_seeds):
            # Each (variant, seed) is kept once evaluated, and its fits checkpoint as they go: a
            # stopped benchmark resumes where it was, with the training times of the first run.
            run_dir = _run_dir(out, variant, seed)
            done = run_dir / "evaluation.json"
            if done.exists():
                row = json.loads(done.read_text())
            else:
                shared = _run_dir(out, full_variant, seed) / "checkpoints" / "tokeniser.eqx"
                mine = run_dir / "checkpoints" / "tokeniser.eqx"
                # Everything but the prior equal: the same networks, tokenised the same way.
                same_tokens = dataclasses.replace(config, prior=full.prior) == full
                if variant != full_variant and same_tokens and shared.exists() and not mine.exists():
                    mine.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(shared, mine)
                generator, info = train_igpg(list(entries.values()), config, key=jax.random.key(seed), progress=progress,
                                             checkpoint_dir=run_dir / "checkpoints")
                row = {"tokeniser_s": [], "prior_s": [], "generate_s": []}
                row["tokeniser_s"].append(info["tokeniser_seconds"])
                row["prior_s"].append(info["prior_seconds"])
                row.setdefault("prior_loss", []).append(float(np.mean(info["prior_history"]["loss"][-100:])))
                row.setdefault("codes_used", []).append(int((info["codebook_usage"] > 0).sum()))
                # Does the prior read the dataset prefix? Networks of a few training tasks, under their
                # own task's conditioning and under each other one's (equal: the prefix is ignored).
                nll = _conditioning_nll(generator, [entries[(tk.name, arch0)] for tk in train_tasks[:4]], config)
                row.setdefault(OWN_NLL, []).append(float(np.mean(np.diag(nll))))
                row.setdefault(OTHER_NLL, []).append(
                    float(np.mean(nll[~np.eye(len(nll), dtype=bool)])))
                for case, (task, arch, ref_entries) in cases.items():
                    images, labels = task.conditioning_images()
                    x, y = task.arrays("test")
                    # A residual generator adds its output to the architecture's training mean, which a
                    # held-out architecture does not have: there, to its initialisation.
                    start_from = dict(init=ref_entries[0].init)
                    if config.residual and str(Architecture.parse(arch)) not in generator.bases:
                        start_from["base"] = ref_entries[0].init
                    t = time.perf_counter()
                    gen = [generator.generate(arch, images, labels, key=k, top_k=16, n_classes=task.n_classes,
                                              **start_from)[1]
                           for k in jax.random.split(jax.random.key(100 + seed), scale["samples"])]
                    row["generate_s"].append((time.perf_counter() - t) / scale["samples"])
                    expected = generator.generate(arch, images, labels, key=jax.random.key(0), n_classes=task.n_classes,
                                                  decoding="expected", **start_from)[1]
                    space = ref_entries[0].space
                    f32 = lambda p: jax.tree.map(lambda a: np.asarray(a, np.float32), p)
                    gen = [f32(p) for p in gen]
                    ref = jax.tree.map(lambda *a: np.concatenate(a), *[prepare_params(e, False, np.float32) for e in ref_entries])
                    starts = {"generated": gen, GENERATED_MEAN: [zoo_mean(jax.tree.map(lambda *a: np.stack(a), *gen))],
                              GENERATED_EXPECTED: [f32(expected)],
                              "random": [space.init(k, dtype=np.float32) for k in
                                                           jax.random.split(jax.random.key(200 + seed), scale["samples"])]}
                    if variant == full_variant:
                        starts["zoo mean"] = [zoo_mean(ref)]
                        best = []
                        for e in ref_entries:
                            accs = [accuracy(space, jax.tree.map(lambda a: a[i], e.params), *e.task.arrays("test"))
                                    for i in range(len(e))]
                            best.append((max(accs), jax.tree.map(lambda a: a[int(np.argmax(accs))], e.params)))
                        starts["best of another task"] = [max(best, key=lambda b: b[0])[1]]
                    for name, nets in starts.items():
                        for i, p in enumerate(nets):
                            curve = finetune(space, p, task, epochs=max(EPOCHS), key=jax.random.key(300 + i))
                            for ep in EPOCHS:
                                row.setdefault(f"{case} | {name} | epoch {ep}", []).append(accuracy(space, curve[ep], x, y))
                    if case == "held-out task":
                        train_ref = jax.tree.map(lambda *a: np.concatenate(a),
                                                 *[prepare_params(entries[(tk.name, arch)], False, np.float32) for tk in train_tasks])
                        row.setdefault("memorisation | generated", []).extend(nearest_distance(space, p, train_ref) for p in gen)
                        if variant == full_variant:
                            n = len(train_ref[0][0])
                            row.setdefault("memorisation | training net + noise", []).extend(
                                nearest_distance(space, noisy_copy(jax.tree.map(lambda a: a[i % n], train_ref), k), train_ref)
                                for i, k in enumerate(jax.random.split(jax.random.key(400 + seed), scale["samples"])))
                            row.setdefault("memorisation | ensemble average", []).append(
                                nearest_distance(space, zoo_mean(train_ref), train_ref))
                # Tokeniser fidelity: reconstructed zoo networks of every training architecture against the originals.
                for arch in scale["archs"]:
                    e = entries[(train_tasks[0].name, arch)]
                    params = prepare_params(e, config.canonicalise, np.float64 if jax.config.x64_enabled else np.float32)
                    gaps = []
                    for i in range(min(len(e), 4)):
                        p = jax.tree.map(lambda a: a[i], params)
                        r = generator.reconstruct(arch, e.space, p)
                        gaps.append(accuracy(e.space, r, *e.task.arrays("test")) - accuracy(e.space, p, *e.task.arrays("test")))
                    row.setdefault(f"tokeniser fidelity | {arch} | accuracy gap", []).append(float(np.mean(gaps)))
                row = {name: [float(v) for v in values] for name, values in row.items()}
                atomic_write_text(done, json.dumps(row, indent=1) + "\n")
            for name, values in row.items():
                results.setdefault(variant, {}).setdefault(name, []).extend(values)
    from models.igpg._plots import plot_benchmark

    print(f"# IGPG benchmark, scale {scale_name}, {seeds} seeds (ablations: {ablation_seeds or seeds}); "
          f"zoos built in {zoo_seconds:.0f} s")
    for variant, row in results.items():
        print(f"\n## {variant}\n\n| measure | mean ± std |\n|---|---|")
        for name, values in row.items():
            print(f"| {name} | {_fmt(values)} |")
    if full_variant in results:
        figure = plot_benchmark(out / "igpg.png", results[full_variant], list(cases), EPOCHS)
        print(f"\nfigure: {figure}")
        print(f"\n# README tables\n\n{readme_tables(results, list(cases), full_variant)}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="IGPG evaluation")
    parser.add_argument("--scale", choices=tuple(SCALES), default="small")
    parser.add_argument("--out", default="runs/igpg-bench")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--ablation-seeds", type=int, default=None, help="seeds of each ablation (default: --seeds)")
    args = parser.parse_args()
    main(args.scale, args.out, args.seeds, ablation_seeds=args.ablation_seeds)
