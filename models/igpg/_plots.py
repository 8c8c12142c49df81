"""IGPG figures: accuracy while fine-tuning, codebook usage, nearest-neighbour distances modulo symmetry."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_igpg(out: str | Path, curves: dict[str, list[float]], usage: np.ndarray, distances: dict[str, list[float]]) -> Path:
    """One figure with three panels; ``curves`` maps a start ("generated", "random", "zoo mean") to accuracy per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for name, acc in curves.items():
        axes[0].plot(range(len(acc)), acc, marker="o", label=name)
    axes[0].set(xlabel="fine-tuning epoch", ylabel="test accuracy", title="held-out task")
    axes[0].legend()
    axes[1].bar(np.arange(len(usage)), usage, width=1.0)
    axes[1].set(xlabel="code", ylabel="count", title=f"codebook usage ({int(np.sum(usage > 0))}/{len(usage)} used)")
    _memorisation_panel(axes[2], distances)
    return _save(fig, out)


def _memorisation_panel(ax, distances: dict[str, list[float]]) -> None:
    for name, d in distances.items():
        ax.hist(d, bins=20, alpha=0.6, label=name)
    ax.set(xlabel="distance to nearest training network (canonicalised, relative)", ylabel="networks",
           title="memorisation check")
    ax.legend(fontsize=8)


def _save(fig, out) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def plot_benchmark(out: str | Path, row: dict[str, list[float]], cases: list[str], epochs: tuple[int, ...]) -> Path:
    """The benchmark's full-model figure: accuracy against fine-tuning epoch per case (mean ± std
    over seeds, one line per start) and the memorisation histogram; ``row`` is its results table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(cases) + 1, figsize=(4.5 * (len(cases) + 1), 4))
    for ax, case in zip(axes, cases):
        starts = dict.fromkeys(name.split(" | ")[1] for name in row if name.startswith(f"{case} | "))
        for start in starts:
            acc = np.array([row[f"{case} | {start} | epoch {e}"] for e in epochs])
            ax.errorbar(epochs, acc.mean(1), yerr=acc.std(1), marker="o", capsize=3, label=start)
        ax.set(xlabel="fine-tuning epoch", ylabel="test accuracy", ylim=(0, 1))
        ax.set_title(case.replace("architecture ", "architecture\n"), fontsize=10)
        ax.legend(fontsize=8)
    _memorisation_panel(axes[-1], {name.split(" | ")[1]: d for name, d in row.items()
                                   if name.startswith("memorisation | ")})
    return _save(fig, out)
