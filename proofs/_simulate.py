"""Run the constructed ScaleGMN on a network and read off its forward and backward pass.

``simulate_forward`` / ``simulate_backward`` use the hand-built model of
``proofs._construct``; ``reference_forward`` / ``reference_backward`` evaluate the
network directly (and ``jax.grad``) for comparison; ``layer_errors`` is the
scale-adjusted error per layer used by the tests, the CLI and the benchmark.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from symm import TRIVIAL, Character, NeuronFeatures

from models.graph import Layout

from proofs._construct import GradientReadout, LossCoefficients, construct, probe_graph

INV_Q = Character(-1, 1)
Params = tuple[tuple[Array, Array], ...]
Loss = Callable[[Array, Array], Array]


def mse(outputs: Float[Array, "P n_out"], targets: Float[Array, "P n_out"]) -> Float[Array, ""]:
    """Mean squared error over probes and outputs (the default loss)."""
    return jnp.mean((outputs - targets) ** 2)


class BackwardSimulation(eqx.Module):
    """``forward``: post-activations per layer; ``deltas``: ∂L/∂z per neuron (layer 0: ∂L/∂x);
    ``grads``: ∂L/∂(W, b) in the params format."""

    forward: NeuronFeatures
    deltas: NeuronFeatures
    grads: Params


def _is_cnn(layout: Layout) -> bool:
    return layout.kernels[0] is not None


def _checked(space: Any, params: Params, xs: Array) -> Layout:
    layout = Layout.from_space(space)
    if not isinstance(params, (tuple, list)) or len(params) != layout.num_layers:
        raise ValueError(f"params must be a tuple of {layout.num_layers} (W, b) pairs for sizes {layout.sizes}")
    xs = jnp.asarray(xs)
    if _is_cnn(layout):
        if xs.ndim != 4 or xs.shape[1] != layout.sizes[0]:
            raise ValueError(
                f"xs must have shape [n_probes, {layout.sizes[0]}, H, W] (one image per probe point) for this CNN, "
                f"got {tuple(xs.shape)}"
            )
    elif xs.ndim != 2 or xs.shape[1] != layout.sizes[0]:
        raise ValueError(
            f"xs must have shape [n_probes, {layout.sizes[0]}] (one row per probe point), got {tuple(xs.shape)}"
        )
    if xs.dtype != params[0][0].dtype:
        raise ValueError(f"xs has dtype {xs.dtype} but the params are {params[0][0].dtype}; use one dtype")
    return layout


def _image(layout: Layout, xs: Array) -> tuple[int, int] | None:
    return tuple(xs.shape[2:]) if _is_cnn(layout) else None


def _post_types(layout: Layout) -> tuple[Character, ...]:
    return (TRIVIAL,) + tuple(layout.phi(l) for l in range(1, layout.num_layers)) + (TRIVIAL,)


def _delta_types(layout: Layout) -> tuple[Character, ...]:
    return (TRIVIAL,) + (INV_Q,) * (layout.num_layers - 1) + (TRIVIAL,)


def _main(v: Array, P: int) -> Array:
    return v[:, :P]


def _readout(layout: Layout, vertices: tuple[Array, ...], xs: Array) -> tuple[Array, ...]:
    """Main channels per vertex layer: ``[n, P, H, W]`` for images and feature maps, ``[n, P]`` for dense
    layers (their states are constant over pixels: read pixel 0)."""
    P = xs.shape[0]
    if not _is_cnn(layout):
        return tuple(_main(v, P) for v in vertices)
    image = xs.shape[2:]
    S = image[0] * image[1]
    out = []
    for l, v in enumerate(vertices):
        maps = l == 0 or layout.kernels[l - 1] is not None
        out.append(v[:, : P * S].reshape((v.shape[0], P) + image) if maps else v[:, : P * S : S])
    return tuple(out)


def _groups(xs: Array, probes_per_model: int | None) -> Array:
    """Probes split into groups of ``probes_per_model`` along a new leading axis."""
    P = xs.shape[0]
    size = P if probes_per_model is None else int(probes_per_model)
    if size < 1 or P % size:
        raise ValueError(f"probes_per_model={probes_per_model} must be a positive divisor of the {P} probes")
    return xs.reshape((P // size, size) + xs.shape[1:])


def _merge(groups: Array) -> Array:
    """``[G, n, size, ...]`` per-group states → ``[n, G·size, ...]``."""
    g = jnp.moveaxis(groups, 0, 1)
    return g.reshape((g.shape[0], g.shape[1] * g.shape[2]) + g.shape[3:])


def simulate_forward(space: Any, params: Params, xs: Float[Array, "P n_in *image"], *,
                     probes_per_model: int | None = None) -> NeuronFeatures:
    """Post-activations of every layer, computed by the constructed forward ScaleGMN in L message-passing steps.

    MLP: ``xs [P, n_in]``, layer states ``[n_l, P]``. CNN: ``xs [P, C, H, W]`` images, conv layer
    states ``[c_l, P, H, W]`` (feature maps), dense layers after global average pooling ``[n_l, P]``.
    Layer 0 holds the probes, layer L the network's output.

    ``probes_per_model``: by default one model carries every probe on its own channel. The
    constructed maps never mix probes, so the same construction at ``probes_per_model`` channels,
    ``jax.vmap``-ed over groups of probes, gives the same states; its linear maps are d×d, so
    small groups skip the cross-probe zeros (on CPU at 64 probes, 1-probe models run the forward
    pass about 2× faster; the rest is the layer's elementwise work per edge).
    """
    layout = _checked(space, params, xs)
    groups = _groups(xs, probes_per_model)
    model = construct(layout, groups.shape[1], dtype=xs.dtype, image=_image(layout, xs))

    def run(x):
        return _readout(layout, model(probe_graph(layout, params, x)).h, x)

    with jax.default_matmul_precision("highest"):
        states = jax.vmap(run)(groups)
    return NeuronFeatures(tuple(_merge(h) for h in states), _post_types(layout))


def loss_coefficients(loss: Loss | None, n_probes: int, n_out: int, *, dtype=None) -> LossCoefficients:
    """(α, β, γ) with ∂loss/∂output = α·output + β·target + γ, or a ValueError if the loss has no such form.

    The output vertices' update is affine, so it expresses exactly the gradients of MSE-like losses.
    """
    dtype = jnp.dtype(dtype if dtype is not None else jnp.result_type(float))
    if loss is None:
        c = 2.0 / (n_probes * n_out)
        return LossCoefficients(c, -c, 0.0)
    shape = (n_probes, n_out)
    with jax.ensure_compile_time_eval():
        grad = jax.grad(lambda z, y: jnp.asarray(loss(z, y), dtype), argnums=0)
        zero, one = jnp.zeros(shape, dtype), jnp.ones(shape, dtype)
        g0 = grad(zero, zero)
        gamma = float(g0[0, 0])
        alpha = float(grad(one, zero)[0, 0]) - gamma
        beta = float(grad(zero, one)[0, 0]) - gamma
        kz, ky = jax.random.split(jax.random.key(1))
        z, y = jax.random.normal(kz, shape, dtype), jax.random.normal(ky, shape, dtype)
        want = grad(z, y)
        got = alpha * z + beta * y + gamma
        err = float(jnp.max(jnp.abs(want - got)) / (jnp.max(jnp.abs(want)) + 1e-30))
    if not err < 100 * float(jnp.finfo(dtype).eps):
        raise ValueError(
            "the simulated backward pass needs a loss whose gradient in the outputs is elementwise affine, "
            "∂loss/∂z = α·z + β·y + γ (MSE-like: the output vertices' update is linear); this loss's gradient is "
            f"not (relative mismatch {err:.2e}). Use loss=None (MSE) or a scaled/shifted squared error"
        )
    return LossCoefficients(alpha, beta, gamma)


def simulate_backward(
    space: Any,
    params: Params,
    xs: Float[Array, "P n_in"],
    loss: Loss | None = None,
    *,
    targets: Float[Array, "P n_out"] | None = None,
    probes_per_model: int | None = None,
) -> BackwardSimulation:
    """The backward pass by the constructed bidirectional ScaleGMN in 2L steps.

    ``loss(outputs [P, n_out], targets [P, n_out]) -> scalar``, MSE by default; targets
    default to zeros. Vertex states are ∂loss/∂z per neuron; the gradient readout gives
    ∂loss/∂W and ∂loss/∂b. ``probes_per_model`` as in ``simulate_forward`` (the loss
    coefficients are those of all P probes; the readouts of the groups add up).
    """
    layout = _checked(space, params, xs)
    P, n_out = xs.shape[0], layout.sizes[-1]
    if targets is not None and tuple(targets.shape) != (P, n_out):
        raise ValueError(f"targets must have shape [{P}, {n_out}] (one row per probe), got {tuple(targets.shape)}")
    if _is_cnn(layout):
        raise ValueError(
            "the backward simulation supports MLP weight spaces; for a CNN use simulate_forward (and "
            "reference_backward for its gradients)"
        )
    coeffs = loss_coefficients(loss, P, n_out, dtype=xs.dtype)
    groups = _groups(xs, probes_per_model)
    size = groups.shape[1]
    y = jnp.zeros((P, n_out), xs.dtype) if targets is None else targets
    model = construct(layout, size, loss=coeffs, dtype=xs.dtype)
    readout = GradientReadout(size, dtype=xs.dtype)

    def run(x, t):
        state = model(probe_graph(layout, params, x, t))
        return tuple(_main(h, size) for h in state.h), tuple(_main(d, size) for d in state.delta), readout(state)

    with jax.default_matmul_precision("highest"):
        h, delta, grads = jax.vmap(run)(groups, y.reshape((groups.shape[0], size, n_out)))
    return BackwardSimulation(
        forward=NeuronFeatures(tuple(_merge(a) for a in h), _post_types(layout)),
        deltas=NeuronFeatures(tuple(_merge(a) for a in delta), _delta_types(layout)),
        grads=jax.tree.map(lambda a: jnp.sum(a, axis=0), grads),
    )


# ------------------------------------------------------------------ direct evaluation
def _network(layout: Layout, params: Params, xs: Array, offsets=None):
    """Per-layer post-activations ``[n_l, P, ...]``; ``offsets`` are added to every pre-activation.

    Conv layers as ``WeightSpace.apply``: same padding, stride 1, cross-correlation; global average
    pooling before the first dense layer.
    """
    h = jnp.moveaxis(xs, 0, 1)  # [n_0, P, ...]
    posts = [h]
    L = layout.num_layers
    for l, (w, b) in enumerate(params, start=1):
        if layout.kernels[l - 1] is not None:
            z = jax.lax.conv_general_dilated(h, w, window_strides=(1, 1), padding="SAME",
                                             dimension_numbers=("CNHW", "OIHW", "CNHW"))
            z = z + b[:, None, None, None]
        else:
            if h.ndim == 4:  # conv → dense: global average pooling over space
                h = jnp.mean(h, axis=(2, 3))
            z = w @ h + b[:, None]
        if offsets is not None:
            z = z + offsets[l - 1]
        h = layout.activation(l)(z) if l < L else z
        posts.append(h)
    return posts


def reference_forward(space: Any, params: Params, xs: Float[Array, "P n_in *image"]) -> NeuronFeatures:
    """The network's own post-activations per layer, shaped as ``simulate_forward``'s."""
    layout = _checked(space, params, xs)
    with jax.default_matmul_precision("highest"):
        return NeuronFeatures(tuple(_network(layout, params, xs)), _post_types(layout))


def reference_backward(
    space: Any, params: Params, xs: Array, loss: Loss | None = None, *, targets: Array | None = None
) -> BackwardSimulation:
    """``jax.grad`` of the loss: ∂L/∂z per neuron (via zero offsets on the pre-activations), ∂L/∂x, ∂L/∂params."""
    layout = _checked(space, params, xs)
    loss = mse if loss is None else loss
    y = jnp.zeros((xs.shape[0], layout.sizes[-1]), xs.dtype) if targets is None else targets

    def total(params, xs, offsets):
        return loss(_network(layout, params, xs, offsets)[-1].T, y)

    with jax.default_matmul_precision("highest"):
        posts = _network(layout, params, xs)
        offsets = [jnp.zeros_like(h) for h in posts[1:]]  # pre-activations have the post-activations' shapes
        g_params, g_x, g_z = jax.grad(total, argnums=(0, 1, 2))(tuple(params), xs, offsets)
    return BackwardSimulation(
        forward=NeuronFeatures(tuple(posts), _post_types(layout)),
        deltas=NeuronFeatures((jnp.moveaxis(g_x, 0, 1),) + tuple(g_z), _delta_types(layout)),
        grads=tuple((w, b) for w, b in g_params),
    )


def relative_error(got: Array, want: Array) -> Array:
    """max |got − want| / max |want| (scale-adjusted; 0/0 counts as 0)."""
    num = jnp.max(jnp.abs(got - want))
    den = jnp.max(jnp.abs(want))
    return jnp.where(den > 0, num / jnp.where(den > 0, den, 1.0), num)


def layer_errors(got: NeuronFeatures, want: NeuronFeatures) -> tuple[Array, ...]:
    """Per-layer relative error between two per-neuron feature sets."""
    return tuple(relative_error(a, b) for a, b in zip(got.features, want.features))


def grad_errors(got: Params, want: Params) -> tuple[tuple[Array, Array], ...]:
    return tuple((relative_error(gw, ww), relative_error(gb, wb)) for (gw, gb), (ww, wb) in zip(got, want))
