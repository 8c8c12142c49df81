"""PSNR in the two conventions the INR papers use. They differ by about 6.02 dB.

* ``psnr_pm1`` — Neural Experts: data in [-1, 1], peak = max(gt) (≈ 1):
  ``10·log10(max(gt)² / MSE)``.
* ``psnr_01`` — STRAINER and most of the literature: data in [0, 1], peak = 1:
  ``10·log10(1 / MSE)``.

The same reconstruction scores about 20·log10(2) ≈ 6.02 dB *higher* in ``psnr_01`` than
in ``psnr_pm1``, because mapping [0,1] → [-1,1] doubles the error and the peak stays ≈ 1.
Always say which one a number is in; ``pm1_to_01`` converts data to check.
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, Float

#: 20·log10(2): how much higher a [0,1]-convention PSNR reads than the [-1,1] one.
PM1_TO_01_DB = 20.0 * float(jnp.log10(2.0))


def _mse(pred: Array, gt: Array) -> Array:
    if pred.shape != gt.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from ground-truth shape {gt.shape}")
    return jnp.mean((pred - gt) ** 2)


def psnr_pm1(pred: Float[Array, "..."], gt: Float[Array, "..."]) -> Float[Array, ""]:
    """Neural Experts convention: [-1,1] data, peak max(gt). See the module docstring."""
    return 10.0 * jnp.log10(jnp.max(gt) ** 2 / _mse(pred, gt))


def psnr_01(pred: Float[Array, "..."], gt: Float[Array, "..."]) -> Float[Array, ""]:
    """STRAINER / standard convention: [0,1] data, peak 1. See the module docstring."""
    return -10.0 * jnp.log10(_mse(pred, gt))


def pm1_to_01(x: Array) -> Array:
    """Map [-1,1] data to [0,1] (for reporting a [-1,1] fit in the standard convention)."""
    return (x + 1.0) / 2.0
