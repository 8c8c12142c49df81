"""The constructive proof: a ScaleGMN whose every parameter is chosen by hand.

The model is the library's own ``models.gmn.GMNEncoder`` (the trunk users train),
with all parameters set to zero and then a few entries set to 0/±1 (and the loss
coefficients). Channels: with P probe points the width is ``d = 2P``; channel
``p < P`` ("main") carries probe p, channel ``P + p`` ("aux") carries target p on
output vertices. What each block computes in the construction:

- embedding: hidden/output vertices get their bias b_i on every main channel of the
  q-stream; input vertices carry the probe inputs x_p on main channel p; output
  vertices carry the targets on aux channels; edges carry w_ij on every main channel.
- message (ReScaleEq, then ScaleEq with a constant gate 1): m_ij = w_ij · h_j; the edge
  update keeps w_ij (identity Γ, constant gate 1).
- hidden update: the q-stream keeps b (bias-free skip = identity), the φ-stream is
  the activation block σ(Γ[x, Σ m]) with Γ selecting b + Σ_j w_ij h_j = z_i.
- output update (type 1, the optional linear path): h = b + Σ_j w_ij h_j.
- backward (bidirectional): output vertices form δ = α z + β y + γ (the gradient of an
  MSE-like loss); a backward message w_ij · δ_i summed over i, times the derivative
  block σ'(Γ[x, Σ m]) = σ'(z_j) gives δ_j; input vertices keep Σ_i w_ij δ_i = ∂L/∂x_j.
- readout: a ReScaleEq on (δ_i, h_j) summed over probes is ∂L/∂W_ij; Σ_p δ_i is ∂L/∂b_i.

After step t, forward layer t is exact; backward layer l is exact after 2L − l steps.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from models.gmn import GMNEncoder, GMNLayer, GMNState, Linear, ReScaleEq
from models.graph import Layout, NeuralGraph, to_graph


@dataclasses.dataclass(frozen=True)
class LossCoefficients:
    """δ_out = alpha · output + beta · target + gamma, elementwise (an MSE-like loss's gradient)."""

    alpha: float
    beta: float
    gamma: float = 0.0


def _blank(make, *args, **kwargs):
    """Build a module's structure without running its initialiser, every parameter 0."""
    shapes = eqx.filter_eval_shape(make, *args, **kwargs)
    return jax.tree.map(lambda a: np.zeros(a.shape, a.dtype) if isinstance(a, jax.ShapeDtypeStruct) else a, shapes)


def _as_jax(tree):
    # concrete arrays even when called under a trace: the constructed model is cached
    with jax.ensure_compile_time_eval():
        return jax.tree.map(lambda a: jnp.asarray(a) if isinstance(a, np.ndarray) else a, tree)


def _set(model, where, value):
    old = where(model)
    return eqx.tree_at(where, model, np.asarray(value, old.dtype).reshape(old.shape))


def _main(d: int, P: int) -> np.ndarray:
    """d×d projection onto the main channels."""
    m = np.zeros((d, d))
    m[np.arange(P), np.arange(P)] = 1.0
    return m


def _check_layout(layout: Layout) -> None:
    if any(k is not None for k in layout.kernels):
        raise ValueError(
            "the constructive simulation supports MLP weight spaces; got a CNN (kernels "
            f"{layout.kernels}). Use an MLP WeightSpace"
        )
    if layout.affine:
        raise ValueError(
            f"activations {', '.join(layout.affine)} have affine symmetries; the simulation theorem needs a linear "
            "group (σ(q z) = φ(q) σ(z)). Pick an activation with a linear group (any registry activation but sigmoid)"
        )


@functools.lru_cache(maxsize=64)
def _build_layer(P: int, coeffs: LossCoefficients | None, dtype_name: str) -> GMNLayer:
    """One message-passing step; it does not depend on the architecture, only on P and the loss."""
    dtype = jnp.dtype(dtype_name)
    d = 2 * P
    bidirectional = coeffs is not None
    # the I/O linear path is an option in some versions of GMNLayer and always present in others
    extra = {"io_linear": True} if "io_linear" in inspect.signature(GMNLayer.__init__).parameters else {}
    layer = _blank(GMNLayer, d, 1, bidirectional=bidirectional, dropout=0.0, key=jax.random.key(0), dtype=dtype,
                   **extra)
    eye, main = np.eye(d), _main(d, P)
    layer = _set(layer, lambda m: m.message.left.layer.weight, eye)
    layer = _set(layer, lambda m: m.message.right.layer.weight, main)
    layer = _set(layer, lambda m: m.message_eq.gamma.layer.weight, eye)
    layer = _set(layer, lambda m: m.message_eq.gate.last.bias, np.ones(d))  # constant gate 1
    layer = _set(layer, lambda m: m.skip_x.layer.weight, eye)  # q-stream keeps b
    layer = _set(layer, lambda m: m.edge_gamma.layer.weight, eye)  # edges keep w: Γe ⊙ 1
    layer = _set(layer, lambda m: m.edge_gate.last.bias, np.ones(d))
    select_z = np.concatenate([main, main], axis=1)  # Γ[x, Σm] = b + Σ w h on main channels
    layer = _set(layer, lambda m: m.activation.gamma.layer.weight, select_z)
    n_streams = 3 if bidirectional else 2
    # I = [x, h, (δ), fw, (back)], blocks of d channels; outputs [x, h, (δ)] residual updates
    blocks = ["x", "h"] + (["delta"] if bidirectional else []) + ["fw"] + (["back"] if bidirectional else [])
    col = {name: slice(i * d, (i + 1) * d) for i, name in enumerate(blocks)}
    row = {name: slice(i * d, (i + 1) * d) for i, name in enumerate(["x", "h", "delta"][:n_streams])}
    out = np.zeros((n_streams * d, len(blocks) * d))
    out[row["h"], col["x"]] = main  # h ← b + Σ w h  (as h + (x + fw − h))
    out[row["h"], col["fw"]] = main
    out[row["h"], col["h"]] = -main
    inp = np.zeros_like(out)
    if bidirectional:
        shift = np.zeros((d, d))
        shift[np.arange(P), P + np.arange(P)] = 1.0  # aux (targets) → main
        out[row["delta"], col["x"]] = coeffs.alpha * main + coeffs.beta * shift
        out[row["delta"], col["fw"]] = coeffs.alpha * main
        out[row["delta"], col["delta"]] = -main
        bias = np.zeros(n_streams * d)
        bias[row["delta"]] = coeffs.gamma * np.diag(main)
        layer = _set(layer, lambda m: m.update_out.last.bias, bias)
        inp[row["delta"], col["back"]] = main  # input vertices: ∂L/∂x_j = Σ_i w_ij δ_i
        inp[row["delta"], col["delta"]] = -main
        layer = _set(layer, lambda m: m.backward.left.layer.weight, eye)
        layer = _set(layer, lambda m: m.backward.right.layer.weight, main)
        layer = _set(layer, lambda m: m.derivative.gamma.layer.weight, select_z)
        layer = _set(layer, lambda m: m.back_gamma.layer.weight, main)
    layer = _set(layer, lambda m: m.linear_out.layer.weight, out)
    layer = _set(layer, lambda m: m.linear_in.layer.weight, inp)
    return layer


@functools.lru_cache(maxsize=64)
def _construct(layout: Layout, P: int, coeffs: LossCoefficients | None, dtype_name: str) -> GMNEncoder:
    _check_layout(layout)
    dtype = jnp.dtype(dtype_name)
    d = 2 * P
    L = layout.num_layers
    bidirectional = coeffs is not None
    steps = 2 * L if bidirectional else L
    enc = _blank(GMNEncoder, layout, width=d, n_layers=1, mlp_width=1, bidirectional=bidirectional,
                 vertex_dim=1 + 2 * P, key=jax.random.key(0), dtype=dtype)
    embed = np.zeros((d, 1 + 2 * P))
    embed[np.arange(P), 0] = 1.0  # bias → every main channel
    embed[np.arange(P), 1 + np.arange(P)] = 1.0  # probe p → main channel p
    embed[P + np.arange(P), 1 + P + np.arange(P)] = 1.0  # target p → aux channel p
    enc = _set(enc, lambda m: m.embed_vertex.layer.weight, embed)
    edge = np.zeros((d, layout.edge_dim))
    edge[np.arange(P), 0] = 1.0  # w_ij → every main channel
    enc = _set(enc, lambda m: m.embed_edge.layer.weight, edge)
    for name in ("pe_hidden", "pe_edge", "pe_edge_in", "pe_edge_out"):
        enc = _set(enc, lambda m, n=name: getattr(m, n), np.ones(getattr(enc, name).shape))
    layer = _build_layer(P, coeffs, dtype.name)
    # every step uses the same layer; the encoder keeps its steps' parameters stacked on a leading axis
    stacked = jax.tree.map(lambda a: np.stack([a] * steps) if isinstance(a, np.ndarray) else a, layer)
    enc = eqx.tree_at(lambda m: m.layers, enc, stacked)
    return _as_jax(enc)


def construct(space: Any, n_probes: int, *, loss: LossCoefficients | None = None, dtype=None) -> GMNEncoder:
    """The hand-built ScaleGMN trunk for ``space`` at ``n_probes`` probe points.

    ``loss=None``: the forward model (L steps). Otherwise the bidirectional model (2L
    steps) whose output vertices form ``δ = α·z + β·y + γ``.
    """
    if int(n_probes) < 1:
        raise ValueError(f"need at least one probe point, got n_probes={n_probes}")
    layout = Layout.from_space(space)
    dtype = jnp.dtype(dtype if dtype is not None else jnp.result_type(float))
    return _construct(layout, int(n_probes), loss, dtype.name)


def probe_graph(space: Any, params, xs: Float[Array, "P n_in"], targets: Float[Array, "P n_out"] | None = None
                ) -> NeuralGraph:
    """The network's graph with vertex features ``[b, probes (inputs only), targets (outputs only)]``."""
    base = to_graph(space, params)
    P = xs.shape[0]
    L = base.layout.num_layers
    dtype = params[0][0].dtype
    n_out = base.layout.sizes[-1]
    y = jnp.zeros((P, n_out), dtype) if targets is None else targets
    vertices = [jnp.concatenate([jnp.zeros((xs.shape[1], 1), dtype), xs.T, jnp.zeros((xs.shape[1], P), dtype)], 1)]
    for l in range(1, L + 1):
        b = base.vertices[l]
        aux = y.T if l == L else jnp.zeros((b.shape[0], P), dtype)
        vertices.append(jnp.concatenate([b, jnp.zeros((b.shape[0], P), dtype), aux], axis=1))
    return NeuralGraph(tuple(vertices), base.edges, base.masks, base.layout)


class GradientReadout(eqx.Module):
    """Edge outputs ∂L/∂W_ij = Σ_p δ_i^p h_j^p (a ReScaleEq of types 1/q_i and φ(q_j), summed
    over probes) and vertex outputs ∂L/∂b_i = Σ_p δ_i^p."""

    pair: ReScaleEq
    bias: Linear

    def __init__(self, n_probes: int, *, dtype=None):
        P, d = n_probes, 2 * n_probes
        pair = _blank(ReScaleEq, d, d, P, key=jax.random.key(0), dtype=dtype)
        select = np.zeros((P, d))
        select[np.arange(P), np.arange(P)] = 1.0
        pair = _set(pair, lambda m: m.left.layer.weight, select)
        pair = _set(pair, lambda m: m.right.layer.weight, select)
        bias = _set(_blank(Linear, d, 1, key=jax.random.key(0), dtype=dtype), lambda m: m.layer.weight,
                    np.concatenate([np.ones(P), np.zeros(P)])[None])
        self.pair = _as_jax(pair)
        self.bias = _as_jax(bias)

    def __call__(self, s: GMNState) -> tuple[tuple[Array, Array], ...]:
        out = []
        for l in range(1, s.layout.num_layers + 1):
            dw = jnp.sum(self.pair(s.delta[l][:, None], s.h[l - 1][None]), axis=-1)
            db = self.bias(s.delta[l])[:, 0]
            out.append((dw, db))
        return tuple(out)
