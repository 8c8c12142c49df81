"""The constructive proof: a ScaleGMN whose every parameter is chosen by hand.

The model is the library's own ``models.gmn.GMNEncoder`` (the trunk users train),
with all parameters set to zero and then a few entries set to 0/±1 (1/(H·W) for
pooling, and the loss coefficients). A ``ChannelPlan`` says where everything lives
on the width-d channel axis. Vertex channels: with P probe points and S pixels
(S = H·W for a CNN, 1 for an MLP), "main" channel ``p·S + u`` carries probe p at
pixel u; for the backward model "aux" channel ``P·S + p`` carries target p on
output vertices. Dense layers' states are constant over u (a pooled value is the
same at every pixel). What each block computes in the construction:

- embedding: hidden/output vertices get their bias b_i on every main channel of the
  q-stream; input vertices carry the probe inputs on the main channels; output
  vertices carry the targets on aux channels. Edges: a dense w_ij goes to the
  "pool" block of the message channels, conv tap t of a k×k kernel to tap block
  (k, t); the per-layer multiplicative edge encoding keeps only the block of the
  layer's own kind, so one shared set of parameters serves conv and dense layers.
- message (ReScaleEq, then ScaleEq with a constant gate 1): the right map of the
  ReScaleEq copies the source's pixel u + offset(t) into tap channel (t, p, u) (zero
  outside the image: same padding) and the mean over pixels into pool channel (p, u);
  the product with the edge channels is w_ij[t] · h_j(p, u + offset(t)), and Γ of the
  ScaleEq sums the taps: m_ij(p, u) = (w_ij ⋆ h_j)(p, u), a convolution, or for a
  dense edge w_ij · mean_u h_j (global average pooling, then the dense layer).
  The edge update keeps w_ij (identity Γ, constant gate 1).
- hidden update: the q-stream keeps b (bias-free skip = identity), the φ-stream is
  the activation block σ(Γ[x, Σ m]) with Γ selecting b + Σ_j m_ij = z_i.
- output update (type 1, the optional linear path): h = b + Σ_j w_ij h_j.
- backward (bidirectional, MLPs): output vertices form δ = α z + β y + γ (the gradient
  of an MSE-like loss); a backward message w_ij · δ_i summed over i, times the
  derivative block σ'(Γ[x, Σ m]) = σ'(z_j) gives δ_j; input vertices keep
  Σ_i w_ij δ_i = ∂L/∂x_j.
- readout: a ReScaleEq on (δ_i, h_j) summed over probes is ∂L/∂W_ij; Σ_p δ_i is ∂L/∂b_i.

After step t, forward layer t is exact; backward layer l is exact after 2L − l steps.

Why a convolution costs width: a ReScaleEq message is a channelwise product of
two linear maps, so each of the k² products w[t] · h(u + offset(t)) needs its own
channel before Γ sums them; d = P·S·(1 + Σ_k k²) for a CNN (P for an MLP's forward
model, 2P for its backward model).
"""

from __future__ import annotations

import dataclasses
import functools
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


@dataclasses.dataclass(frozen=True)
class ChannelPlan:
    """Where each quantity lives on the construction's channel axis (hashable: it keys the cache).

    ``probes`` P; ``image`` (H, W) of a CNN's inputs, (1, 1) for an MLP; ``kernels`` the
    distinct conv kernel sizes; ``backward`` whether aux (target) channels are needed.
    """

    probes: int
    image: tuple[int, int] = (1, 1)
    kernels: tuple[int, ...] = ()
    backward: bool = False

    @classmethod
    def of(cls, layout: Layout, probes: int, image: tuple[int, int] | None, backward: bool) -> "ChannelPlan":
        kernels = tuple(sorted({k for k in layout.kernels if k is not None}))
        if kernels and image is None:
            raise ValueError("a CNN weight space needs the probe image size: pass image=(H, W)")
        if not kernels and image not in (None, (1, 1)):
            raise ValueError(f"an MLP weight space has no image; got image={image}")
        image = (1, 1) if image is None else (int(image[0]), int(image[1]))
        if min(image) < 1:
            raise ValueError(f"image size must be positive, got {image}")
        return cls(int(probes), image, kernels, bool(backward))

    @property
    def pixels(self) -> int:
        return self.image[0] * self.image[1]

    @property
    def main(self) -> int:
        """Number of main channels, P·S (probe-major: channel p·S + u)."""
        return self.probes * self.pixels

    @property
    def vertex_dim(self) -> int:
        """Graph vertex features: [bias, probe pixels (inputs), targets (outputs)]."""
        return 1 + self.main + self.probes

    def tap_start(self, k: int) -> int:
        """First message channel of the tap block of kernel size ``k``."""
        before = sum(j * j for j in self.kernels if j < k)
        return self.main * (1 + before)

    @property
    def width(self) -> int:
        vertex = self.main + (self.probes if self.backward else 0)
        message = self.main * (1 + sum(k * k for k in self.kernels))
        return max(vertex, message)

    def offsets(self, k: int) -> list[tuple[int, int, int]]:
        """(tap t, dy, dx) of a k×k kernel under same padding (as ``lax.conv`` with padding="SAME")."""
        lo = (k - 1) // 2
        return [(a * k + b, a - lo, b - lo) for a in range(k) for b in range(k)]


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


