"""One message-passing step of ScaleGMN: forward (``ForwardGMNLayer``) or bidirectional
(``BidirectionalGMNLayer``), both final subclasses of the abstract ``GMNLayer``.

A step is five parts, each a method: forward messages, backward messages, hidden
update, I/O update, edge update. Every typed quantity is a ``Typed`` feature and
every block computes its type, so a stream wired to the wrong block fails at trace
time. Parameters are shared by all hidden layer blocks; only the static choice of
canonicalisation, activation and invariant products differs between them.
"""

from __future__ import annotations

import abc
import itertools
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from symm import IDENTITY, TRIVIAL, Character

from models.gmn._blocks import (
    ActivationBlock,
    InvariantMLP,
    Linear,
    ReScaleEq,
    ScaleEq,
    ScaleInv,
    canonicalise,
    dense,
    fused,
    open_gate,
)
from models.gmn._state import GMNState
from models.gmn._typed import (
    FeatureType,
    Typed,
    add,
    concat,
    contract_destinations,
    expect,
    invariant_concat,
    mul,
    product_type,
    sum_over_sources,
)
from models.graph import Layout

Q, INV_Q = IDENTITY, IDENTITY.inverse()


def stream_characters(layout: Layout, l: int, bidirectional: bool) -> dict[str, Character]:
    """The vertex streams of a hidden vertex and their characters: x (q), h (φ), and for
    the bidirectional model δ (1/q) and the incoming backward message (1/φ)."""
    phi = layout.phi(l)
    out = {"x": Q, "h": phi}
    if bidirectional:
        out.update(delta=INV_Q, back=phi.inverse())
    return out


def invariant_pairs(layout: Layout, bidirectional: bool) -> tuple[tuple[str, str], ...]:
    """Every pair of vertex streams whose product is invariant on some hidden layer of ``layout``.

    These products are the cross invariants of the hidden update (x·δ and h·back always;
    more where the group is smaller, e.g. every pair on a sign group).
    """
    L = layout.num_layers
    names = list(stream_characters(layout, 1, bidirectional)) if L > 1 else []
    out = []
    for a, b in itertools.combinations(names, 2):
        for l in range(1, L):
            c = stream_characters(layout, l, bidirectional)
            if layout.vertex_type(l, c[a] * c[b]).is_invariant:
                out.append((a, b))
                break
    return tuple(out)


class _Keys:
    """Dropout keys handed out one by one (``None`` at inference)."""

    def __init__(self, key: PRNGKeyArray | None):
        self.key, self.i = key, 0

    def __call__(self):
        if self.key is None:
            return None
        self.i += 1
        return jax.random.fold_in(self.key, self.i)


