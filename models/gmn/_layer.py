"""One message-passing step of ScaleGMN, forward or bidirectional.

Every typed quantity is built from the blocks in ``_blocks``; the type of each one
is written next to it. Parameters are shared by all hidden layer blocks; only the
static choice of canonicalisation and activation differs between them.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from models.gmn._blocks import (
    ActivationBlock,
    DerivativeBlock,
    InvariantMLP,
    Linear,
    ReScaleEq,
    ScaleEq,
    ScaleInv,
    open_gate,
    over_rows,
)
from models.gmn._state import GMNState


def _keys(key: PRNGKeyArray | None, n: int) -> list:
    return list(jax.random.split(key, n)) if key is not None else [None] * n


class GMNLayer(eqx.Module):
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
    # input / output vertices (type 1): unconstrained MLP plus a linear path, residual
    update_in: InvariantMLP
    update_out: InvariantMLP
    # optional bias-free linear paths added to those MLPs (type 1, so any linear map is allowed);
    # they let an I/O update express affine maps exactly, e.g. b + Σ w h on output vertices
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
    # bidirectional only
    backward: ReScaleEq | None  # ReScaleEq(e_ij, δ_i): type 1/φ(q_j)
    inv_delta: ScaleInv | None  # type 1/q
    inv_back: ScaleInv | None  # type 1/φ(q)
    cross_q: ReScaleEq | None  # x (q) × δ (1/q) -> invariant
    cross_phi: ReScaleEq | None  # h (φ) × back (1/φ) -> invariant
    derivative: DerivativeBlock | None  # q -> φ(q)/q
    back_gamma: Linear | None  # 1/φ(q) -> 1/φ(q)
    update_delta: ScaleEq | None  # 1/q -> 1/q
    bidirectional: bool = eqx.field(static=True)

    def __init__(self, d: int, d_hidden: int, *, bidirectional: bool, dropout: float, key: PRNGKeyArray, dtype=None,
                 io_linear: bool = False):
        k = iter(jax.random.split(key, 32))
        kw = dict(dtype=dtype)
        n_inv = 7 * d if bidirectional else 3 * d  # hidden-vertex invariants
        n_io = 5 * d if bidirectional else 3 * d  # raw I/O features [x, h, (δ), m, (back)]
        n_streams = 3 if bidirectional else 2
        self.bidirectional = bidirectional
        self.message = ReScaleEq(d, d, d, key=next(k), **kw)
        self.message_inv = ScaleInv(d, key=next(k), **kw)
        self.message_eq = ScaleEq(d, d, d, d_hidden, dropout=dropout, key=next(k), **kw)
        self.inv_u = ScaleInv(2 * d, key=next(k), **kw)
        self.inv_h = ScaleInv(d, key=next(k), **kw)
        self.update_x = ScaleEq(2 * d, d, n_inv, d_hidden, dropout=dropout, key=next(k), **kw)
        self.skip_x = Linear(d, d, key=next(k), **kw)
        self.activation = ActivationBlock(2 * d, d, key=next(k), **kw)
        self.update_h = ScaleEq(d, d, n_inv, d_hidden, dropout=dropout, key=next(k), **kw)
        self.update_in = InvariantMLP(n_io, d_hidden, n_streams * d, dropout=dropout, key=next(k), **kw)
        self.update_out = InvariantMLP(n_io, d_hidden, n_streams * d, dropout=dropout, key=next(k), **kw)
        if io_linear:
            k_in, k_out = jax.random.split(jax.random.fold_in(key, 1))
            self.linear_in = Linear(n_io, n_streams * d, key=k_in, **kw)
            self.linear_out = Linear(n_io, n_streams * d, key=k_out, **kw)
        else:
            self.linear_in = self.linear_out = None
        self.edge_gamma = Linear(d, d, key=next(k), **kw)
        self.edge_inv = ScaleInv(d, key=next(k), **kw)
        self.edge_gate = open_gate(InvariantMLP(d, d_hidden, d, dropout=dropout, key=next(k), **kw))
        self.edge_src_hidden = eqx.nn.Linear(n_inv, d_hidden, use_bias=False, key=next(k), **kw)
        self.edge_dst_hidden = eqx.nn.Linear(n_inv, d_hidden, use_bias=False, key=next(k), **kw)
        self.edge_src_io = eqx.nn.Linear(n_io, d_hidden, use_bias=False, key=next(k), **kw)
        self.edge_dst_io = eqx.nn.Linear(n_io, d_hidden, use_bias=False, key=next(k), **kw)
        if bidirectional:
            self.backward = ReScaleEq(d, d, d, key=next(k), **kw)
            self.inv_delta = ScaleInv(d, key=next(k), **kw)
            self.inv_back = ScaleInv(d, key=next(k), **kw)
            self.cross_q = ReScaleEq(d, d, d, key=next(k), **kw)
            self.cross_phi = ReScaleEq(d, d, d, key=next(k), **kw)
            self.derivative = DerivativeBlock(2 * d, d, key=next(k), **kw)
            self.back_gamma = Linear(d, d, key=next(k), **kw)
            self.update_delta = ScaleEq(d, d, n_inv, d_hidden, dropout=dropout, key=next(k), **kw)
        else:
            self.backward = self.inv_delta = self.inv_back = self.cross_q = self.cross_phi = None
            self.derivative = self.back_gamma = self.update_delta = None

    # -------------------------------------------------------------------------------------------
    def __call__(self, s: GMNState, *, key: PRNGKeyArray | None = None) -> GMNState:
        layout = s.layout
        L = layout.num_layers
        keys = iter(_keys(key, 8 * (L + 1)))

        # forward messages, type q_l (1 on output vertices)
        fw = [jnp.zeros_like(s.x[0])]
        for l in range(1, L + 1):
            raw = self.message(s.edges[l - 1], s.h[l - 1][None])  # [n_l, n_{l-1}, d]
            m = self.message_eq(raw, self.message_inv(raw, s.x_type(l)), key=next(keys))
            fw.append(jnp.einsum("ijd,j->id", m, s.masks[l - 1]))

        # backward messages, type 1/φ(q_j) (1 on input vertices); no division anywhere
        if self.bidirectional:
            back = []
            for l in range(L):
                e = self.backward.left(s.edges[l])  # [n_{l+1}, n_l, d]
                dl = self.backward.right(s.delta[l + 1]) * s.masks[l + 1][:, None]
                back.append(jnp.einsum("ijd,id->jd", e, dl))
            back.append(jnp.zeros_like(s.x[L]))

        inv, new_x, new_h, new_d = [], [], [], []
        for l in range(L + 1):
            x, h = s.x[l], s.h[l]
            if 0 < l < L:
                u = jnp.concatenate([x, fw[l]], axis=-1)  # type q
                parts = [self.inv_u(u, s.x_type(l)), self.inv_h(h, s.h_type(l))]
                if self.bidirectional:
                    d, b = s.delta[l], back[l]
                    parts += [
                        self.inv_delta(d, s.delta_type(l)),
                        self.inv_back(b, s.h_type(l).inverse()),
                        self.cross_q(x, d),  # q · 1/q
                        self.cross_phi(h, b),  # φ · 1/φ
                    ]
                I = jnp.concatenate(parts, axis=-1)
                act = layout.activation(l)
                x2 = self.skip_x(x) + self.update_x(u, I, key=next(keys))
                h2 = self.activation(u, act) + self.update_h(h, I, key=next(keys))
                d2 = jnp.zeros_like(x)
                if self.bidirectional:
                    d2 = self.derivative(u, act) * self.back_gamma(b) + self.update_delta(d, I, key=next(keys))
            else:
                zero = jnp.zeros_like(x)
                streams = [x, h] + ([s.delta[l]] if self.bidirectional else [])
                incoming = [fw[l]] + ([back[l]] if self.bidirectional else [])
                I = jnp.concatenate(streams + incoming, axis=-1)
                mlp = self.update_in if l == 0 else self.update_out
                o = mlp(I, key=next(keys))
                linear = self.linear_in if l == 0 else self.linear_out
                if linear is not None:
                    o = o + linear(I)
                out = jnp.split(o, len(streams), axis=-1)
                x2, h2 = x + out[0], h + out[1]
                d2 = s.delta[l] + out[2] if self.bidirectional else zero
            mask = s.masks[l][:, None]
            inv.append(I)
            new_x.append(x2 * mask)
            new_h.append(h2 * mask)
            new_d.append(d2 * mask)

        # edge updates, type-preserving
        new_e = []
        for l in range(1, L + 1):
            e = s.edges[l - 1]
            src = (self.edge_src_hidden if 0 < l - 1 < L else self.edge_src_io)
            dst = (self.edge_dst_hidden if 0 < l < L else self.edge_dst_io)
            pre = (
                over_rows(self.edge_gate.first, self.edge_inv(e, s.edge_type(l)))
                + over_rows(dst, inv[l])[:, None]
                + over_rows(src, inv[l - 1])[None]
            )
            e2 = self.edge_gamma(e) * self.edge_gate.hidden(pre, key=next(keys))
            new_e.append(e2 * (s.masks[l][:, None, None] * s.masks[l - 1][None, :, None]))

        return GMNState(
            x=tuple(new_x),
            h=tuple(new_h),
            delta=tuple(new_d) if self.bidirectional else None,
            edges=tuple(new_e),
            masks=s.masks,
            layout=layout,
        )

