"""Figures for a zoo: reconstructions beside originals, PSNR and test-accuracy histograms."""

from __future__ import annotations

import numpy as np

from models.zoo._sources import BUNDLED, ImageSource, SourceError, load_source
from models.zoo._storage import Zoo


def _figure(*args, **kwargs):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def zoo_source(zoo: Zoo, source: str | ImageSource | None = None) -> ImageSource:
    """The images an INR zoo was fitted to; refuses data whose fingerprint differs."""
    recorded = zoo.generator["source"]
    if source is None:
        if recorded["name"] not in BUNDLED:
            raise SourceError(f"zoo in {zoo.directory} was fitted to {recorded['name']!r}; pass that source")
        source = recorded["name"]
    if not isinstance(source, ImageSource):
        source = load_source(source)
    if source.fingerprint() != recorded["sha256"]:
        raise SourceError(f"source {source.name!r} is not the data the zoo in {zoo.directory} was fitted to")
    return source


def plot_reconstructions(zoo: Zoo, source: ImageSource, count: int = 8, ax_row=None):
    """Originals (top row) and the INRs' renderings (bottom row) of the first ``count`` networks."""
    from models.zoo._inr_zoo import reconstruct

    count = min(count, len(zoo))
    height, width, _ = source.shape
    images = source.images[zoo["source_index"][:count]]
    rendered = reconstruct(zoo, np.arange(count), height, width)
    if ax_row is None:
        figure, axes = _figure(2, count, figsize=(1.3 * count, 2.8), squeeze=False)
    else:
        figure, axes = ax_row[0][0].figure, ax_row
    for i in range(count):
        for row, picture in ((0, images[i]), (1, rendered[i])):
            axes[row][i].imshow(picture.squeeze(), cmap="gray" if picture.shape[-1] == 1 else None, vmin=0, vmax=1)
            axes[row][i].set_xticks([])
            axes[row][i].set_yticks([])
        axes[1][i].set_xlabel(f"{zoo['psnr'][i]:.1f} dB", fontsize=8)
    axes[0][0].set_ylabel("original")
    axes[1][0].set_ylabel("INR")
    return figure


def plot_histogram(values, label: str, ax=None):
    if ax is None:
        _, ax = _figure(figsize=(4, 3))
    ax.hist(np.asarray(values), bins=min(50, max(5, len(values) // 4)))
    ax.set_xlabel(label)
    ax.set_ylabel("networks")
    ax.set_title(f"mean {np.mean(values):.3g}, n = {len(values)}", fontsize=9)
    return ax.figure


def plot_psnr_histogram(zoo: Zoo, ax=None):
    return plot_histogram(zoo["psnr"], "PSNR (dB)", ax)


def plot_accuracy_histogram(zoo: Zoo, ax=None):
    return plot_histogram(zoo["test_accuracy"], "test accuracy", ax)


def plot_zoo(zoo: Zoo, source: str | ImageSource | None = None, count: int = 8):
    """INR zoo: reconstructions and the PSNR histogram; CNN or MLP zoo: the test-accuracy histogram."""
    if zoo.kind in ("cnn", "mlp"):
        return plot_accuracy_histogram(zoo)
    import matplotlib.pyplot as plt

    source = zoo_source(zoo, source)
    count = min(count, len(zoo))
    figure = plt.figure(figsize=(1.3 * count + 3.5, 2.8))
    grid = figure.add_gridspec(2, count + 3)
    axes = [[figure.add_subplot(grid[r, c]) for c in range(count)] for r in range(2)]
    plot_reconstructions(zoo, source, count, ax_row=axes)
    plot_psnr_histogram(zoo, figure.add_subplot(grid[:, count + 1 :]))
    return figure