class GMNLayer(eqx.Module):
    """Abstract message-passing step: the forward blocks every step has.

    Final subclasses: ``ForwardGMNLayer`` and ``BidirectionalGMNLayer``. Build one
    with ``make_layer``.
    """

    # forward messages into layer l from l-1: ScaleEq(ReScaleEq(e_ij, h_j)), type q_i
    message: ReScaleEq
    message_inv: ScaleInv
    message_eq: ScaleEq
    # hidden-vertex update
    inv_u: ScaleInv  # [x, m], type q
    inv_h: ScaleInv  # type φ(q)
    update_x: ScaleEq  # q -> q
    skip_x: Linear  # q -> q, bias-free skip
    activation: ActivationBlock  # q -> φ(q)
    update_h: ScaleEq  # φ(q) -> φ(q)
    cross: tuple[Linear, ...]  # one bias-free map per stream of ``pairs``: products Γ_a a ⊙ Γ_b b
    # input / output vertices (type 1): MLP, plus optionally a linear path, residual
    update_in: InvariantMLP
    update_out: InvariantMLP
    # bias-free linear paths added to those MLPs (type 1, so any linear map is allowed):
    # an I/O update then expresses affine maps exactly, e.g. b + Σ w h (the simulation theorem)
    linear_in: Linear | None
    linear_out: Linear | None
    # edges: e' = Γe ⊙ MLP([inv(src), inv(dst), inv(e)])
    edge_gamma: Linear
    edge_inv: ScaleInv
    edge_gate: InvariantMLP
    edge_src_hidden: eqx.nn.Linear
    edge_dst_hidden: eqx.nn.Linear
    edge_src_io: eqx.nn.Linear
    edge_dst_io: eqx.nn.Linear
    pairs: tuple[tuple[str, str], ...] = eqx.field(static=True)
    cross_streams: tuple[str, ...] = eqx.field(static=True)

    bidirectional: ClassVar[bool]

    # ---- the five parts of a step ------------------------------------------------------------
    def __call__(self, s: GMNState, *, key: PRNGKeyArray | None = None) -> GMNState:
        L = s.layout.num_layers
        keys = _Keys(key)
        reads = [self.read_edges(s, l) for l in range(1, L + 1)]
        fw = self.forward_messages(s, reads, keys)
        back = self.backward_messages(s, reads)
        inv, new = [], {"x": [], "h": [], "delta": []}
        for l in range(L + 1):
            if 0 < l < L:
                out, I = self.hidden_update(s, l, fw[l], None if back is None else back[l], keys)
            else:
                out, I = self.io_update(s, l, fw[l], None if back is None else back[l], keys)
            mask = s.masks[l][:, None]
            inv.append(I)
            for name, v in out.items():
                new[name].append(v * mask)
        edges = self.edge_update(s, reads, inv, keys)
        return GMNState(
            x=tuple(new["x"]),
            h=tuple(new["h"]),
            delta=tuple(new["delta"]) if self.bidirectional else None,
            edges=tuple(edges),
            masks=s.masks,
            layout=s.layout,
        )

    def read_edges(self, s: GMNState, l: int) -> dict[str, Array]:
        """Every bias-free map of the edge block ``l`` in one matmul: message, Γ, (backward), and
        ρ of the edge invariant where no normalisation comes first."""
        e = s.edges[l - 1]
        maps = {"message": self.message.left, "gamma": self.edge_gamma}
        if self.bidirectional:
            maps["backward"] = self.backward.left
        etype = s.edge(l).type.stream_type
        if etype.needs_sym and not etype.needs_norm:
            maps["rho"] = self.edge_inv.rho
        return dict(zip(maps, fused(list(maps.values()), e)))

    def message_source(self, s: GMNState, l: int) -> Typed:
        """The source stream of a forward message along an edge into layer l + 1: h_l, type φ(q_l)."""
        return s.vertex("h", l)

    def forward_messages(self, s: GMNState, reads, keys) -> list[Typed]:
        """m_i = Σ_j ScaleEq(ReScaleEq(e_ij, h_j)), type q_i (1 on output vertices)."""
        L = s.layout.num_layers
        fw = [Typed(jnp.zeros_like(s.x[0]), FeatureType.vertex(s.layout, 0, Q, "forward message"))]
        for l in range(1, L + 1):
            raw = self.message(s.edge(l), self.message_source(s, l - 1), "forward message",
                               left_x=reads[l - 1]["message"])
            t = raw.type.stream_type
            if t.needs_sym and not t.needs_norm:  # ρ(raw) and Γ(raw) read raw: one matmul
                rho = self.message_inv.rho
                wx, gx = fused([rho, self.message_eq.gamma], raw.array)
                inv = jax.nn.silu(wx + rho.bias) + jax.nn.silu(rho.bias - wx)
                m = self.message_eq(raw, inv, key=keys(), gamma_x=gx)
            else:
                m = self.message_eq(raw, self.message_inv(raw), key=keys())
            fw.append(sum_over_sources(m, s.masks[l - 1], "forward message"))
        return fw

    @abc.abstractmethod
    def backward_messages(self, s: GMNState, reads) -> list[Typed] | None:
        """Messages from layer l + 1 into layer l (None for a forward layer)."""

    @abc.abstractmethod
    def vertex_streams(self, s: GMNState, l: int, back: Typed | None) -> dict[str, Typed]:
        """The typed streams of a hidden vertex that its invariants are built from."""

    @abc.abstractmethod
    def single_invariants(self, streams: dict[str, Typed], u: Typed) -> list[Typed]:
        """ScaleInv of each stream (u = [x, m] in place of x)."""

    @abc.abstractmethod
    def delta_update(self, s: GMNState, l: int, u: Typed, back: Typed | None, invariants: Array, keys
                     ) -> dict[str, Array]:
        """The δ-stream's update on a hidden vertex (nothing for a forward layer)."""

    def hidden_invariants(self, s: GMNState, l: int, u: Typed, back: Typed | None) -> Array:
        """ScaleInv of each stream, then every pairwise product whose type is invariant here.

        The products (Γ_a a ⊙ Γ_b b, one map per stream) exist for the pairs invariant on
        some layer of the layout; on a layer where a pair is not invariant its channels are
        zero (the gates' input size is shared by all layers).
        """
        streams = self.vertex_streams(s, l, back)
        parts = self.single_invariants(streams, u)
        maps = dict(zip(self.cross_streams, self.cross))
        for a, b in self.pairs:
            if product_type(streams[a].type, streams[b].type, f"{a}·{b}").is_invariant:
                parts.append(mul(maps[a].typed(streams[a]), maps[b].typed(streams[b]), f"{a}·{b}"))
            else:
                parts.append(Typed(jnp.zeros_like(s.x[l]), FeatureType.vertex(s.layout, l, TRIVIAL, "0")))
        return invariant_concat(parts, f"invariants of vertex layer {l}")

    def hidden_update(self, s: GMNState, l: int, fw: Typed, back: Typed | None, keys):
        """x' = skip(x) + ScaleEq(u), h' = σ(Γu) + ScaleEq(h) (u = [x, m]), and δ' for bidirectional."""
        x, h = s.vertex("x", l), s.vertex("h", l)
        u = concat([x, fw], "[x, forward message]")
        I = self.hidden_invariants(s, l, u, back)
        x2 = add(self.skip_x.typed(x), self.update_x(u, I, key=keys()), "x")
        h2 = add(self.activation(u), self.update_h(h, I, key=keys()), "h")
        expect(x2, x.type, "the q-stream update")
        expect(h2, h.type, "the φ-stream update")
        out = {"x": x2.array, "h": h2.array}
        out.update(self.delta_update(s, l, u, back, I, keys))
        return out, I

    def io_update(self, s: GMNState, l: int, fw: Typed, back: Typed | None, keys):
        """Input/output vertices are type 1: an MLP (plus the linear path) of all their streams, residual."""
        names = ["x", "h"] + (["delta"] if self.bidirectional else [])
        streams = [s.vertex(n, l) for n in names]
        incoming = [fw] + ([back] if back is not None else [])
        I = invariant_concat(streams + incoming, f"the update of vertex layer {l}")
        o = (self.update_in if l == 0 else self.update_out)(I, key=keys())
        linear = self.linear_in if l == 0 else self.linear_out
        if linear is not None:
            o = o + linear(I)
        parts = jnp.split(o, len(names), axis=-1)
        return {n: v.array + p for n, v, p in zip(names, streams, parts)}, I

    def edge_update(self, s: GMNState, reads, inv: list[Array], keys) -> list[Array]:
        """e' = Γe ⊙ MLP([ScaleInv(e), inv(dst), inv(src)]): type-preserving."""
        L = s.layout.num_layers
        out = []
        for l in range(1, L + 1):
            e = s.edge(l)
            r = reads[l - 1]
            if "rho" in r:
                rho = self.edge_inv.rho
                e_inv = jax.nn.silu(r["rho"] + rho.bias) + jax.nn.silu(rho.bias - r["rho"])
            else:
                e_inv = canonicalise(self.edge_inv.rho, e.array, e.type.stream_type)
            src = self.edge_src_hidden if 0 < l - 1 < L else self.edge_src_io
            dst = self.edge_dst_hidden if 0 < l < L else self.edge_dst_io
            pre = dense(self.edge_gate.first, e_inv) + dense(dst, inv[l])[:, None] + dense(src, inv[l - 1])[None]
            e2 = r["gamma"] * self.edge_gate.hidden(pre, key=keys())
            out.append(e2 * (s.masks[l][:, None, None] * s.masks[l - 1][None, :, None]))
        return out


