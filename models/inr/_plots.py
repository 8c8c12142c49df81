"""Figures for the INR commands and examples (matplotlib, Agg backend, saved as PNG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def psnr_curves(curves: dict, path, *, title: str, ylabel: str = "PSNR (dB)", bands: dict | None = None) -> Path:
    """One line per method: ``curves[name] = (steps, values)``; optional ±std ``bands[name]``."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, (steps, values) in curves.items():
        ax.plot(steps, values, label=name)
        if bands and name in bands:
            ax.fill_between(steps, values - bands[name], values + bands[name], alpha=0.2)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)



def _save(fig, path) -> Path:
    """Lay out, write (creating the folder) and close a figure."""
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    _plt().close(fig)
    return path

def _show(img):
    img = np.clip(np.asarray(img), 0.0, 1.0)
    return img[..., 0] if img.shape[-1] == 1 else img


def reconstructions(gt: np.ndarray, recs: dict, path, *, title: str = "") -> Path:
    """Ground truth next to each reconstruction (all ``[h, w, c]`` in [0, 1]), PSNR in the titles."""
    plt = _plt()
    n = 1 + len(recs)
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n, 2.9))
    axes = np.atleast_1d(axes)
    cmap = "gray" if gt.shape[-1] == 1 else None
    axes[0].imshow(_show(gt), cmap=cmap)
    axes[0].set_title("ground truth", fontsize=8)
    for ax, (name, img) in zip(axes[1:], recs.items()):
        mse = float(np.mean((np.asarray(img) - gt) ** 2))
        ax.imshow(_show(img), cmap=cmap)
        ax.set_title(f"{name}\n{-10 * np.log10(mse):.1f} dB [0,1]", fontsize=8)
    for ax in axes:
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def expert_map(assignment: np.ndarray, path, *, title: str = "manager's expert per pixel") -> Path:
    """The Neural Experts manager's argmax expert over the image, ``[h, w]`` ints."""
    plt = _plt()
    k = int(assignment.max()) + 1
    fig, ax = plt.subplots(figsize=(4, 4))
    im = ax.imshow(assignment, cmap=plt.get_cmap("tab10", max(k, 2)), vmin=-0.5, vmax=max(k, 2) - 0.5)
    fig.colorbar(im, ax=ax, ticks=range(k), fraction=0.046)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    return _save(fig, path)
