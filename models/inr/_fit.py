"""One fitting routine for every INR here: full-batch steps in a compiled loop.

Steps run in chunks inside one compiled call (a loop whose length is a traced number, sized
from the measured speed so the bar moves every few seconds), so the PSNR trajectory is recorded *in-graph* without a
host round-trip per step. Between chunks the host only updates a progress bar and,
if asked, writes a checkpoint so an interrupted fit resumes where it stopped.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float
from tqdm.auto import tqdm

from models._progress import ChunkPlanner, warn_if_long
from models.inr._psnr import psnr_pm1

_MAX_RECORDS = 64  # scores one compiled chunk can hold: n steps record at most ceil(n / record_every)


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
def _run_chunk(params, opt_state, static, coords, target, optimizer, loss, predict_fn, metric, start, n_steps,
               record_every, max_records):
    """``n_steps`` steps (a traced count) from step ``start``, scoring after every ``record_every``-th.

    The count is dynamic, so a chunk of any length reuses one compiled program; the scores
    land in a ``max_records`` buffer of which the host reads the first ``recorded``.
    """

    def objective(p):
        return loss(eqx.combine(p, static), coords, target)

    def step(i, state):
        (p, s), scores, values, recorded = state
        value, grads = jax.value_and_grad(objective)(p)
        with jax.numpy_dtype_promotion("standard"):  # optax mixes python floats and int32 counts
            updates, s = optimizer.update(grads, s, p)
        p = eqx.apply_updates(p, updates)

        def record(book):
            scores, values, recorded = book
            score = metric(predict_fn(eqx.combine(p, static), coords), target)
            return scores.at[recorded].set(score), values.at[recorded].set(value), recorded + 1

        book = jax.lax.cond((start + i + 1) % record_every == 0, record, lambda book: book, (scores, values, recorded))
        return ((p, s), *book)

    buffer = jnp.zeros(max_records, coords.dtype)
    state = ((params, opt_state), buffer, buffer, jnp.zeros((), start.dtype))
    (params, opt_state), scores, values, recorded = jax.lax.fori_loop(0, n_steps, step, state)
    return params, opt_state, scores, values, recorded


@eqx.filter_jit
def _score(params, static, coords, target, loss, predict_fn, metric):
    model = eqx.combine(params, static)
    return metric(predict_fn(model, coords), target), loss(model, coords, target)


def _save(checkpoint: Path, params, opt_state, traj: Trajectory, done: int) -> None:
    """One file, one rename: the weights, optimiser state and trajectory land together or not at all."""
    import io

    buffer = io.BytesIO()
    eqx.tree_serialise_leaves(buffer, (params, opt_state))
    tmp = checkpoint.with_name(checkpoint.name + ".tmp")
    with open(tmp, "wb") as file:
        np.savez(file, state=np.frombuffer(buffer.getvalue(), np.uint8), steps=traj.steps, metric=traj.metric,
                 loss=traj.loss, done=done)
    os.replace(tmp, checkpoint)


def _load(checkpoint: Path, params, opt_state):
    import io

    with np.load(checkpoint) as z:
        params, opt_state = eqx.tree_deserialise_leaves(io.BytesIO(z["state"].tobytes()), (params, opt_state))
        traj = Trajectory(z["steps"], z["metric"], z["loss"])
        done = int(z["done"]) if "done" in z else int(traj.steps[-1])  # steps run, recorded or not
    return params, opt_state, traj, done


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
    steps_per_chunk: int | None = None,
    checkpoint: str | Path | None = None,
    progress: bool = True,
    desc: str = "fit",
    seconds_per_update: float = 2.0,
) -> FitResult:
    """Fit ``model`` to ``target`` at ``coords`` with full-batch steps of ``optimizer``.

    ``loss(model, coords, target)`` is minimised; ``metric(predict_fn(model, coords), target)``
    is recorded at step 0 and every ``record_every`` steps: a PSNR for images — choose
    ``psnr_pm1`` for [-1,1] data (the default, Neural Experts) or ``psnr_01`` for [0,1] data
    (STRAINER) — or any other score. Pass ``opt_state`` to continue an optimiser; leave it
    out for a fresh one. With ``checkpoint`` (a file path) the fit saves after every chunk
    and, when the file exists, resumes from it instead of starting again.

    The bar, labelled ``desc``, moves about every ``seconds_per_update``: chunk lengths
    follow the measured speed unless ``steps_per_chunk`` fixes them. A fit that will take
    an hour or more says so once its speed is known, a few seconds after the start.
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
    if steps_per_chunk is not None and steps_per_chunk < 1:
        raise ValueError(f"steps_per_chunk ({steps_per_chunk}) must be at least 1, or None to follow the speed")
    checkpoint = None if checkpoint is None else Path(checkpoint)

    if checkpoint is not None and checkpoint.exists():
        params, opt_state, traj, done = _load(checkpoint, params, opt_state)
    else:
        score, value = _score(params, static, coords, target, loss, predict_fn, metric)
        traj = Trajectory(np.array([0]), np.array([float(score)]), np.array([float(value)]))
        done = 0

    planner = ChunkPlanner(seconds_per_update, cap=_MAX_RECORDS * record_every)
    warned = False
    with tqdm(total=steps, initial=done, disable=not progress, desc=desc, unit="step", leave=False) as bar:
        while done < steps:
            n = min(steps_per_chunk, steps - done) if steps_per_chunk is not None else planner.next(steps - done)
            clock = time.perf_counter()
            params, opt_state, scores, values, recorded = _run_chunk(
                params, opt_state, static, coords, target, optimizer, loss, predict_fn, metric,
                jnp.asarray(done), jnp.asarray(n), record_every, max(_MAX_RECORDS, -(-n // record_every)),
            )
            k = int(recorded)  # waits for the chunk
            planner.record(n, time.perf_counter() - clock)
            first = done // record_every + 1
            traj = Trajectory(np.concatenate([traj.steps, record_every * np.arange(first, first + k)]),
                              np.concatenate([traj.metric, np.asarray(scores, np.float64)[:k]]),
                              np.concatenate([traj.loss, np.asarray(values, np.float64)[:k]]))
            done += n
            bar.update(n)
            bar.set_postfix(metric=f"{traj.metric[-1]:.4g}")
            if checkpoint is not None:
                _save(checkpoint, params, opt_state, traj, done)
            if not warned and progress and planner.seconds_per_unit is not None:
                warned = True
                warn_if_long(desc, planner.seconds_per_unit * (steps - done),
                             advice="fewer steps, a smaller signal or a GPU make it shorter"
                             + ("; stopped, it resumes from its checkpoint" if checkpoint is not None else ""))
    return FitResult(eqx.combine(params, static), opt_state, traj)