def _forward_blocks(self, d, d_hidden, d_gate, n_inv, n_io, n_streams, pairs, dropout, io_linear, act_scale, key,
                    dtype):
    """Initialise the forward fields shared by both final layers."""
    k = iter(jax.random.split(key, 32 + len(pairs)))
    kw = dict(dtype=dtype)
    self.pairs = pairs
    self.cross_streams = tuple(dict.fromkeys(name for pair in pairs for name in pair))
    self.message = ReScaleEq(d, d, d, key=next(k), **kw)
    self.message_inv = ScaleInv(d, key=next(k), **kw)
    self.message_eq = ScaleEq(d, d, d, d_gate, dropout=dropout, key=next(k), **kw)
    self.inv_u = ScaleInv(2 * d, key=next(k), **kw)
    self.inv_h = ScaleInv(d, key=next(k), **kw)
    self.update_x = ScaleEq(2 * d, d, n_inv, d_hidden, dropout=dropout, key=next(k), **kw)
    self.skip_x = Linear(d, d, key=next(k), **kw)
    self.activation = ActivationBlock(2 * d, d, init_scale=act_scale, key=next(k), **kw)
    self.update_h = ScaleEq(d, d, n_inv, d_hidden, dropout=dropout, key=next(k), **kw)
    self.cross = tuple(Linear(d, d, key=next(k), **kw) for _ in self.cross_streams)
    self.update_in = InvariantMLP(n_io, d_hidden, n_streams * d, dropout=dropout, key=next(k), **kw)
    self.update_out = InvariantMLP(n_io, d_hidden, n_streams * d, dropout=dropout, key=next(k), **kw)
    k_in, k_out = next(k), next(k)
    self.linear_in = Linear(n_io, n_streams * d, key=k_in, **kw) if io_linear else None
    self.linear_out = Linear(n_io, n_streams * d, key=k_out, **kw) if io_linear else None
    self.edge_gamma = Linear(d, d, key=next(k), **kw)
    self.edge_inv = ScaleInv(d, key=next(k), **kw)
    self.edge_gate = open_gate(InvariantMLP(d, d_gate, d, dropout=dropout, key=next(k), **kw))
    self.edge_src_hidden = eqx.nn.Linear(n_inv, d_gate, use_bias=False, key=next(k), **kw)
    self.edge_dst_hidden = eqx.nn.Linear(n_inv, d_gate, use_bias=False, key=next(k), **kw)
    self.edge_src_io = eqx.nn.Linear(n_io, d_gate, use_bias=False, key=next(k), **kw)
    self.edge_dst_io = eqx.nn.Linear(n_io, d_gate, use_bias=False, key=next(k), **kw)
    return k


