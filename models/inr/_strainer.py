"""STRAINER (Vyas et al., NeurIPS 2024): transferable SIREN encoders.

A SIREN's first layers are shared by N images, each with its own linear head, and trained
jointly; the shared layers then initialise the fit of a new image (all parameters train,
the head starts fresh). The test-time model is an ordinary SIREN with the same parameter
count (264,707 for width 256, 6 layers, RGB), so any gain comes from the initialisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, PRNGKeyArray

from models.inr._fit import Trajectory, fit, mse_loss
from models.inr._layers import INR, Linear, Sine, siren
from models.inr._psnr import psnr_01


class Strainer(eqx.Module):
    """Shared sine encoder and one linear head per training image. ``__call__`` takes ONE
    coordinate and returns every head's output, ``[n_images, out_dim]``."""

    encoder: INR
    heads: Linear  # stacked: leading image axis

    def __init__(self, in_dim: int = 2, out_dim: int = 3, n_images: int = 10, *, width: int = 256,
                 shared_layers: int = 5, key: PRNGKeyArray, omega0: float = 30.0, bias_init: str = "uniform"):
        if n_images < 1 or shared_layers < 1 or width < 1:
            raise ValueError(f"n_images, shared_layers and width must be >= 1; got {n_images}, {shared_layers}, {width}")
        k_enc, k_heads = jax.random.split(key)
        sizes = (in_dim,) + (width,) * shared_layers
        keys = jax.random.split(k_enc, shared_layers)
        self.encoder = INR(tuple(Sine(a, b, key=k, first=i == 0, omega0=omega0, bias_init=bias_init)
                                 for i, (a, b, k) in enumerate(zip(sizes[:-1], sizes[1:], keys))))
        heads = [Linear(width, out_dim, key=k, omega0=omega0, bias_init=bias_init)
                 for k in jax.random.split(k_heads, n_images)]
        self.heads = jax.tree.map(lambda *a: jnp.stack(a), *heads)

    def __call__(self, x: Float[Array, " d"]) -> Float[Array, "n c"]:
        h = self.encoder(x)
        return jax.vmap(lambda W, b: W @ h + b)(self.heads.weight, self.heads.bias)


def train_strainer(model: Strainer, coords: Float[Array, "p d"], targets: Float[Array, "n p c"], *,
                   steps: int = 5000, learning_rate: float = 1e-4, record_every: int = 100,
                   checkpoint=None, progress: bool = True,
                   desc: str = "STRAINER encoder") -> tuple[Strainer, Trajectory]:
    """Joint full-batch fit of the shared encoder and all heads (Adam, constant lr).

    The metric is the [0,1]-convention PSNR of the pooled error over all images."""
    n = model.heads.weight.shape[0]
    if targets.ndim != 3 or targets.shape[0] != n:
        raise ValueError(f"targets must be [n_images={n}, points, channels], got shape {targets.shape}")
    # points first, as fit expects: the model maps one point to [n_images, c], so the plain
    # MSE over [points, n_images, c] is the mean over heads of each image's MSE (the demo's loss)
    out = fit(model, coords, jnp.swapaxes(targets, 0, 1), optimizer=optax.adam(learning_rate), steps=steps,
              record_every=record_every, loss=mse_loss, metric=psnr_01, checkpoint=checkpoint, progress=progress,
              desc=desc)
    return out.model, out.trajectory


def transfer(strainer: Strainer, *, key: PRNGKeyArray, out_dim: int | None = None) -> INR:
    """A fresh SIREN whose first layers are an exact copy of the shared encoder (``eqx.tree_at``)
    and whose linear head is newly initialised. Fit it like any SIREN."""
    enc = strainer.encoder.layers
    width = enc[-1].weight.shape[0]
    out_dim = strainer.heads.weight.shape[1] if out_dim is None else out_dim
    sizes = (enc[0].weight.shape[1],) + (width,) * len(enc) + (out_dim,)
    fresh = siren(sizes, key=key, omega0=enc[0].omega0, bias_init="uniform")
    return eqx.tree_at(lambda m: m.layers[:-1], fresh, tuple(enc))


# ----------------------------------------------------------------------------- protocol

MILESTONES = (0, 10, 50, 100, 200, 500, 1000, 2000)
METHODS = ("siren", "siren_finetuned", "strainer_1", "strainer_10")