def _main(plan: ChannelPlan) -> np.ndarray:
    """d×d projection onto the main channels."""
    d = plan.width
    m = np.zeros((d, d))
    m[np.arange(plan.main), np.arange(plan.main)] = 1.0
    return m


def _gather(plan: ChannelPlan) -> np.ndarray:
    """Message channels ← vertex channels.

    Pool block (p, u) ← mean over u' of (p, u'); tap block (k, t, p, u) ← (p, u + offset(t)), 0 off the image.
    """
    d, S, (H, W) = plan.width, plan.pixels, plan.image
    r = np.zeros((d, d))
    for p in range(plan.probes):
        r[p * S : (p + 1) * S, p * S : (p + 1) * S] = 1.0 / S
    for k in plan.kernels:
        start = plan.tap_start(k)
        for t, dy, dx in plan.offsets(k):
            for p in range(plan.probes):
                for y in range(H):
                    for x in range(W):
                        sy, sx = y + dy, x + dx
                        if 0 <= sy < H and 0 <= sx < W:
                            r[start + t * plan.main + p * S + y * W + x, p * S + sy * W + sx] = 1.0
    return r


def _sum_taps(plan: ChannelPlan) -> np.ndarray:
    """Vertex main channels ← message channels: the pool block plus every tap of every kernel size."""
    d, n = plan.width, plan.main
    g = np.zeros((d, d))
    g[np.arange(n), np.arange(n)] = 1.0
    for k in plan.kernels:
        for t in range(k * k):
            g[np.arange(n), plan.tap_start(k) + t * n + np.arange(n)] = 1.0
    return g


def _check_layout(layout: Layout) -> None:
    if layout.affine:
        raise ValueError(
            f"activations {', '.join(layout.affine)} have affine symmetries; the simulation theorem needs a linear "
            "group (σ(q z) = φ(q) σ(z)). Pick an activation with a linear group (any registry activation but sigmoid)"
        )


