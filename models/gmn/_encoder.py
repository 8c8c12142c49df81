"""Embedding and message-passing trunk shared by every ScaleGMN head."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from models.gmn._blocks import ActivationBlock, Linear, over_rows
from models.gmn._layer import GMNLayer, make_layer
from models.gmn._typed import FeatureType, Typed
from models.gmn._state import GMNState
from models.graph import Layout, NeuralGraph
from symm import IDENTITY


class GMNEncoder(eqx.Module):
    """Typed embedding of a ``NeuralGraph`` followed by ``n_layers`` message-passing steps.

    Positional encodings are learnable per vertex type: one per input neuron and one
    per output neuron (added: those vertices are type 1), one per hidden layer
    (multiplied: keeps the type). Edge encodings are always multiplicative.

    ``gate_width``: hidden width of the two gate MLPs that run on every edge (default
    ``mlp_width``); they dominate the cost, and ``gate_width=width // 4`` is about the
    official ScaleGMN parameter count. ``io_linear``: add a bias-free linear path to the
    input/output vertex updates, so they can express affine maps exactly (the model of
    the simulation theorem in ``proofs``). ``remat``: recompute each step's intermediates
    in the backward pass instead of storing them (a third of the memory for about a
    quarter more arithmetic). ``unroll``: ``lax.scan``'s unroll (``True`` unrolls every step,
    e.g. so that XLA's cost analysis counts each step; it counts a scan body once).
    """

    embed_vertex: Linear
    embed_edge: Linear
    pe_in: Float[Array, "n0 d"]
    pe_out: Float[Array, "nL d"]
    pe_hidden: Float[Array, "Lm1 d"]
    pe_edge: Float[Array, "L d"]
    pe_edge_in: Float[Array, "n0 d"]
    pe_edge_out: Float[Array, "nL d"]
    init_h: ActivationBlock
    init_delta: eqx.nn.Linear | None
    layers: GMNLayer  # n_layers steps, parameters stacked on a leading axis (run with lax.scan)
    layout: Layout = eqx.field(static=True)
    remat: bool = eqx.field(static=True)
    unroll: int | bool = eqx.field(static=True)

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
        vertex_dim: int = 1,
        gate_width: int | None = None,
        io_linear: bool = False,
        remat: bool = True,
        unroll: int | bool = 1,
        key: PRNGKeyArray,
        dtype=None,
    ):
        layout = Layout.from_space(space)
        if permutation_only:
            layout = layout.permutation_only()
        if layout.affine:
            raise ValueError(
                f"activations {', '.join(layout.affine)} have affine symmetries (σ(q z) = φ(q)σ(z) + c(q)); ScaleGMN's "
                "typed blocks need linear ones. Build the permutation-only baseline with permutation_only=True"
            )
        if width < 1 or n_layers < 1:
            raise ValueError(f"width and n_layers must be positive, got width={width}, n_layers={n_layers}")
        dtype = dtype if dtype is not None else jnp.zeros(()).dtype
        d, L = width, layout.num_layers
        k = jax.random.split(key, 10 + n_layers)
        self.layout = layout
        self.remat = remat
        self.unroll = unroll
        self.embed_vertex = Linear(vertex_dim, d, key=k[0], dtype=dtype)
        self.embed_edge = Linear(layout.edge_dim, d, key=k[1], dtype=dtype)
        self.pe_in = 0.1 * jax.random.normal(k[2], (layout.sizes[0], d), dtype)
        self.pe_out = 0.1 * jax.random.normal(k[3], (layout.sizes[-1], d), dtype)
        self.pe_hidden = 1.0 + 0.1 * jax.random.normal(k[4], (L - 1, d), dtype)
        self.pe_edge = 1.0 + 0.1 * jax.random.normal(k[5], (L, d), dtype)
        self.pe_edge_in = 1.0 + 0.1 * jax.random.normal(k[6], (layout.sizes[0], d), dtype)
        self.pe_edge_out = 1.0 + 0.1 * jax.random.normal(k[7], (layout.sizes[-1], d), dtype)
        self.init_h = ActivationBlock(d, d, init_scale=layout.activation_init_scale, key=k[8], dtype=dtype)
        self.init_delta = eqx.nn.Linear(d, d, key=k[9], dtype=dtype) if bidirectional else None
        self.layers = _stacked_layers(k[10:], layout, d, mlp_width or d, bidirectional, gate_width, dropout,
                                      io_linear, dtype)

    @property
    def bidirectional(self) -> bool:
        return self.layers.bidirectional

    def state_layout(self, graph: NeuralGraph) -> Layout:
        """The model's typing (its groups) at the graph's (possibly padded) sizes."""
        mine, theirs = self.layout, graph.layout
        same = (
            theirs.num_layers == mine.num_layers
            and theirs.sizes[0] == mine.sizes[0]
            and theirs.sizes[-1] == mine.sizes[-1]
            and theirs.kernels == mine.kernels
            and theirs.activations == mine.activations
        )
        if not same:
            raise ValueError(
                f"graph layout (sizes {theirs.sizes}, kernels {theirs.kernels}, activations {theirs.names}) does not "
                f"match the model's (sizes {mine.sizes}, kernels {mine.kernels}, activations {mine.names}); only "
                "hidden widths may differ"
            )
        return mine.with_sizes(theirs.sizes)

    def embed(self, graph: NeuralGraph) -> GMNState:
        layout = self.state_layout(graph)
        L = layout.num_layers
        xs, hs, ds = [], [], []
        for l in range(L + 1):
            v = self.embed_vertex(graph.vertices[l])
            mask = graph.masks[l][:, None]
            if l == 0 or l == L:
                x = v + (self.pe_in if l == 0 else self.pe_out)  # type 1: additive
                h = x
                d = over_rows(self.init_delta, x) if (l == L and self.bidirectional) else jnp.zeros_like(x)
            else:
                x = v * self.pe_hidden[l - 1]  # type q: multiplicative
                h = self.init_h(Typed(x, FeatureType.vertex(layout, l, IDENTITY, "x"))).array  # type φ(q)
                d = jnp.zeros_like(x)  # type 1/q starts at zero
            xs.append(x * mask)
            hs.append(h * mask)
            ds.append(d * mask)
        edges = []
        for l in range(1, L + 1):
            e = self.embed_edge(graph.edges[l - 1]) * self.pe_edge[l - 1]
            if l == 1:
                e = e * self.pe_edge_in[None]
            if l == L:
                e = e * self.pe_edge_out[:, None]
            edges.append(e * (graph.masks[l][:, None, None] * graph.masks[l - 1][None, :, None]))
        return GMNState(tuple(xs), tuple(hs), tuple(ds) if self.bidirectional else None, tuple(edges), graph.masks, layout)

    def __call__(self, graph: NeuralGraph, *, key: PRNGKeyArray | None = None) -> GMNState:
        state = self.embed(graph)
        stacked, static = eqx.partition(self.layers, eqx.is_array)
        keys = jax.random.split(key, self.n_layers) if key is not None else None

        def step(s: GMNState, xs):
            params, k = xs
            return eqx.combine(params, static)(s, key=k), None

        if self.remat:
            # keep only the state between steps; the backward pass recomputes a step's
            # [edges, width] intermediates instead of storing them for every step
            step = jax.checkpoint(step, prevent_cse=False)

        # one compiled step body, however many message-passing steps
        state, _ = jax.lax.scan(step, state, (stacked, keys), unroll=self.unroll)
        return state

    @property
    def n_layers(self) -> int:
        return jax.tree.leaves(eqx.filter(self.layers, eqx.is_array))[0].shape[0]


@eqx.filter_jit
def _stacked_layers(keys, layout, d, d_hidden, bidirectional, d_gate, dropout, io_linear, dtype):
    """One message-passing layer per key, stacked. Compiled: vmap alone would run each of the
    initialisers' few hundred operations eagerly, compiling a program for every one."""
    return eqx.filter_vmap(
        lambda key: make_layer(layout, d, d_hidden, bidirectional=bidirectional, d_gate=d_gate, dropout=dropout,
                               io_linear=io_linear, key=key, dtype=dtype)
    )(keys)
