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


class ScaleGMN(eqx.Module):
    """Invariant ScaleGMN: one graph → ``[out_size]`` (logits or regression targets).

    ``bidirectional=True`` adds backward messages carried on 1/q-typed channels, so
    it stays exactly equivariant for positive-scaling (ReLU) inputs, with no division
    by weights. Call on ONE graph; ``jax.vmap`` / ``eqx.filter_vmap`` for batches.
    """

    encoder: GMNEncoder
    head: InvariantHead

    def __init__(
        self,
        space: Any,
        out_size: int,
        *,
        width: int = 128,
        n_layers: int = 4,
        mlp_width: int | None = None,
        bidirectional: bool = False,
        dropout: float = 0.0,
        permutation_only: bool = False,
        key: PRNGKeyArray,
        dtype=None,
    ):
        k1, k2 = jax.random.split(key)
        self.encoder = GMNEncoder(space, width=width, n_layers=n_layers, mlp_width=mlp_width,
                                  bidirectional=bidirectional, dropout=dropout, permutation_only=permutation_only,
                                  key=k1, dtype=dtype)
        self.head = InvariantHead(self.encoder.layout, width, mlp_width or width, out_size,
                                  bidirectional=bidirectional, dropout=dropout, key=k2, dtype=dtype)

    @property
    def layout(self) -> Layout:
        return self.encoder.layout

    def __call__(self, graph: NeuralGraph, *, key: PRNGKeyArray | None = None) -> Float[Array, " out"]:
        k1, k2 = jax.random.split(key) if key is not None else (None, None)
        return self.head(self.encoder(graph, key=k1), key=k2)


class ScaleGMNEditor(eqx.Module):
    """Equivariant ScaleGMN: one graph → ``(ΔW, Δb)`` per layer in the input weight space.

    ΔW_l transforms like W_l (q_i/φ(q_j)) and Δb_l like b_l (q_i), so ``params + Δ``
    is an edit that commutes with every symmetry of the input networks.
    Output sizes follow the graph (padded graphs give padded deltas, zero on padding).
    """

    encoder: GMNEncoder
    head: EquivariantHead

    def __init__(
        self,
        space: Any,
        *,
        width: int = 128,
        n_layers: int = 4,
        mlp_width: int | None = None,
        bidirectional: bool = False,
        dropout: float = 0.0,
        permutation_only: bool = False,
        out_scale: float = 0.01,
        key: PRNGKeyArray,
        dtype=None,
    ):
        k1, k2 = jax.random.split(key)
        self.encoder = GMNEncoder(space, width=width, n_layers=n_layers, mlp_width=mlp_width,
                                  bidirectional=bidirectional, dropout=dropout, permutation_only=permutation_only,
                                  key=k1, dtype=dtype)
        self.head = EquivariantHead(self.encoder.layout, width, key=k2, dtype=dtype, out_scale=out_scale)

    @property
    def layout(self) -> Layout:
        return self.encoder.layout

    def __call__(self, graph: NeuralGraph, *, key: PRNGKeyArray | None = None) -> tuple[tuple[Array, Array], ...]:
        return self.head(self.encoder(graph, key=key))
