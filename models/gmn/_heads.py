"""Readouts: an invariant head (classify, regress) and an equivariant head (ΔW, Δb)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from models.gmn._blocks import InvariantMLP, Linear, ScaleInv
from models.gmn._state import GMNState
from models.graph import Layout


class InvariantHead(eqx.Module):
    """ScaleInv-pooled hidden vertices (summed per layer) + raw input/output vertices → MLP.

    Hidden vertices are permuted and rescaled, so they enter through invariants and a
    sum; input and output vertices are never moved, so they enter flattened and raw.
    """

    inv_x: ScaleInv
    inv_h: ScaleInv
    inv_delta: ScaleInv | None
    pool: InvariantMLP
    readout: InvariantMLP

    def __init__(self, layout: Layout, d: int, d_hidden: int, out_size: int, *, bidirectional: bool, dropout: float,
                 key: PRNGKeyArray, dtype=None):
        k = jax.random.split(key, 5)
        n = 3 if bidirectional else 2
        self.inv_x = ScaleInv(d, key=k[0], dtype=dtype)
        self.inv_h = ScaleInv(d, key=k[1], dtype=dtype)
        self.inv_delta = ScaleInv(d, key=k[2], dtype=dtype) if bidirectional else None
        self.pool = InvariantMLP(n * d, d_hidden, d, dropout=dropout, key=k[3], dtype=dtype)
        n_io = (layout.sizes[0] + layout.sizes[-1]) * n * d
        self.readout = InvariantMLP((layout.num_layers - 1) * d + n_io, d_hidden, out_size, dropout=dropout,
                                    key=k[4], dtype=dtype)

    def __call__(self, s: GMNState, *, key: PRNGKeyArray | None = None) -> Float[Array, " out"]:
        L = s.layout.num_layers
        k_pool, k_out = jax.random.split(key) if key is not None else (None, None)
        pooled = []
        for l in range(1, L):
            parts = [self.inv_x(s.vertex("x", l)).array, self.inv_h(s.vertex("h", l)).array]
            if self.inv_delta is not None:
                parts.append(self.inv_delta(s.vertex("delta", l)).array)
            p = self.pool(jnp.concatenate(parts, axis=-1), key=k_pool)
            pooled.append(jnp.einsum("nd,n->d", p, s.masks[l]))
        io = []
        for l in (0, L):
            streams = [s.x[l], s.h[l]] + ([s.delta[l]] if s.delta is not None else [])
            io.append(jnp.concatenate(streams, axis=-1).reshape(-1))
        flat = jnp.concatenate(pooled + io)
        return self.readout(flat, key=k_out)


class EquivariantHead(eqx.Module):
    """ΔW, Δb in the input weight space: one q-typed channel per vertex (Δb) and one
    edge-typed channel per edge (ΔW, k·k for kernels), times a learnable per-layer
    output scale (init 0.01) so that edits start small.
    """

    to_bias: Linear
    to_weight: Linear
    bias_scale: Float[Array, " L"]
    weight_scale: Float[Array, " L"]

    def __init__(self, layout: Layout, d: int, *, key: PRNGKeyArray, dtype=None, out_scale: float = 0.01):
        k1, k2 = jax.random.split(key)
        dtype = dtype if dtype is not None else jnp.zeros(()).dtype
        self.to_bias = Linear(d, 1, key=k1, dtype=dtype)
        self.to_weight = Linear(d, layout.edge_dim, key=k2, dtype=dtype)
        self.bias_scale = jnp.full((layout.num_layers,), out_scale, dtype)
        self.weight_scale = jnp.full((layout.num_layers,), out_scale, dtype)

    def __call__(self, s: GMNState) -> tuple[tuple[Array, Array], ...]:
        layout = s.layout
        out = []
        for l in range(1, layout.num_layers + 1):
            db = self.bias_scale[l - 1] * self.to_bias(s.x[l])[:, 0]
            dw = self.weight_scale[l - 1] * self.to_weight(s.edges[l - 1])
            k = layout.kernels[l - 1]
            dw = dw[..., : k * k].reshape(dw.shape[0], dw.shape[1], k, k) if k else dw[..., 0]
            out.append((dw, db))
        return tuple(out)
