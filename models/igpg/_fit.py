"""One training loop for every IGPG model: Adam, batches drawn on device, a compiled scan per block of steps.

Given a ``checkpoint`` file the loop saves its whole state there every ``checkpoint_seconds``
and at the end (``models.train``'s one-file checkpoint: a JSON header with the run's settings,
step and loss history, then the params and Adam state by ``eqx.tree_serialise_leaves``,
written to a temporary file and moved into place). A run started again with the same
settings resumes from it; because every step's batch and noise come from
``fold_in(key, step)``, the resumed run ends bit for bit where an uninterrupted one does.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax


def fingerprint(tree) -> str:
    """SHA-256 of every array of ``tree`` (shapes, dtypes, values): a resumed run must see the same data."""
    digest = hashlib.sha256()
    for leaf in jax.tree_util.tree_leaves(tree):
        array = np.asarray(leaf)
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _key_data(key) -> list:
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return np.asarray(key).tolist()


SCHEDULES = ("constant", "cosine")


def optimiser_for(schedule: str, lr: float, steps: int) -> optax.GradientTransformation:
    """Adam at ``lr``; ``"cosine"``: linear warm-up over the first 5 % of steps, cosine decay to
    ``lr / 20`` and gradient norms clipped at 1 (a transformer fitted at a constant rate ends
    where the step noise leaves it, not at the loss it can reach)."""
    if schedule == "constant":
        return optax.adam(lr)
    if schedule == "cosine":
        warmup = max(1, steps // 20)
        rate = optax.warmup_cosine_decay_schedule(0.0, lr, warmup, max(steps, warmup + 1), end_value=lr / 20)
        return optax.chain(optax.clip_by_global_norm(1.0), optax.adam(rate))
    raise ValueError(f"unknown schedule {schedule!r}: use one of {', '.join(SCHEDULES)}")


def fit_scanned(model, loss_fn, data, *, steps, batch_size, lr, key, temperature=None, desc="", progress=True,
                block: int = 50, checkpoint: str | Path | None = None, settings: dict | None = None,
                checkpoint_seconds: float = 60.0, schedule: str = "constant"):
    """Adam on ``loss_fn(model, *batch, temperature, key) -> (loss, parts)``, ``block`` steps per compiled scan.

    ``schedule``: the learning rate over the fit (``optimiser_for``).
    Batches are drawn with replacement from the rows of every array in ``data``. Returns the
    model and the per-step history of the loss and of every entry of ``parts``, and under
    ``"seconds"`` the fit's training time, summed over the runs that resumed it. With
    ``checkpoint`` (a file), the run resumes from it and saves to it; ``settings`` (the
    model's configuration) joins the loop's own settings, the key and a fingerprint of
    ``data`` in what a resumed run must match (``models.train.CheckpointMismatch`` if not).
    """
    from tqdm.auto import tqdm

    from models.train._checkpoint import load_checkpoint, save_checkpoint

    n = jax.tree_util.tree_leaves(data)[0].shape[0]
    params, static = eqx.partition(model, eqx.is_inexact_array)
    optimiser = optimiser_for(schedule, lr, steps)
    state = optimiser.init(params)
    dtype = jax.tree_util.tree_leaves(params)[0].dtype

    @eqx.filter_jit
    def run(params, state, t0, count):
        def step(carry, t):
            params, state = carry
            k = jax.random.fold_in(key, t)
            idx = jax.random.randint(jax.random.fold_in(k, 0), (min(batch_size, n),), 0, n)
            batch = jax.tree.map(lambda a: a[idx], tuple(data))
            tau = temperature(t.astype(dtype)) if temperature is not None else None
            fn = lambda p: loss_fn(eqx.combine(p, static), *batch, tau, jax.random.fold_in(k, 1))
            (loss, parts), grads = jax.value_and_grad(fn, has_aux=True)(params)
            with jax.numpy_dtype_promotion("standard"):  # optax mixes python floats and int32 step counts
                updates, new_state = optimiser.update(grads, state, params)
            new_params = optax.apply_updates(params, updates)
            live = t < t0 + count  # the last block may be shorter: its extra steps change nothing
            keep = lambda a, b: jnp.where(live, a, b)
            return (jax.tree.map(keep, new_params, params), jax.tree.map(keep, new_state, state)), (loss, parts)

        (params, state), out = jax.lax.scan(step, (params, state), t0 + jnp.arange(block, dtype=jnp.int32))
        return params, state, out

    history: dict[str, list] = {}
    start, seconds = 0, 0.0
    if checkpoint is not None:
        checkpoint = Path(checkpoint)
        run_settings = json.loads(json.dumps({  # as the header will hold them (tuples as lists)
            **(settings or {}), "steps": steps, "batch_size": batch_size, "lr": lr, "block": block, "schedule": schedule,
            "key": _key_data(key), "dtype": str(dtype), "data": fingerprint(data)}))
        saved = load_checkpoint(checkpoint, run_settings, (params, state))
        if saved is not None:
            header, (params, state) = saved
            start, history, seconds = header["step"], header["history"], header.get("seconds", 0.0)
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
    last_save = time.monotonic()
    with tqdm(total=steps, initial=start, desc=desc, disable=not progress) as bar:
        for t0 in range(start, steps, block):
            count = min(block, steps - t0)
            begun = time.perf_counter()
            params, state, (loss, parts) = run(params, state, jnp.int32(t0), jnp.int32(count))
            for name, value in {"loss": loss, **parts}.items():
                history.setdefault(name, []).extend(np.asarray(value)[:count].tolist())
            seconds += time.perf_counter() - begun
            bar.update(count)
            bar.set_postfix(loss=f"{float(loss[count - 1]):.4f}")
            done = t0 + count == steps
            if checkpoint is not None and (done or time.monotonic() - last_save >= checkpoint_seconds):
                save_checkpoint(checkpoint, {"config": run_settings, "step": t0 + count, "history": history,
                                             "seconds": seconds}, (params, state))
                last_save = time.monotonic()
    return eqx.combine(params, static), {**{k: np.asarray(v) for k, v in history.items()}, "seconds": seconds}
