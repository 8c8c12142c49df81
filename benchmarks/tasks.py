"""The three ScaleGMN tasks, every model, 3 seeds: builds its zoos, trains, prints the table, plots.

    .venv/bin/python benchmarks/tasks.py --scale small --out out/tasks
    .venv/bin/python benchmarks/tasks.py --scale small --tasks classify --compare-canonical

Only the zoos that the chosen tasks need are built. ``--canonicalise`` trains every model
on canonicalised networks (``load_task(canonicalise=True)``); ``--compare-canonical`` runs
each task both ways and prints a with / without table. Every method gets the same metanetwork size, data, epochs and loop (``models.train.fit``);
the test score is taken at the best validation epoch. Runs resume: a second call
reuses the zoos and finished seeds in ``--out``. ``--scale paper`` is the paper's
metanetwork size on the largest bundled zoo, for a GPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import time
from pathlib import Path

import jax
import numpy as np

from models.train import (
    AUGMENTED, MIXED, MODELS, TASKS, ZOO_KIND, FitConfig, ModelSize, load_predictions, load_task, results_table, train_task,
)
from models.zoo import CnnZooConfig, InrZooConfig, build_cnn_zoo, build_inr_zoo, load_source


@dataclasses.dataclass(frozen=True)
class Scale:
    source: str
    inr: InrZooConfig
    cnn: CnnZooConfig
    size: ModelSize
    epochs: int
    edit_epochs: int
    edit_limit: int | None  # INRs per split for editing (rendering every edit costs the most)
    batch: int = 32


SCALES = {
    "tiny": Scale("digits", InrZooConfig(hidden=(8, 8), steps=50, limit=160, shared_init=True, shard_size=160),
                  CnnZooConfig(n=160, channels=(4, 4, 4), steps=(20, 200), checkpoints=2, shard_size=160),
                  ModelSize(8, 1), epochs=3, edit_epochs=2, edit_limit=32, batch=8),
    "small": Scale("digits", InrZooConfig(hidden=(16, 16), steps=200, shared_init=True, shard_size=1797),
                   CnnZooConfig(n=256, channels=(8, 8, 8), steps=(50, 400), checkpoints=2, shard_size=256),
                   ModelSize(32, 2), epochs=30, edit_epochs=50, edit_limit=128),
    "paper": Scale("mnist5k", InrZooConfig(shared_init=True, shard_size=1024),
                   CnnZooConfig(n=2000, shard_size=500), ModelSize(128, 4), epochs=100, edit_epochs=50, edit_limit=None,
                   batch=64),
}
LR = (1e-3, 3e-3)  # chosen per model and task on the validation split (seed 0)


def build_zoos(scale: Scale, out: Path, tasks=TASKS) -> dict[str, Path]:
    """The zoos that ``tasks`` read (``ZOO_KIND``), built or reused in ``out``."""
    kinds = {ZOO_KIND[task] for task in tasks}
    source = load_source(scale.source)
    builders = {"inr": (build_inr_zoo, scale.inr), "cnn": (build_cnn_zoo, scale.cnn)}
    for kind in sorted(kinds):
        build, config = builders[kind]
        build(source, out / f"zoo-{kind}", config)
    return {kind: out / f"zoo-{kind}" for kind in sorted(kinds)}


def choose_lr(task, data, model, scale, config, out: Path, zoo) -> float:
    """The learning rate with the best validation score of seed 0 (test never looked at).

    Seed 0 of each rate trains in ``out/lr-<rate>``, where the final seeds of the chosen
    rate then join it (seed 0 resumes as finished)."""
    best = None
    for lr in LR:
        record = train_task(task, zoo, model, out / f"lr-{lr:g}", seeds=1, size=scale.size,
                            config=dataclasses.replace(config, lr=lr), data=data)[0]
        if best is None or data.better(record["val"], best[1]):
            best = (lr, record["val"])
    return best[0]


def run(scale_name: str, out: Path, models=MODELS, tasks=("classify", "generalisation", "edit"), seeds: int = 3,
        tune: bool = True, canonical=(False,)) -> list[dict]:
    """Every task x model x canonicalisation in ``canonical`` (``(False,)``, ``(True,)`` or both)."""
    scale = SCALES[scale_name]
    start = time.perf_counter()
    zoos = build_zoos(scale, out, tasks)
    print(f"zoos ready in {time.perf_counter() - start:.0f} s", flush=True)
    records = []
    for task in tasks:
        if task == "generalisation":
            subsets = scale.cnn.activations + ((MIXED,) if len(scale.cnn.activations) > 1 else ())
        else:
            subsets = (None,)
        for subset, canonicalise in itertools.product(subsets, canonical):
            if canonicalise and subset == MIXED:
                print(f"{task:<14} {subset}: skipped with canonicalisation (no single group to canonicalise by)")
                continue
            zoo = zoos[ZOO_KIND[task]]
            data = load_task(task, zoo, subset=subset, limit=scale.edit_limit if task == "edit" else None,
                             canonicalise=canonicalise)
            epochs = scale.edit_epochs if task == "edit" else scale.epochs
            config = FitConfig(epochs=epochs, batch_size=scale.batch)
            for model in models:
                if canonicalise and model in AUGMENTED:
                    print(f"{task:<14} {model}: skipped with canonicalisation (its augmentation undoes it)")
                    continue
                name = f"{task}{'-' + subset if subset else ''}{'-canonical' if canonicalise else ''}"
                where = out / "runs" / name / model
                t = time.perf_counter()
                lr = choose_lr(task, data, model, scale, config, where, zoo) if tune else config.lr
                records += train_task(task, zoo, model, where / f"lr-{lr:g}", seeds=seeds, size=scale.size,
                                      config=dataclasses.replace(config, lr=lr), data=data, progress=False)
                jax.clear_caches()  # a long run compiles dozens of models; XLA CPU keeps each one mapped
                last = records[-seeds:]
                print(f"{task:<14} {subset or '':<5} {'canonical' if canonicalise else 'raw':<9} {model:<15} "
                      f"lr {lr:g}  test {np.mean([r['test'] for r in last]):.4f} ± "
                      f"{np.std([r['test'] for r in last]):.4f}  ({time.perf_counter() - t:.0f} s, "
                      f"load {os.getloadavg()[0]:.1f})", flush=True)
    print(f"\ntotal {time.perf_counter() - start:.0f} s\n")
    return records


def canonical_table(records: list[dict]) -> str:
    """Test score per task and model, trained on raw zoo networks and on canonicalised ones."""
    cells = {}
    for r in records:
        key = (r["task"], r["metric"], r["model"])
        cells.setdefault(key, {False: [], True: []})[bool(r.get("canonicalise", False))].append(r["test"])
    lines = ["| task | model | seeds | without canonicalisation | with canonicalisation |", "|---|---|---|---|---|"]

    def cell(values):
        return f"{np.mean(values):.3f} ± {np.std(values):.3f}" if values else "–"

    for (task, metric, model), both in cells.items():
        seeds = "/".join(str(len(both[c])) for c in (False, True))
        lines.append(f"| {task} ({metric}) | {model} | {seeds} | {cell(both[False])} | {cell(both[True])} |")
    return "\n".join(lines)


def _pick(records: list[dict], task: str, prefer=("scalegmn", "scalegmn-bidir", "gmn")) -> list[dict]:
    """Seed-0 records of ``task`` for the first model of ``prefer`` that ran, one per zoo."""
    seed0 = [r for r in records if r["task"] == task and r["seed"] == 0 and not r.get("canonicalise")]
    for model in prefer + tuple(r["model"] for r in seed0):
        chosen = [r for r in seed0 if r["model"] == model]
        if chosen:
            return chosen
    return []


def plot(out: Path, records: list[dict]) -> list[Path]:
    """Learning curves; for the first graph model that ran: the confusion matrix (classify),
    predicted against true accuracy (generalisation) and original / target / edited images (edit)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []

    def save(fig, name):
        fig.tight_layout()
        paths.append(out / name)
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)

    tasks = sorted({(r["task"], r["zoo_label"]) for r in records})
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 3.6), squeeze=False)
    for ax, (task, label) in zip(axes[0], tasks):
        for r in records:
            if (r["task"], r["zoo_label"]) == (task, label) and r["seed"] == 0:
                run_dir = Path(r["run_dir"])
                history = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
                ax.plot([h["val"] for h in history], label=r["model"])
                metric = r["metric"]
        ax.set(title=f"{task}: {label}", xlabel="epoch", ylabel=f"validation {metric}")
        ax.legend(fontsize=7)
    save(fig, "learning_curves.png")

    for r in _pick(records, "classify")[:1]:
        p = load_predictions(r["run_dir"])
        n = p["outputs"].shape[-1]
        counts = np.zeros((n, n), int)
        np.add.at(counts, (p["targets"], p["outputs"].argmax(-1)), 1)
        fig, ax = plt.subplots(figsize=(4.6, 4))
        im = ax.imshow(counts, cmap="Blues")
        ax.set(title=f"{r['model']}: test accuracy {r['test']:.3f}", xlabel="predicted digit", ylabel="true digit",
               xticks=range(n), yticks=range(n))
        fig.colorbar(im, ax=ax, shrink=0.8)
        save(fig, "confusion_matrix.png")

    chosen = _pick(records, "generalisation")
    if chosen:
        fig, axes = plt.subplots(1, len(chosen), figsize=(4.2 * len(chosen), 4), squeeze=False)
        for ax, r in zip(axes[0], chosen):
            p = load_predictions(r["run_dir"])
            names = r.get("members") or [None]
            member = p.get("members", np.zeros(len(p["targets"]), int))
            for i, name in enumerate(names):
                ax.scatter(p["targets"][member == i], p["outputs"][member == i, 0], s=8, alpha=0.6, label=name)
            if len(names) > 1:
                ax.legend(fontsize=7)
            lo, hi = float(p["targets"].min()), float(p["targets"].max())
            ax.plot([lo, hi], [lo, hi], color="grey", ls=":")
            ax.set(title=f"{r['zoo_label']}, {r['model']}: τ = {r['test']:.3f}", xlabel="true test accuracy",
                   ylabel="predicted")
        save(fig, "generalisation_scatter.png")

    for r in _pick(records, "edit")[:1]:
        p = load_predictions(r["run_dir"])
        shape = tuple(int(v) for v in p["image_shape"])
        k = min(6, len(p["targets"]))
        fig, axes = plt.subplots(3, k, figsize=(1.5 * k, 4.8), squeeze=False)
        for row, (name, images) in enumerate((("original", p["originals"]), ("target (dilated)", p["targets"]),
                                               ("edited", p["outputs"]))):
            for i in range(k):
                image = np.clip(images[i].reshape(shape), 0, 1)
                axes[row, i].imshow(image[..., 0] if shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=1)
                axes[row, i].set_xticks([]), axes[row, i].set_yticks([])
            axes[row, 0].set_ylabel(name, fontsize=8)
        fig.suptitle(f"editing, {r['model']}: test pixel MSE {r['test']:.4f}", fontsize=9)
        save(fig, "edited_images.png")
    return paths


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=tuple(SCALES), default="small")
    parser.add_argument("--out", default=None)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--tasks", default="classify,generalisation,edit")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--no-tune", action="store_true", help=f"skip the validation choice of lr among {LR}")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--canonicalise", action="store_true",
                       help="train on canonicalised zoo networks (symm.canonicalise_batch) instead of raw ones")
    which.add_argument("--compare-canonical", action="store_true",
                       help="train each task both on raw and on canonicalised networks; print both side by side")
    args = parser.parse_args(argv)
    tasks = tuple(args.tasks.split(","))
    unknown = [t for t in tasks if t not in TASKS] + [m for m in args.models.split(",") if m not in MODELS]
    if unknown:
        parser.error(f"unknown task or model {unknown[0]!r}: tasks {', '.join(TASKS)}; models {', '.join(MODELS)}")
    canonical = (False, True) if args.compare_canonical else ((True,) if args.canonicalise else (False,))
    out = Path(args.out or f"out/tasks-{args.scale}")
    out.mkdir(parents=True, exist_ok=True)
    records = run(args.scale, out, tuple(args.models.split(",")), tasks, args.seeds, not args.no_tune, canonical)
    table = results_table(records)
    if args.compare_canonical:
        table += "\n\n" + canonical_table(records)
    print(table)
    (out / "results.md").write_text(table + "\n")
    for path in plot(out, records):
        print(f"figure: {path}")


if __name__ == "__main__":
    main()
