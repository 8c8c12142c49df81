"""ScaleGMN models: the typed trunk plus an invariant or an equivariant head.

The symmetry is never a flag: every block is generated from the groups that
``symm.derive`` found for the input networks' activations. ``permutation_only=True``
replaces those groups by the trivial group, which is exactly the permutation-only
GMN baseline (same code, all types collapse to 1).
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
from jaxtyping import Array, Float, PRNGKeyArray

from models.gmn._encoder import GMNEncoder
from models.gmn._heads import EquivariantHead, InvariantHead
from models.graph import Layout, NeuralGraph


class AbstractScaleGMN(eqx.Module):
    """A ``GMNEncoder`` trunk and a head. Trunk options (``width``, ``n_layers``,
    ``mlp_width``, ``bidirectional``, ``dropout``, ``permutation_only``, ``gate_width``,
    ``io_linear``, ``remat``) are ``GMNEncoder``'s."""

    encoder: eqx.AbstractVar[GMNEncoder]

    @property
    def layout(self) -> Layout:
        return self.encoder.layout


def _trunk(space: Any, key: PRNGKeyArray, dtype, trunk: dict) -> tuple[GMNEncoder, dict]:
    """The encoder, and the head's view of the trunk options (width, MLP width, dropout)."""
    encoder = GMNEncoder(space, key=key, dtype=dtype, **trunk)
    width = trunk.get("width", 128)
    view = dict(d=width, d_hidden=trunk.get("mlp_width") or width, dropout=trunk.get("dropout", 0.0),
                bidirectional=encoder.bidirectional)
    return encoder, view


class ScaleGMN(AbstractScaleGMN):
    """Invariant ScaleGMN: one graph → ``[out_size]`` (logits or regression targets).

    ``bidirectional=True`` adds backward messages carried on 1/q-typed channels, so
    it stays exactly equivariant for positive-scaling (ReLU) inputs, with no division
    by weights. Call on ONE graph; ``jax.vmap`` / ``eqx.filter_vmap`` for batches.
    """

    encoder: GMNEncoder
    head: InvariantHead

    def __init__(self, space: Any, out_size: int, *, key: PRNGKeyArray, dtype=None, **trunk: Any):
        k1, k2 = jax.random.split(key)
        self.encoder, v = _trunk(space, k1, dtype, trunk)
        self.head = InvariantHead(self.encoder.layout, v["d"], v["d_hidden"], out_size,
                                  bidirectional=v["bidirectional"], dropout=v["dropout"], key=k2, dtype=dtype)

    def __call__(self, graph: NeuralGraph, *, key: PRNGKeyArray | None = None) -> Float[Array, " out"]:
        k1, k2 = jax.random.split(key) if key is not None else (None, None)
        return self.head(self.encoder(graph, key=k1), key=k2)


class ScaleGMNEditor(AbstractScaleGMN):
    """Equivariant ScaleGMN: one graph → ``(ΔW, Δb)`` per layer in the input weight space.

    ΔW_l transforms like W_l (q_i/φ(q_j)) and Δb_l like b_l (q_i), so ``params + Δ``
    is an edit that commutes with every symmetry of the input networks.
    Output sizes follow the graph (padded graphs give padded deltas, zero on padding).
    ``out_scale``: the initial scale of the edits.
    """

    encoder: GMNEncoder
    head: EquivariantHead

    def __init__(self, space: Any, *, out_scale: float = 0.01, key: PRNGKeyArray, dtype=None, **trunk: Any):
        k1, k2 = jax.random.split(key)
        self.encoder, v = _trunk(space, k1, dtype, trunk)
        self.head = EquivariantHead(self.encoder.layout, v["d"], key=k2, dtype=dtype, out_scale=out_scale)

    def __call__(self, graph: NeuralGraph, *, key: PRNGKeyArray | None = None) -> tuple[tuple[Array, Array], ...]:
        return self.head(self.encoder(graph, key=key))
