"""One fitting routine for every INR here: full-batch steps under ``lax.scan``.

Steps run in chunks of a few hundred to a few thousand inside one compiled call (a scan
of ``record_every``-step scans), so the PSNR trajectory is recorded *in-graph* without a
host round-trip per step. Between chunks the host only updates a progress bar and,
if asked, writes a checkpoint so an interrupted fit resumes where it stopped.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float
from tqdm.auto import tqdm

from models.inr._psnr import psnr_pm1


class Trajectory(NamedTuple):
    """The metric (PSNR for images) and training loss after ``steps[i]`` steps (``steps[0] == 0``)."""

    steps: np.ndarray
    metric: np.ndarray
    loss: np.ndarray


class FitResult(NamedTuple):
    model: eqx.Module
    opt_state: optax.OptState
    trajectory: Trajectory


def predict(model: Callable, coords: Float[Array, "n d"]) -> Float[Array, "n c"]:
    """The model on every coordinate."""
    return jax.vmap(model)(coords)


def mse_loss(model: Callable, coords: Float[Array, "n d"], target: Float[Array, "n c"]) -> Float[Array, ""]:
    """Mean squared error over points and channels."""
    return jnp.mean((predict(model, coords) - target) ** 2)


@eqx.filter_jit
def _run_chunk(params, opt_state, static, coords, target, optimizer, loss, predict_fn, metric, n_blocks, record_every):
    def objective(p):
        return loss(eqx.combine(p, static), coords, target)

    def step(carry, _):
        p, s = carry
        value, grads = jax.value_and_grad(objective)(p)
        with jax.numpy_dtype_promotion("standard"):  # optax mixes python floats and int32 counts
            updates, s = optimizer.update(grads, s, p)
        return (eqx.apply_updates(p, updates), s), value

    def block(carry, _):
        carry, values = jax.lax.scan(step, carry, None, length=record_every)
        score = metric(predict_fn(eqx.combine(carry[0], static), coords), target)
        return carry, (score, values[-1])

    (params, opt_state), (scores, values) = jax.lax.scan(block, (params, opt_state), None, length=n_blocks)
    return params, opt_state, scores, values


@eqx.filter_jit
def _score(params, static, coords, target, loss, predict_fn, metric):
    model = eqx.combine(params, static)
    return metric(predict_fn(model, coords), target), loss(model, coords, target)


def _save(checkpoint: Path, params, opt_state, traj: Trajectory) -> None:
    """One file, one rename: the weights, optimiser state and trajectory land together or not at all."""
    import io

    buffer = io.BytesIO()
    eqx.tree_serialise_leaves(buffer, (params, opt_state))
    tmp = checkpoint.with_name(checkpoint.name + ".tmp")
    with open(tmp, "wb") as file:
        np.savez(file, state=np.frombuffer(buffer.getvalue(), np.uint8), steps=traj.steps, metric=traj.metric,
                 loss=traj.loss)
    os.replace(tmp, checkpoint)


def _load(checkpoint: Path, params, opt_state):
    import io

    with np.load(checkpoint) as z:
        params, opt_state = eqx.tree_deserialise_leaves(io.BytesIO(z["state"].tobytes()), (params, opt_state))
        traj = Trajectory(z["steps"], z["metric"], z["loss"])
    return params, opt_state, traj


def fit(
    model: eqx.Module,
    coords: Float[Array, "n d"],
    target: Float[Array, "n c"],
    *,
    optimizer: optax.GradientTransformation,
    steps: int,
    record_every: int = 100,
    loss: Callable = mse_loss,
    predict_fn: Callable = predict,
    metric: Callable = psnr_pm1,
    opt_state: optax.OptState | None = None,
    steps_per_chunk: int = 1000,
    checkpoint: str | Path | None = None,
    progress: bool = True,
) -> FitResult:
    """Fit ``model`` to ``target`` at ``coords`` with full-batch steps of ``optimizer``.

    ``loss(model, coords, target)`` is minimised; ``metric(predict_fn(model, coords), target)``
    is recorded at step 0 and every ``record_every`` steps: a PSNR for images — choose
    ``psnr_pm1`` for [-1,1] data (the default, Neural Experts) or ``psnr_01`` for [0,1] data
    (STRAINER) — or any other score. Pass ``opt_state`` to continue an optimiser; leave it
    out for a fresh one. With ``checkpoint`` (a file path) the fit saves after every chunk
    and, when the file exists, resumes from it instead of starting again.
    """
    if steps < 0 or record_every < 1 or steps % record_every:
        raise ValueError(f"steps ({steps}) must be a non-negative multiple of record_every ({record_every})")
    if coords.shape[0] != target.shape[0]:
        raise ValueError(f"{coords.shape[0]} coordinates but {target.shape[0]} target values")
    if coords.dtype != target.dtype:
        raise ValueError(f"coords are {coords.dtype} but the target is {target.dtype}; convert one of them")
    params, static = eqx.partition(model, eqx.is_inexact_array)
    if opt_state is None:
        with jax.numpy_dtype_promotion("standard"):
            opt_state = optimizer.init(params)
    blocks_per_chunk = max(steps_per_chunk // record_every, 1)
    checkpoint = None if checkpoint is None else Path(checkpoint)

    if checkpoint is not None and checkpoint.exists():
        params, opt_state, traj = _load(checkpoint, params, opt_state)
    else:
        score, value = _score(params, static, coords, target, loss, predict_fn, metric)
        traj = Trajectory(np.array([0]), np.array([float(score)]), np.array([float(value)]))

    done = int(traj.steps[-1])
    with tqdm(total=steps, initial=done, disable=not progress, desc="fit", unit="step", leave=False) as bar:
        while done < steps:
            n_blocks = min(blocks_per_chunk, (steps - done) // record_every)
            params, opt_state, scores, values = _run_chunk(
                params, opt_state, static, coords, target, optimizer, loss, predict_fn, metric, n_blocks, record_every
            )
            new_steps = done + record_every * np.arange(1, n_blocks + 1)
            traj = Trajectory(
                np.concatenate([traj.steps, new_steps]),
                np.concatenate([traj.metric, np.asarray(scores, dtype=np.float64)]),
                np.concatenate([traj.loss, np.asarray(values, dtype=np.float64)]),
            )
            done = int(new_steps[-1])
            bar.update(record_every * n_blocks)
            bar.set_postfix(metric=f"{traj.metric[-1]:.4g}")
            if checkpoint is not None:
                _save(checkpoint, params, opt_state, traj)
    return FitResult(eqx.combine(params, static), opt_state, traj)