class ForwardGMNLayer(GMNLayer):
    """Forward messages only: streams x (q) and h (φ(q))."""

    bidirectional: ClassVar[bool] = False

    def __init__(self, d: int, d_hidden: int, *, d_gate: int | None = None, pairs: tuple = (), dropout: float = 0.0,
                 io_linear: bool = False, activation_scale: float = 1.0, key: PRNGKeyArray, dtype=None):
        n_inv = (3 + len(pairs)) * d
        _forward_blocks(self, d, d_hidden, d_gate or d_hidden, n_inv, 3 * d, 2, tuple(pairs), dropout, io_linear,
                        activation_scale, key, dtype)

    def backward_messages(self, s, reads):
        return None

    def vertex_streams(self, s, l, back):
        return {"x": s.vertex("x", l), "h": s.vertex("h", l)}

    def single_invariants(self, streams, u):
        return [self.inv_u(u), self.inv_h(streams["h"])]

    def delta_update(self, s, l, u, back, invariants, keys):
        return {}


class BidirectionalGMNLayer(GMNLayer):
    """Forward and backward messages: streams x (q), h (φ(q)) and δ (1/q); backward messages
    have type 1/φ(q) and never divide by a weight."""

    backward: ReScaleEq  # ReScaleEq(e_ij, δ_i): type 1/φ(q_j)
    inv_delta: ScaleInv  # type 1/q
    inv_back: ScaleInv  # type 1/φ(q)
    derivative: ActivationBlock  # q -> φ(q)/q
    back_gamma: Linear  # 1/φ(q) -> 1/φ(q)
    update_delta: ScaleEq  # 1/q -> 1/q

    bidirectional: ClassVar[bool] = True

    def __init__(self, d: int, d_hidden: int, *, d_gate: int | None = None, pairs: tuple = (), dropout: float = 0.0,
                 io_linear: bool = False, activation_scale: float = 1.0, key: PRNGKeyArray, dtype=None):
        n_inv = (5 + len(pairs)) * d
        k = _forward_blocks(self, d, d_hidden, d_gate or d_hidden, n_inv, 5 * d, 3, tuple(pairs), dropout,
                            io_linear, activation_scale, key, dtype)
        kw = dict(dtype=dtype)
        self.backward = ReScaleEq(d, d, d, key=next(k), **kw)
        self.inv_delta = ScaleInv(d, key=next(k), **kw)
        self.inv_back = ScaleInv(d, key=next(k), **kw)
        self.derivative = ActivationBlock(2 * d, d, derivative=True, init_scale=activation_scale, key=next(k), **kw)
        self.back_gamma = Linear(d, d, key=next(k), **kw)
        self.update_delta = ScaleEq(d, d, n_inv, d_hidden, dropout=dropout, key=next(k), **kw)

    def backward_source(self, s: GMNState, l: int) -> Typed:
        """The stream a backward message out of vertex layer l carries: δ_l, type 1/q_l."""
        return s.vertex("delta", l)

    def backward_messages(self, s, reads):
        """b_j = Σ_i e_ij Γδ_i, type 1/φ(q_j) (1 on input vertices); no division anywhere."""
        L = s.layout.num_layers
        back = []
        for l in range(L):
            e = Typed(reads[l]["backward"], s.edge(l + 1).type)
            src = self.backward_source(s, l + 1)
            d = Typed(self.backward.right(src.array), src.type)
            back.append(contract_destinations(e, d, s.masks[l + 1], "backward message"))
        back.append(Typed(jnp.zeros_like(s.x[L]), FeatureType.vertex(s.layout, L, Q, "backward message")))
        return back

    def vertex_streams(self, s, l, back):
        return {"x": s.vertex("x", l), "h": s.vertex("h", l), "delta": s.vertex("delta", l), "back": back}

    def single_invariants(self, streams, u):
        return [self.inv_u(u), self.inv_h(streams["h"]), self.inv_delta(streams["delta"]),
                self.inv_back(streams["back"])]

    def delta_update(self, s, l, u, back, invariants, keys):
        """δ' = σ'(Γu) · Γ_b back + ScaleEq(δ): (φ/q)·(1/φ) = 1/q."""
        delta = s.vertex("delta", l)
        d2 = add(mul(self.derivative(u), self.back_gamma.typed(back), "δ"),
                 self.update_delta(delta, invariants, key=keys()), "delta")
        expect(d2, delta.type, "the δ-stream update")
        return {"delta": d2.array}


def make_layer(layout: Layout, d: int, d_hidden: int, *, bidirectional: bool, d_gate: int | None = None,
               dropout: float = 0.0, io_linear: bool = False, key: PRNGKeyArray, dtype=None) -> GMNLayer:
    """The step for ``layout``'s input networks (its invariant products are generated from the layout,
    its activation blocks' initial scale from the layout's activations)."""
    cls = BidirectionalGMNLayer if bidirectional else ForwardGMNLayer
    return cls(d, d_hidden, d_gate=d_gate, pairs=invariant_pairs(layout, bidirectional), dropout=dropout,
               io_linear=io_linear, activation_scale=layout.activation_init_scale, key=key, dtype=dtype)
