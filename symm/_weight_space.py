"""The parameter space of a family of networks, and its derived symmetry group.

A ``WeightSpace`` describes structure only: the width of every layer, whether a
layer is dense or a same-padded stride-1 convolution (and its kernel size), and
the activation of every hidden layer. Each hidden neuron's group comes from
``symm.derive`` of its activation, never from a flag.

Networks: hidden layers ``h_l = σ_l(W_l h_{l-1} + b_l)``, a linear output layer.
CNNs (the Small-CNN-Zoo shape): conv layers with activations, global average
pooling over space, then dense layers. For a CNN a channel is a neuron.

Why the action has the form it has. Let neuron ``i`` of hidden layer ``l`` carry
scale ``q_i`` and let ``σ(q z) = φ(q) σ(z) + c(q)``. Scaling and permuting the
pre-activations, ``z'_l = P_l Q_l z_l``, gives ``h'_l = P_l (φ(Q_l) h_l + c(q_l))``.
Asking ``z'_{l+1} = P_{l+1} Q_{l+1} z_{l+1}`` forces

    W'_{l+1} = P_{l+1} Q_{l+1} W_{l+1} φ(Q_l)⁻¹ P_l⁻¹
    b'_{l+1} = P_{l+1} Q_{l+1} b_{l+1} − W'_{l+1} · (P_l c(q_l)).

The output layer has ``P = Q = 1``, so the output is unchanged. After global
average pooling the offset passes through unchanged (the mean of a constant is
that constant), so the conv→dense boundary is the dense formula with the
kernel's pooled column. Between two *convolutions* a constant offset does not
pass through zero padding, so a layer whose activation has an affine symmetry
(``c ≠ 0``) and feeds another convolution keeps only the trivial group.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from symm._character import IDENTITY, Character
from symm._group_element import GroupElement
from symm._translation_action import layer_translations, sample_shifts

# Groups ordered by inclusion, and the next larger one (for negative tests).
_LARGER_GROUP = {"trivial": "positive", "positive": "nonzero", "sign": "nonzero", "nonzero": None}


def _default_float():
    return jnp.result_type(float)


def _resolve(spec: Any):
    import symm

    return symm.get_activation(spec)


def _known_callables() -> list[tuple[Callable, Any]]:
    """eqx/jax activation callables and the registry spec that computes the same function."""
    import sympy

    import symm

    x = symm.x
    gelu_tanh = x / 2 * (1 + sympy.tanh(sympy.sqrt(2 / sympy.pi) * (x + sympy.Rational(44715, 1000000) * x**3)))
    pairs = [
        (jax.nn.relu, "relu"),
        (jnp.tanh, "tanh"),
        (jax.nn.tanh, "tanh"),
        (jnp.sin, sympy.sin(x)),
        (jnp.cos, sympy.cos(x)),
        (jax.nn.sigmoid, "sigmoid"),
        (jax.nn.silu, "silu"),
        (jax.nn.swish, "silu"),
        (jax.nn.softplus, "softplus"),
        (jax.nn.elu, "elu"),
        (jax.nn.selu, "selu"),
        (jax.nn.leaky_relu, "leaky_relu"),
        (jax.nn.soft_sign, "softsign"),
        (jax.nn.hard_tanh, "hardtanh"),
        (jnp.abs, "abs"),
        (jnp.arctan, "arctan"),
        (jax.scipy.special.erf, "erf"),
        # jax.nn.gelu defaults to the tanh approximation, which is NOT the registry's erf gelu.
        (jax.nn.gelu, gelu_tanh),
    ]
    if hasattr(jax.nn, "mish"):
        pairs.append((jax.nn.mish, "mish"))
    return pairs


def _is_identity_callable(fn: Callable) -> bool:
    probe = jnp.linspace(-3.0, 3.0, 13)
    try:
        out = fn(probe)
    except Exception:  # noqa: BLE001 - any failure means "not the identity"
        return False
    return bool(jnp.shape(out) == probe.shape and jnp.all(out == probe))


@dataclasses.dataclass(frozen=True)
class _LayerSymmetry:
    """What the action needs for one hidden layer: its group, φ as a character, the offset."""

    group: str
    character: Character
    offset_fn: Callable | None


class WeightSpace(eqx.Module):
    """Structure of an MLP or small CNN and its derived weight-space symmetries.

    ``layer_sizes[l]`` is the number of neurons (channels for conv layers) of layer
    ``l = 0..L``; ``kernel_sizes[l-1]`` is the kernel size of weight layer ``l`` or
    ``None`` for a dense layer; ``activations[l-1]`` is the activation of hidden
    layer ``l = 1..L-1``.
    """

    layer_sizes: tuple[int, ...] = eqx.field(static=True)
    kernel_sizes: tuple[int | None, ...] = eqx.field(static=True)
    activations: tuple[Any, ...] = eqx.field(static=True)

    def __init__(self, layer_sizes: Sequence[int], kernel_sizes: Sequence[int | None], activations: Any):
        sizes = tuple(int(n) for n in layer_sizes)
        if len(sizes) < 2:
            raise ValueError(f"a weight space needs at least an input and an output layer; got sizes {sizes}")
        bad = [(i, n) for i, n in enumerate(sizes) if n < 1]
        if bad:
            raise ValueError(f"layer {bad[0][0]} has width {bad[0][1]}; every layer needs at least one neuron")
        kernels = tuple(None if k is None else int(k) for k in kernel_sizes)
        if len(kernels) != len(sizes) - 1:
            raise ValueError(
                f"need one kernel size (None for dense) per weight layer: {len(sizes) - 1} layers, "
                f"got {len(kernels)}"
            )
        for i, k in enumerate(kernels):
            if k is not None and k < 1:
                raise ValueError(f"weight layer {i}: kernel size must be a positive integer, got {k}")
            if k is not None and i > 0 and kernels[i - 1] is None:
                raise ValueError(
                    f"weight layer {i} is a convolution after dense layer {i - 1}; a CNN is convolutions, "
                    "global average pooling, then dense layers"
                )
        if kernels[-1] is not None:
            raise ValueError("the output layer must be dense (a CNN ends with global average pooling and dense layers)")
        self.layer_sizes = sizes
        self.kernel_sizes = kernels
        self.activations = _normalise_activations(activations, len(sizes) - 2)

    # ---------------------------------------------------------------- constructors
    @classmethod
    def mlp(cls, sizes: Sequence[int], activations: Any) -> "WeightSpace":
        """An MLP with ``sizes = (n_in, hidden..., n_out)``; one activation spec or one per hidden layer."""
        return cls(sizes, (None,) * (len(sizes) - 1), activations)

    @classmethod
    def cnn(
        cls,
        channels: Sequence[int] = (1, 16, 16, 16),
        dense: Sequence[int] = (10,),
        kernel_size: int | Sequence[int] = 3,
        activations: Any = "relu",
    ) -> "WeightSpace":
        """Convs ``channels[0]→…→channels[-1]``, global average pooling, dense layers ``dense``."""
        channels, dense = tuple(channels), tuple(dense)
        if len(channels) < 2:
            raise ValueError(f"a CNN needs at least one convolution: channels={channels}")
        if not dense:
            raise ValueError("a CNN needs at least one dense (output) layer after pooling: dense=()")
        n_conv = len(channels) - 1
        if isinstance(kernel_size, int):
            kernels = (kernel_size,) * n_conv
        else:
            kernels = tuple(kernel_size)
            if len(kernels) != n_conv:
                raise ValueError(f"{n_conv} convolutions but {len(kernels)} kernel sizes {kernels}")
        return cls(channels + dense, kernels + (None,) * len(dense), activations)

    @classmethod
    def from_layers(cls, layers: Sequence[tuple[Array, Array]], activations: Any) -> "WeightSpace":
        """Infer the structure from a params tuple ``((W, b), ...)``; one activation spec or one per hidden layer."""
        layers = tuple(layers)
        if not layers:
            raise ValueError("from_layers needs at least one (W, b) layer")
        sizes, kernels = [], []
        for i, layer in enumerate(layers):
            if not (isinstance(layer, (tuple, list)) and len(layer) == 2):
                raise ValueError(f"layer {i} must be a pair (W, b); got {type(layer).__name__}")
            w, b = jnp.shape(layer[0]), jnp.shape(layer[1])
            if len(w) == 2:
                kernels.append(None)
            elif len(w) == 4 and w[2] == w[3]:
                kernels.append(w[2])
            else:
                raise ValueError(
                    f"layer {i}: W has shape {w}; expected [n_out, n_in] (dense) or [c_out, c_in, k, k] (conv)"
                )
            if b != (w[0],):
                raise ValueError(f"layer {i}: W has shape {w} so b must have shape ({w[0]},), got {b}")
            if i == 0:
                sizes.append(w[1])
            elif w[1] != sizes[-1]:
                raise ValueError(
                    f"layer {i}: W has shape {w}, so it expects {w[1]} inputs, but layer {i - 1} has "
                    f"{sizes[-1]} outputs"
                )
            sizes.append(w[0])
        space = cls(sizes, kernels, activations)
        space.validate(layers)
        return space

    @classmethod
    def from_mlp(cls, mlp: eqx.nn.MLP, activation: Any = None) -> "WeightSpace":
        """The space of an ``eqx.nn.MLP``. ``activation`` overrides the lookup of ``mlp.activation``."""
        if mlp.in_size == "scalar" or mlp.out_size == "scalar":
            raise ValueError("eqx.nn.MLP with in_size or out_size 'scalar' is not supported; use integer sizes")
        if not _is_identity_callable(mlp.final_activation):
            raise ValueError(
                "the MLP's final_activation is not the identity; symm treats the output layer as linear. "
                "Apply the final nonlinearity outside the network"
            )
        linears = _mlp_linears(mlp)
        sizes = [linears[0].in_features] + [lin.out_features for lin in linears]
        if activation is None:
            activation = _lookup_callable(mlp.activation)
        return cls.mlp(sizes, activation)

    def params_from_mlp(self, mlp: eqx.nn.MLP) -> tuple[tuple[Array, Array], ...]:
        """The ``((W, b), ...)`` params of an ``eqx.nn.MLP`` (missing biases become zeros)."""
        params = tuple(
            (lin.weight, lin.bias if lin.bias is not None else jnp.zeros(lin.out_features, lin.weight.dtype))
            for lin in _mlp_linears(mlp)
        )
        self.validate(params)
        return params

    # ---------------------------------------------------------------- structure
    @property
    def num_layers(self) -> int:
        """Number of weight layers ``L``."""
        return len(self.layer_sizes) - 1

    @property
    def hidden_sizes(self) -> tuple[int, ...]:
        return self.layer_sizes[1:-1]

    @property
    def is_cnn(self) -> bool:
        return self.kernel_sizes[0] is not None

    @property
    def hidden_symmetries(self) -> tuple[Any, ...]:
        """``symm.derive`` of every hidden layer's activation."""
        return tuple(act.symmetry for act in self.activations)

    @property
    def groups(self) -> tuple[str, ...]:
        """The group of every hidden layer's neurons, as used by ``sample`` and ``act``.

        This is the derived group, except for a conv layer with an affine symmetry that
        feeds another convolution (see the module docstring): trivial there.
        """
        return tuple(s.group for s in self._layer_symmetries())

    def weight_shape(self, layer: int) -> tuple[int, ...]:
        n_out, n_in, k = self.layer_sizes[layer + 1], self.layer_sizes[layer], self.kernel_sizes[layer]
        return (n_out, n_in) if k is None else (n_out, n_in, k, k)

    @property
    def param_shapes(self) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
        return tuple((self.weight_shape(i), (self.layer_sizes[i + 1],)) for i in range(self.num_layers))

    @property
    def num_params(self) -> int:
        return sum(math.prod(w) + math.prod(b) for w, b in self.param_shapes)

    def __str__(self) -> str:
        parts = []
        for i, n in enumerate(self.layer_sizes):
            if 0 < i < self.num_layers:
                act = self.activations[i - 1]
                parts.append(f"{n}[{act.name}:{self.groups[i - 1]}]")
            else:
                parts.append(str(n))
        kind = "CNN" if self.is_cnn else "MLP"
        return f"WeightSpace({kind} " + " → ".join(parts) + f", {self.num_params} params)"

    def _layer_symmetries(self) -> tuple[_LayerSymmetry, ...]:
        out = []
        for l, act in enumerate(self.activations, start=1):
            sym = act.symmetry
            group = sym.group
            conv_to_conv = self.kernel_sizes[l - 1] is not None and self.kernel_sizes[l] is not None
            if not sym.is_linear and conv_to_conv:
                group = "trivial"
            if group == "trivial":
                # Only q = 1 is in the group, where every φ is 1; using φ(q) = q makes
                # elements drawn *outside* the group (negative tests) act like a ReLU rescaling.
                out.append(_LayerSymmetry("trivial", IDENTITY, None))
            else:
                offset = None if sym.is_linear else sym.offset_fn
                out.append(_LayerSymmetry(group, sym.character, offset))
        return tuple(out)

    # ---------------------------------------------------------------- params
    def validate(self, params: Any, *, batched: bool = False) -> None:
        """Raise a ``ValueError`` naming the layer and the shapes if ``params`` does not fit this space.

        With ``batched=True`` every array carries the same leading batch axis.
        """
        if not isinstance(params, (tuple, list)):
            raise ValueError(
                f"params must be a tuple of (W, b) pairs, one per layer; got {type(params).__name__}"
            )
        if len(params) != self.num_layers:
            raise ValueError(
                f"params has {len(params)} layers but the weight space {self} has {self.num_layers}"
            )
        batch = None
        dtype = None
        for i, (layer, (w_shape, b_shape)) in enumerate(zip(params, self.param_shapes)):
            if not (isinstance(layer, (tuple, list)) and len(layer) == 2):
                raise ValueError(f"layer {i} must be a pair (W, b); got {type(layer).__name__}")
            for name, arr, expected in (("W", layer[0], w_shape), ("b", layer[1], b_shape)):
                if not hasattr(arr, "shape") or not hasattr(arr, "dtype"):
                    raise ValueError(f"layer {i}: {name} must be an array, got {type(arr).__name__}")
                shape = tuple(arr.shape)
                if batched:
                    if len(shape) != len(expected) + 1:
                        raise ValueError(
                            f"layer {i}: {name} should have shape [batch, {', '.join(map(str, expected))}], "
                            f"got {shape}"
                        )
                    if batch is None:
                        batch = shape[0]
                    elif shape[0] != batch:
                        raise ValueError(f"layer {i}: {name} has batch size {shape[0]}, earlier layers {batch}")
                    shape = shape[1:]
                if shape != expected:
                    raise ValueError(f"layer {i}: {name} should have shape {expected}, got {shape}")
                if not jnp.issubdtype(arr.dtype, jnp.floating):
                    raise ValueError(f"layer {i}: {name} has dtype {arr.dtype}; params must be floating point")
                if dtype is None:
                    dtype = arr.dtype
                elif arr.dtype != dtype:
                    raise ValueError(f"layer {i}: {name} has dtype {arr.dtype} but earlier arrays are {dtype}")

    def matches(self, params: Any) -> bool:
        """True when ``params`` is a single network of this space (no error raised)."""
        try:
            self.validate(params)
        except ValueError:
            return False
        return True

    def init(self, key: PRNGKeyArray, *, dtype=None) -> tuple[tuple[Array, Array], ...]:
        """Random params, uniform in ±1/sqrt(fan_in) like ``eqx.nn.Linear`` (fan_in counts kernel taps)."""
        dtype = _default_float() if dtype is None else np.dtype(dtype)
        return _init(self, key, dtype)

    def _init(self, key, dtype):
        u = jax.random.uniform(key, (self.num_params,), dtype, -1.0, 1.0)  # one draw: cheap to compile
        params, start = [], 0
        for w_shape, b_shape in self.param_shapes:
            bound = 1.0 / math.sqrt(math.prod(w_shape[1:]))
            size_w, size_b = math.prod(w_shape), math.prod(b_shape)
            w = bound * u[start : start + size_w].reshape(w_shape)
            b = bound * u[start + size_w : start + size_w + size_b]
            start += size_w + size_b
            params.append((w, b))
        return tuple(params)

    def apply(self, params: Any, x: Array) -> Array:
        """The network's output for ONE input: ``x [n_in]`` (MLP) or ``[C, H, W]`` (CNN)."""
        h = x
        for i, (w, b) in enumerate(params):
            k = self.kernel_sizes[i]
            if k is None:
                if h.ndim == 3:  # conv → dense: global average pooling over space
                    h = jnp.mean(h, axis=(1, 2))
                z = w @ h + b
            else:
                z = jax.lax.conv_general_dilated(
                    h[None], w, window_strides=(1, 1), padding="SAME", dimension_numbers=("NCHW", "OIHW", "NCHW")
                )[0]
                z = z + b[:, None, None]
            h = self.activations[i].fn(z) if i < self.num_layers - 1 else z
        return h

    # ---------------------------------------------------------------- group elements
    def identity(self, *, dtype=None) -> GroupElement:
        dtype = _default_float() if dtype is None else dtype
        return GroupElement(
            tuple(jnp.arange(n, dtype=jnp.int32) for n in self.hidden_sizes),
            tuple(jnp.ones(n, dtype) for n in self.hidden_sizes),
        )

    @property
    def translations(self):
        """The translations every hidden layer admits (``symm._translation_action.LayerTranslation``)."""
        return layer_translations(self.activations, self.kernel_sizes)

    @property
    def has_translations(self) -> bool:
        return not all(t.is_trivial for t in self.translations)

    def sample(
        self,
        key: PRNGKeyArray,
        *,
        scale_range: tuple[float, float] = (0.25, 4.0),
        dtype=None,
        translations: bool = False,
    ) -> GroupElement:
        """One random element: a permutation per hidden layer and a scale per neuron from its group.

        positive: log-uniform in ``scale_range``; sign: ±1 (Rademacher); nonzero: both;
        trivial: 1. With ``translations=True``, layers with translation symmetries also get a
        shift per neuron: k·P with |k| ≤ 3 on a lattice Pℤ, uniform in [−1, 1] for every real
        shift (off by default: metanetworks built from the scaling groups, such as ScaleGMN, are
        not translation-invariant; ``symm.canonicalise`` removes translations before them).
        """
        lo, hi = scale_range
        if not 0 < lo <= hi:
            raise ValueError(f"scale_range must satisfy 0 < low <= high, got {scale_range}")
        return self._draw(key, self.groups, math.log(lo), math.log(hi), dtype, translations=translations)

    def sample_outside(
        self, key: PRNGKeyArray, *, scale_range: tuple[float, float] = (1.5, 4.0), dtype=None
    ) -> GroupElement:
        """An element of a LARGER group than the derived one, for negative tests.

        Every neuron whose group has a larger one gets a scale outside its own group:
        trivial → positive scales in ``scale_range`` or their inverses (never 1); positive →
        negative scales; sign → ±scales in ``scale_range`` or their inverses (never ±1).
        Neurons already in the nonzero group are drawn from it. Raises if no neuron can leave
        its group. No shifts (an off-lattice shift is built by hand, as a ``GroupElement``).
        """
        lo, hi = scale_range
        if not 1 < lo <= hi:
            raise ValueError(f"sample_outside needs 1 < low <= high so that |q| != 1, got {scale_range}")
        if all(_LARGER_GROUP[g] is None for g in self.groups):
            raise ValueError(
                f"every hidden neuron of {self} already has the largest group (nonzero scalings); "
                "there is no larger group to sample from"
            )
        return self._draw(key, self.groups, math.log(lo), math.log(hi), dtype, outside=True)

    def _draw(self, key, groups, log_lo, log_hi, dtype, *, outside: bool = False, translations: bool = False) -> GroupElement:
        """One uniform draw for everything (few random ops keep compilation cheap)."""
        dtype = _default_float() if dtype is None else dtype
        total = sum(self.hidden_sizes)
        u = jax.random.uniform(key, (4, max(total, 1)), dtype)
        perms, scales, start = [], [], 0
        for n, group in zip(self.hidden_sizes, groups):
            u_perm, u_mag, u_sign, u_inv = (row[start : start + n] for row in u)
            start += n
            perms.append(jnp.argsort(u_perm).astype(jnp.int32))
            log_mag = log_lo + (log_hi - log_lo) * u_mag
            sign = jnp.where(u_sign < 0.5, 1.0, -1.0).astype(dtype)
            if outside:  # |q| != 1 in both directions; see sample_outside
                magnitude = jnp.exp(jnp.where(u_inv < 0.5, log_mag, -log_mag))
                q = {"trivial": magnitude, "positive": -magnitude}.get(group, sign * magnitude)
            else:
                magnitude = jnp.exp(log_mag)
                q = {
                    "trivial": jnp.ones(n, dtype),
                    "positive": magnitude,
                    "sign": sign,
                    "nonzero": sign * magnitude,
                }[group]
            scales.append(q)
        shifts = None
        if translations:
            shifts = sample_shifts(self.translations, self.hidden_sizes, jax.random.fold_in(key, 1), dtype)
        return GroupElement(tuple(perms), tuple(scales), shifts)

    def compose(self, g: GroupElement, h: GroupElement) -> GroupElement:
        """``g ∘ h``: act by ``h``, then by ``g``."""
        self._check_element(g)
        self._check_element(h)
        return g.compose(h)

    def inverse(self, g: GroupElement) -> GroupElement:
        self._check_element(g)
        return g.inverse()

    def _check_element(self, g: GroupElement) -> None:
        if not isinstance(g, GroupElement):
            raise TypeError(f"expected a symm.GroupElement, got {type(g).__name__}")
        sizes = tuple(p.shape[-1] for p in g.perms)
        if sizes != self.hidden_sizes:
            raise ValueError(
                f"group element has hidden layer sizes {sizes} but the weight space has {self.hidden_sizes}"
            )

    # ---------------------------------------------------------------- actions
    def act(self, g: GroupElement, params: Any) -> tuple[tuple[Array, Array], ...]:
        """``g · params``: the transformed network computes the same function (module docstring)."""
        return self._act(g, params, with_offset=True)

    def act_linear(self, g: GroupElement, delta: Any) -> tuple[tuple[Array, Array], ...]:
        """The linear part of the action, for tangent vectors and equivariant outputs (ΔW, Δb).

        Same as ``act`` without the affine bias shift: differences of two transformed
        networks, and gradients' duals, transform this way.
        """
        return self._act(g, delta, with_offset=False)

    def _act(self, g: GroupElement, params: Any, *, with_offset: bool) -> tuple[tuple[Array, Array], ...]:
        self._check_element(g)
        self.validate(params)
        layer_syms = self._layer_symmetries()
        translations, shifts = self.translations, g.shifts_or_zeros()
        out = []
        for i, (w, b) in enumerate(params):
            dtype = w.dtype
            extra = (1,) * (w.ndim - 2)
            if i < self.num_layers - 1:  # rows: neurons of hidden layer i+1
                perm, q = g.perms[i], g.scales[i].astype(dtype)
                w = (q.reshape((-1, 1) + extra) * w)[perm]
                b = (q * b + shifts[i].astype(dtype))[perm] if with_offset else (q * b)[perm]
            if i > 0:  # columns: neurons of hidden layer i
                perm, q, shift = g.perms[i - 1], g.scales[i - 1].astype(dtype), shifts[i - 1].astype(dtype)
                sym, translation = layer_syms[i - 1], translations[i - 1]
                beta = translation.beta(shift)  # σ(q z + s) = β(s)·(φ(q)σ(z) + c(q)) + γ(s)
                phi = sym.character(q).astype(dtype) * beta
                w = (w / phi.reshape((1, -1) + extra))[:, perm]
                if with_offset and (sym.offset_fn is not None or translation.affine):
                    c = jnp.zeros_like(q) if sym.offset_fn is None else jnp.broadcast_to(jnp.asarray(sym.offset_fn(q), dtype), q.shape)
                    c = (beta * c + translation.gamma(shift))[perm]
                    w_pooled = w if w.ndim == 2 else jnp.sum(w, axis=(2, 3))
                    b = b - w_pooled @ c
            out.append((w, b))
        return tuple(out)

    def act_neurons(self, g: GroupElement, features: "NeuronFeatures") -> "NeuronFeatures":
        """Act on per-neuron typed features: hidden layer ``l`` gets ``P_l · χ(q_l) · x``.

        Each channel is multiplied by its type (a ``symm.Character``) evaluated at its
        neuron's scale, then the layer is permuted. Input and output layers are fixed.
        """
        self._check_element(g)
        features.check_space(self)
        new = [features.features[0]]
        for l in range(1, self.num_layers):
            x = features.features[l]
            perm, q = g.perms[l - 1], g.scales[l - 1].astype(x.dtype)
            types = features.types[l]
            if isinstance(types, Character):
                factor = types(q).reshape((-1,) + (1,) * (x.ndim - 1))
            else:
                factor = jnp.stack([t(q) for t in types], axis=-1)
                factor = factor.reshape((x.shape[0],) + (1,) * (x.ndim - 2) + (len(types),))
            new.append((factor.astype(x.dtype) * x)[perm])
        new.append(features.features[-1])
        return NeuronFeatures(tuple(new), features.types)


