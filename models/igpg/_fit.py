"""One training loop for every IGPG model: Adam, batches drawn on device, a compiled scan per block of steps."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax


def fit_scanned(model, loss_fn, data, *, steps, batch_size, lr, key, temperature=None, desc="", progress=True,
                block: int = 50):
    """Adam on ``loss_fn(model, *batch, temperature, key) -> (loss, parts)``, ``block`` steps per compiled scan.

    Batches are drawn with replacement from the rows of every array in ``data``. Returns the
    model and the per-step history of the loss and of every entry of ``parts``.
    """
    from tqdm.auto import tqdm

    n = jax.tree_util.tree_leaves(data)[0].shape[0]
    params, static = eqx.partition(model, eqx.is_inexact_array)
    optimiser = optax.adam(lr)
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
    with tqdm(total=steps, desc=desc, disable=not progress) as bar:
        for t0 in range(0, steps, block):
            count = min(block, steps - t0)
            params, state, (loss, parts) = run(params, state, jnp.int32(t0), jnp.int32(count))
            for name, value in {"loss": loss, **parts}.items():
                history.setdefault(name, []).extend(np.asarray(value)[:count].tolist())
            bar.update(count)
            bar.set_postfix(loss=f"{float(loss[count - 1]):.4f}")
    return eqx.combine(params, static), {k: np.asarray(v) for k, v in history.items()}