def _build_layer(layer: GMNLayer, plan: ChannelPlan, coeffs: LossCoefficients | None) -> GMNLayer:
    """Set one (blank) message-passing step's parameters; they depend only on the plan and the loss."""
    d, P = plan.width, plan.probes
    bidirectional = coeffs is not None
    eye, main = np.eye(d), _main(plan)
    layer = _set(layer, lambda m: m.message.left.layer.weight, eye)
    layer = _set(layer, lambda m: m.message.right.layer.weight, _gather(plan))
    layer = _set(layer, lambda m: m.message_eq.gamma.layer.weight, _sum_taps(plan))
    layer = _set(layer, lambda m: m.message_eq.gate.last.bias, np.ones(d))  # constant gate 1
    layer = _set(layer, lambda m: m.skip_x.layer.weight, eye)  # q-stream keeps b
    layer = _set(layer, lambda m: m.edge_gamma.layer.weight, eye)  # edges keep w: Γe ⊙ 1
    layer = _set(layer, lambda m: m.edge_gate.last.bias, np.ones(d))
    select_z = np.concatenate([main, main], axis=1)  # Γ[x, Σm] = b + Σ m on main channels
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
        shift[np.arange(P), plan.main + np.arange(P)] = 1.0  # aux (targets) → main
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
def _construct(layout: Layout, plan: ChannelPlan, coeffs: LossCoefficients | None, dtype_name: str) -> GMNEncoder:
    _check_layout(layout)
    dtype = jnp.dtype(dtype_name)
    d, P, n = plan.width, plan.probes, plan.main
    L = layout.num_layers
    bidirectional = coeffs is not None
    steps = 2 * L if bidirectional else L
    # the trainable trunk itself, with its linear I/O path switched on
    enc = _blank(GMNEncoder, layout, width=d, n_layers=1, mlp_width=1, bidirectional=bidirectional,
                 vertex_dim=plan.vertex_dim, io_linear=True, key=jax.random.key(0), dtype=dtype)
    embed = np.zeros((d, plan.vertex_dim))
    embed[np.arange(n), 0] = 1.0  # bias → every main channel
    embed[np.arange(n), 1 + np.arange(n)] = 1.0  # probe p at pixel u → main channel p·S + u
    if bidirectional:
        embed[n + np.arange(P), 1 + n + np.arange(P)] = 1.0  # target p → aux channel p
    enc = _set(enc, lambda m: m.embed_vertex.layer.weight, embed)
    edge = np.zeros((d, layout.edge_dim))
    edge[np.arange(n), 0] = 1.0  # dense w_ij → the pool block
    for k in plan.kernels:
        for t in range(k * k):
            edge[plan.tap_start(k) + t * n + np.arange(n), t] = 1.0  # conv tap t → tap block (k, t)
    enc = _set(enc, lambda m: m.embed_edge.layer.weight, edge)
    keep = np.zeros((L, d))  # per weight layer: only the block of the layer's own kind survives
    for l, k in enumerate(layout.kernels):
        start = 0 if k is None else plan.tap_start(k)
        keep[l, start : start + (1 if k is None else k * k) * n] = 1.0
    enc = _set(enc, lambda m: m.pe_edge, keep)
    for name in ("pe_hidden", "pe_edge_in", "pe_edge_out"):
        enc = _set(enc, lambda m, n=name: getattr(m, n), np.ones(getattr(enc, name).shape))
    layer = _build_layer(jax.tree.map(lambda a: a[0] if isinstance(a, np.ndarray) else a, enc.layers), plan, coeffs)
    # every step uses the same layer; the encoder keeps its steps' parameters stacked on a leading axis
    stacked = jax.tree.map(lambda a: np.stack([a] * steps) if isinstance(a, np.ndarray) else a, layer)
    enc = eqx.tree_at(lambda m: m.layers, enc, stacked)
    return _as_jax(enc)


def construct(space: Any, n_probes: int, *, loss: LossCoefficients | None = None, dtype=None,
              image: tuple[int, int] | None = None) -> GMNEncoder:
    """The hand-built ScaleGMN trunk for ``space`` at ``n_probes`` probe points.

    ``loss=None``: the forward model (L steps). Otherwise the bidirectional model (2L
    steps) whose output vertices form ``δ = α·z + β·y + γ`` (MLP weight spaces).
    CNN weight spaces need the probe images' ``image=(H, W)``.
    """
    if int(n_probes) < 1:
        raise ValueError(f"need at least one probe point, got n_probes={n_probes}")
    layout = Layout.from_space(space)
    if loss is not None and any(k is not None for k in layout.kernels):
        raise ValueError(
            "the backward (bidirectional) construction supports MLP weight spaces; for a CNN use the forward "
            "simulation (simulate_forward)"
        )
    plan = ChannelPlan.of(layout, int(n_probes), image, loss is not None)
    dtype = jnp.dtype(dtype if dtype is not None else jnp.result_type(float))
    return _construct(layout, plan, loss, dtype.name)


def probe_graph(space: Any, params, xs: Float[Array, "P n_in *image"], targets: Float[Array, "P n_out"] | None = None
                ) -> NeuralGraph:
    """The network's graph with vertex features ``[b, probes (inputs only), targets (outputs only)]``.

    ``xs``: ``[P, n_in]`` for an MLP, ``[P, C, H, W]`` images for a CNN; an input vertex
    carries its value at every probe and pixel, probe-major.
    """
    base = to_graph(space, params)
    P = xs.shape[0]
    L = base.layout.num_layers
    dtype = params[0][0].dtype
    n_in, n_out = base.layout.sizes[0], base.layout.sizes[-1]
    pixels = jnp.moveaxis(xs, 1, 0).reshape(n_in, -1)  # [n_in, P·S]
    y = jnp.zeros((P, n_out), dtype) if targets is None else targets
    vertices = [jnp.concatenate([jnp.zeros((n_in, 1), dtype), pixels, jnp.zeros((n_in, P), dtype)], 1)]
    for l in range(1, L + 1):
        b = base.vertices[l]
        aux = y.T if l == L else jnp.zeros((b.shape[0], P), dtype)
        vertices.append(jnp.concatenate([b, jnp.zeros((b.shape[0], pixels.shape[1]), dtype), aux], axis=1))
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