class NeuronFeatures(eqx.Module):
    """Per-neuron ("vertex") features of layers ``0..L``, each with a static representation type.

    ``features[l]`` has shape ``[n_l, ...]``. ``types[l]`` is one ``symm.Character`` for all of
    the layer's entries, or a tuple of Characters, one per channel of the LAST axis.
    Examples: pre-activations and biases are type ``q = Character(1, 1)``, post-activations
    ``φ = derive(σ).character``, backward signals ``1/q = Character(-1, 1)``, invariants
    ``symm.TRIVIAL``. Input and output layers never move, whatever their type.
    """

    features: tuple[Array, ...]
    types: tuple[Character | tuple[Character, ...], ...] = eqx.field(static=True)

    def __init__(self, features: Sequence[Array], types: Character | Sequence[Any]):
        features = tuple(features)
        if isinstance(types, Character):
            types = (types,) * len(features)
        types = tuple(t if isinstance(t, Character) else tuple(t) for t in types)
        self.features = features
        self.types = types

    def __check_init__(self):
        if len(self.types) != len(self.features):
            raise ValueError(f"{len(self.features)} feature layers but {len(self.types)} layer types")
        for l, (x, t) in enumerate(zip(self.features, self.types)):
            if isinstance(t, tuple):
                if not all(isinstance(c, Character) for c in t):
                    raise ValueError(f"layer {l}: every channel type must be a symm.Character")
                if x.ndim < 2 or x.shape[-1] != len(t):
                    raise ValueError(
                        f"layer {l}: {len(t)} channel types need features of shape [n_l, ..., {len(t)}], "
                        f"got {x.shape}"
                    )
            elif not isinstance(t, Character):
                raise ValueError(f"layer {l}: type must be a symm.Character or a tuple of them, got {t!r}")

    def check_space(self, space: WeightSpace) -> None:
        if len(self.features) != len(space.layer_sizes):
            raise ValueError(
                f"NeuronFeatures has {len(self.features)} layers; the weight space has "
                f"{len(space.layer_sizes)} (layers 0..L, input and output included)"
            )
        for l, (x, n) in enumerate(zip(self.features, space.layer_sizes)):
            if x.ndim < 1 or x.shape[0] != n:
                raise ValueError(f"NeuronFeatures layer {l}: expected shape [{n}, ...], got {tuple(x.shape)}")


