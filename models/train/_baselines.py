"""Baselines that see weights without the derived symmetries: a flattened-weights MLP and StatNN.

Both standardise their inputs with statistics of the training split, stored as static
tuples (so the optimiser never touches them). For editing they output a flat vector
that is cut back into ``(ΔW, Δb)`` of the input weight space, scaled by ``out_scale`` so
that edits start small, as the equivariant editor's do.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from models.train._mixed import member_features


def flatten(params) -> Array:
    """One network's ``((W, b), ...)`` as one vector."""
    return jnp.concatenate([jnp.concatenate([w.reshape(-1), b.reshape(-1)]) for w, b in params])


def unflatten(space, vector: Array):
    """Inverse of ``flatten`` for the shapes of ``space``."""
    out, start = [], 0
    for w_shape, b_shape in space.param_shapes:
        nw, nb = int(np.prod(w_shape)), int(np.prod(b_shape))
        out.append((vector[start : start + nw].reshape(w_shape), vector[start + nw : start + nw + nb].reshape(b_shape)))
        start += nw + nb
    return tuple(out)


def layer_statistics(params) -> Array:
    """StatNN features: for every layer's W and b, mean, std and the 0/25/50/75/100% quantiles."""
    feats = []
    for w, b in params:
        for a in (w.reshape(-1), b.reshape(-1)):
            feats.append(jnp.stack([jnp.mean(a), jnp.std(a), *jnp.quantile(a, jnp.array([0.0, 0.25, 0.5, 0.75, 1.0],
                                                                                    a.dtype))]))
    return jnp.concatenate(feats)


def _standardiser(features: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    mean = features.mean(axis=0)
    std = features.std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)


class _FeatureMLP(eqx.Module):
    mlp: eqx.nn.MLP
    mean: tuple[float, ...] = eqx.field(static=True)
    std: tuple[float, ...] = eqx.field(static=True)
    space: object = eqx.field(static=True)
    edit: bool = eqx.field(static=True)
    out_scale: float = eqx.field(static=True)

    def features(self, params) -> Array:
        """The standardised input of the MLP (with a mixed zoo's one-hot activation after it)."""
        return member_features(self.space, params, self.weight_features)

    @staticmethod
    def weight_features(params) -> Array:
        raise NotImplementedError

    def __call__(self, params, *, key: PRNGKeyArray | None = None):
        x = self.features(params)
        x = (x - jnp.asarray(self.mean, x.dtype)) / jnp.asarray(self.std, x.dtype)
        y = self.mlp(x)
        return unflatten(self.space, self.out_scale * y) if self.edit else y


def _mlp(n_in: int, n_out: int, width: int, depth: int, key, dtype) -> eqx.nn.MLP:
    return eqx.nn.MLP(n_in, n_out, width, depth, activation=jax.nn.gelu, key=key, dtype=dtype)


class FlatMLP(_FeatureMLP):
    """An MLP on the flattened, standardised weight vector (no symmetry at all)."""

    def __init__(self, space, train_params, out_size: int | None, *, width: int, depth: int, out_scale: float = 0.01,
                 key: PRNGKeyArray, dtype=None):
        flat = np.asarray(jax.vmap(lambda p: member_features(space, p, flatten))(train_params))
        self.mean, self.std = _standardiser(flat)
        self.space, self.edit, self.out_scale = space, out_size is None, out_scale
        self.mlp = _mlp(flat.shape[1], space.num_params if out_size is None else out_size, width, depth, key, dtype)

    @staticmethod
    def weight_features(params) -> Float[Array, " n"]:
        return flatten(params)


class StatNN(_FeatureMLP):
    """StatNN (Unterthiner et al.): per-layer weight and bias statistics, then an MLP.

    The statistics are invariant to permutations but not to the derived scalings.
    """

    def __init__(self, space, train_params, out_size: int | None, *, width: int, depth: int, out_scale: float = 0.01,
                 key: PRNGKeyArray, dtype=None):
        feats = np.asarray(jax.vmap(lambda p: member_features(space, p, layer_statistics))(train_params))
        self.mean, self.std = _standardiser(feats)
        self.space, self.edit, self.out_scale = space, out_size is None, out_scale
        n_out = space.num_params if out_size is None else out_size
        self.mlp = _mlp(feats.shape[1], n_out, width, depth, key, dtype)

    @staticmethod
    def weight_features(params) -> Float[Array, " n"]:
        return layer_statistics(params)


__all__ = ["FlatMLP", "StatNN", "flatten", "layer_statistics", "unflatten"]
