"""``symm results``: the markdown table of finished runs, mean ± std over seeds."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

LABELS = {"accuracy": "accuracy", "kendall_tau": "Kendall τ", "pixel_mse": "pixel MSE"}


class ResultsError(ValueError):
    pass


def read_results(paths) -> list[dict]:
    """Every ``result.json`` at or below each path."""
    records = []
    for path in map(Path, paths):
        if not path.exists():
            raise ResultsError(f"{path}: no such run folder")
        found = [path] if path.is_file() else sorted(path.rglob("result.json"))
        if not found:
            raise ResultsError(f"{path}: no finished run here (no result.json); train it with `symm train`")
        records += [json.loads(p.read_text()) for p in found]
    seen = {}
    for r in records:  # one row averages seeds: two runs of one seed would be averaged as two seeds
        key = (r["task"], r["zoo_label"], r["model"], r["seed"])
        if key in seen:
            raise ResultsError(f"{seen[key]} and {r['run_dir']} are both seed {r['seed']} of {r['model']} on "
                               f"{r['task']} ({r['zoo_label']}); pass the folders of one configuration only "
                               "(for benchmarks/tasks.py: one lr-<rate> folder per model)")
        seen[key] = r["run_dir"]
    return records


def _cell(values, digits: int) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    v = np.asarray(values, np.float64)
    return f"{v.mean():.{digits}f} ± {v.std():.{digits}f}"


def results_table(records: list[dict]) -> str:
    """Rows per (task, zoo, model): test score at the best validation epoch, and on the moved test sets."""
    groups = defaultdict(list)
    for r in records:
        groups[(r["task"], r["zoo_label"], r["model"])].append(r)
    lines = [
        "| task | zoo | model | seeds | test | moved by derived group | moved by larger group (control) |",
        "|---|---|---|---|---|---|---|",
    ]
    for (task, zoo, model), rs in groups.items():
        metric = LABELS[rs[0]["metric"]]
        digits = 4 if rs[0]["metric"] == "pixel_mse" else 3
        lines.append(
            f"| {task} ({metric}) | {zoo} | {model} | {len(rs)} | {_cell([r['test'] for r in rs], digits)} | "
            f"{_cell([r['stress']['derived'] for r in rs], digits)} | "
            f"{_cell([r['stress']['larger'] for r in rs], digits)} |"
        )
    return "\n".join(lines)


__all__ = ["ResultsError", "read_results", "results_table"]
