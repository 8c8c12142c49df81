"""Evaluation of generated networks: starting points to compare against, and distances modulo symmetry."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import symm
from models.igpg._layout import ChunkLayout


def flat_canonical(space: symm.WeightSpace, params, *, batched: bool) -> np.ndarray:
    """Flattened ``symm.canonicalise`` of one network (or of a stack): comparable modulo the group."""
    layout = ChunkLayout(space, 1)
    if batched:
        canon = symm.canonicalise_batch(space, params)
        return np.asarray(layout.chunk_batch(canon)).reshape(len(canon[0][0]), -1)
    return np.asarray(layout.flatten(symm.canonicalise(space, params)))


def nearest_distance(space: symm.WeightSpace, params, train_params) -> float:
    """Relative L2 distance of ``params`` to its nearest training network, both canonicalised.

    ``min_i ||c(θ) - c(θ_i)|| / ||c(θ_i)||``: zero means the network is a training network up
    to a symmetry of its group (a permuted, rescaled or sign-flipped copy).
    """
    x = flat_canonical(space, params, batched=False)
    zoo = flat_canonical(space, train_params, batched=True)
    d = np.linalg.norm(zoo - x[None], axis=1) / np.maximum(np.linalg.norm(zoo, axis=1), 1e-12)
    return float(d.min())


def zoo_mean(params):
    """The element-wise mean network of a stack (the "zoo-mean" start and the ensemble-average baseline)."""
    return jax.tree.map(lambda a: jnp.mean(a, axis=0), params)


def noisy_copy(params, key, *, relative: float = 0.1):
    """A network plus Gaussian noise of ``relative`` times each array's RMS (the memorisation baseline)."""
    leaves, tree = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(key, len(leaves))
    noisy = [a + relative * jnp.sqrt(jnp.mean(a**2)) * jax.random.normal(k, a.shape, a.dtype) for a, k in zip(leaves, keys)]
    return jax.tree_util.tree_unflatten(tree, noisy)
