"""The symmetry stress test: score a model on its test set moved by random group elements.

``derived``: every test network moved by a random element of its derived group
(``space.sample`` + ``space.act``); the functions are unchanged, so an invariant model
must score exactly as on the original test set. ``larger``: moved by an element of a
larger group (``space.sample_outside``), which changes the networks' functions: a
change of score there is legitimate, and is the control beside it.
"""

from __future__ import annotations

import equinox as eqx
import jax
import numpy as np

from models.train._tasks import TaskData


def move(space, params, key, *, outside: bool = False):
    """Every network of the batch ``params`` acted on by its own random element."""
    leaves = jax.tree.leaves(params)
    keys = jax.random.split(key, len(leaves[0]))
    dtype = leaves[0].dtype
    moved = _move(space, outside, jax.tree.map(jax.numpy.asarray, params), keys, dtype)
    return jax.tree.map(np.asarray, moved)


@eqx.filter_jit
def _move(space, outside, params, keys, dtype):
    draw = space.sample_outside if outside else space.sample
    return jax.vmap(lambda p, k: space.act(draw(k, dtype=dtype), p))(params, keys)


def stress_test(model, data: TaskData, key, *, batch_size: int = 64, split: str = "test",
                outputs: np.ndarray | None = None) -> dict[str, float | None]:
    """``{"original", "derived", "larger"}`` scores of ``model`` on ``split`` (``larger`` None if no larger group).

    ``outputs``: the model's outputs on the unmoved split, when the caller already has them."""
    from models.train._fit import predict

    params, targets = data.splits[split]
    k_in, k_out = jax.random.split(key)
    if outputs is None:
        outputs = predict(model, params, batch_size=batch_size)
    scores = {"original": data.metric(outputs, targets)}
    moved = move(data.space, params, k_in)
    scores["derived"] = data.metric(predict(model, moved, batch_size=batch_size), targets)
    try:
        outside = move(data.space, params, k_out, outside=True)
    except ValueError:  # every neuron already has the largest group
        scores["larger"] = None
    else:
        scores["larger"] = data.metric(predict(model, outside, batch_size=batch_size), targets)
    return scores


__all__ = ["move", "stress_test"]