# -------------------------------------------------------------------- helpers
@eqx.filter_jit
def _init(space: WeightSpace, key, dtype):
    return space._init(key, dtype)


def _normalise_activations(activations: Any, num_hidden: int) -> tuple[Any, ...]:
    if isinstance(activations, (list, tuple)):
        if len(activations) != num_hidden:
            raise ValueError(
                f"got {len(activations)} activations for {num_hidden} hidden layers; pass one spec per "
                "hidden layer, or a single spec for all of them"
            )
        specs = tuple(activations)
    else:
        specs = (activations,) * num_hidden
    out = []
    for l, spec in enumerate(specs, start=1):
        if callable(spec) and not _is_activation(spec) and not isinstance(spec, str):
            spec = _lookup_callable(spec)
        try:
            out.append(_resolve(spec))
        except ValueError as err:
            raise type(err)(f"hidden layer {l}: {err}") from None
    return tuple(out)


def _is_activation(obj: Any) -> bool:
    import symm

    activation_type = getattr(symm, "Activation", None)
    return activation_type is not None and isinstance(obj, activation_type)


def _lookup_callable(fn: Callable) -> Any:
    import sympy

    if isinstance(fn, sympy.Basic):
        return fn
    for candidate, spec in _known_callables():
        if fn is candidate:
            return spec
    if _is_identity_callable(fn):
        return "identity"
    name = getattr(fn, "__name__", repr(fn))
    raise ValueError(
        f"activation {name} has no registry entry that symm recognises; pass it by name, e.g. "
        'activation="relu", or as an expression such as activation="x/(1+Abs(x))"'
    )


def _mlp_linears(mlp: eqx.nn.MLP) -> tuple[eqx.nn.Linear, ...]:
    layers = tuple(mlp.layers)
    if not all(isinstance(layer, eqx.nn.Linear) for layer in layers) or any(
        layer.weight.ndim != 2 for layer in layers
    ):
        raise ValueError("expected an eqx.nn.MLP whose layers are eqx.nn.Linear (scan=False)")
    return layers


def tree_float_dtype(params: Any):
    """The floating dtype of a params pytree (its first leaf)."""
    leaves = jax.tree_util.tree_leaves(params)
    return leaves[0].dtype if leaves else _default_float()

