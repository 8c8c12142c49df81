"""Task metrics, computed in numpy on a whole split's predictions."""

from __future__ import annotations

import numpy as np


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose arg-max is the label."""
    return float(np.mean(np.argmax(logits, axis=-1) == labels))


def kendall_tau(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall's τ-b (ties corrected), the rank correlation the generalisation task reports.

    O(n²) over all pairs, which is plenty for test splits of a few thousand networks.
    """
    x, y = np.asarray(x, np.float64).ravel(), np.asarray(y, np.float64).ravel()
    if x.shape != y.shape or x.size < 2:
        raise ValueError(f"kendall_tau needs two equal-length vectors of at least 2 values, got {x.shape}, {y.shape}")
    i, j = np.triu_indices(x.size, k=1)
    dx, dy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
    concordance = float(np.sum(dx * dy))
    pairs_x, pairs_y = float(np.sum(dx != 0)), float(np.sum(dy != 0))
    if pairs_x == 0 or pairs_y == 0:
        return float("nan")
    return concordance / np.sqrt(pairs_x * pairs_y)


def pixel_mse(images: np.ndarray, targets: np.ndarray) -> float:
    """Mean squared pixel error (images in [0, 1])."""
    return float(np.mean((np.asarray(images, np.float64) - np.asarray(targets, np.float64)) ** 2))