@dataclass
class TransferResult:
    """PSNR ([0,1] convention) of every method on every test image along the test-time fit."""

    steps: np.ndarray  # [T]
    psnr: dict  # method -> [n_test, T]

    def at(self, method: str, step: int) -> tuple[float, float]:
        """Mean and std over test images of the PSNR after ``step`` steps."""
        i = int(np.searchsorted(self.steps, step))
        if i >= len(self.steps) or self.steps[i] != step:
            raise ValueError(f"step {step} was not recorded; recorded steps are multiples of {self.steps[1]}")
        col = self.psnr[method][:, i]
        return float(col.mean()), float(col.std())

    def steps_to_reach(self, method: str, reference: str = "siren") -> float:
        """Mean over test images of the first recorded step at which ``method`` reaches the
        PSNR that ``reference`` has at the end of the fit (``nan`` if it never does)."""
        goal = self.psnr[reference][:, -1]
        hits = []
        for row, g in zip(self.psnr[method], goal):
            ok = np.nonzero(row >= g)[0]
            hits.append(self.steps[ok[0]] if len(ok) else np.nan)
        return float(np.mean(hits))


def strainer_protocol(train_images: np.ndarray, test_images: np.ndarray, *, key: PRNGKeyArray,
                      width: int = 256, shared_layers: int = 5, train_steps: int = 5000, test_steps: int = 2000,
                      learning_rate: float = 1e-4, record_every: int = 10, progress: bool = True,
                      checkpoint_dir=None) -> TransferResult:
    """Train STRAINER-N (N = len(train_images)) and STRAINER-1, fit a SIREN to the first training
    image (for the fine-tuned baseline), then fit every test image from each initialisation.

    Images are ``[n, h, w, c]`` in [0, 1]; PSNR is in the [0,1] convention (peak 1). With
    ``checkpoint_dir`` every one of these fits keeps its own checkpoint there, so a stopped
    protocol resumes inside the fit it was in and skips the finished ones."""
    from models.inr._data import as_targets

    coords, train = as_targets(train_images)
    _, test = as_targets(test_images, dtype=coords.dtype)
    c = train.shape[-1]
    k10, k1, kft, ktest = jax.random.split(key, 4)
    if checkpoint_dir is not None:
        Path(checkpoint_dir).mkdir(parents=True, exist_ok=True)
    ckpt = (lambda name: None) if checkpoint_dir is None else (lambda name: Path(checkpoint_dir) / f"{name}.eqx")
    kw = dict(width=width, shared_layers=shared_layers)
    s10, _ = train_strainer(Strainer(coords.shape[1], c, train.shape[0], key=k10, **kw), coords, train,
                            steps=train_steps, learning_rate=learning_rate, record_every=train_steps or 1,
                            checkpoint=ckpt(f"strainer_{train.shape[0]}"), progress=progress,
                            desc=f"STRAINER-{train.shape[0]} encoder")
    s1, _ = train_strainer(Strainer(coords.shape[1], c, 1, key=k1, **kw), coords, train[:1],
                           steps=train_steps, learning_rate=learning_rate, record_every=train_steps or 1,
                           checkpoint=ckpt("strainer_1"), progress=progress, desc="STRAINER-1 encoder")
    sizes = (coords.shape[1],) + (width,) * shared_layers + (c,)
    donor = fit(siren(sizes, key=kft), coords, train[0], optimizer=optax.adam(learning_rate), steps=train_steps,
                record_every=train_steps or 1, metric=psnr_01, checkpoint=ckpt("siren_donor"), progress=progress,
                desc="SIREN to fine-tune").model
    optimizer = optax.adam(learning_rate)  # one object, so every test-time fit reuses one compilation
    psnr = {m: [] for m in METHODS}
    steps = None
    for i, kimg in enumerate(jax.random.split(ktest, test.shape[0])):
        inits = {"siren": siren(sizes, key=kimg), "siren_finetuned": donor,
                 "strainer_1": transfer(s1, key=kimg), "strainer_10": transfer(s10, key=kimg)}
        for name, model in inits.items():
            out = fit(model, coords, test[i], optimizer=optimizer, steps=test_steps,
                      record_every=record_every, metric=psnr_01, checkpoint=ckpt(f"test{i}_{name}"),
                      progress=progress, desc=f"{name} on test image {i + 1}/{test.shape[0]}")
            psnr[name].append(out.trajectory.metric)
            steps = out.trajectory.steps
    return TransferResult(steps, {m: np.stack(v) for m, v in psnr.items()})
