"""The parameter space of a family of networks, and its derived symmetry group.

A ``WeightSpace`` describes structure only: the width of every layer, whether a
layer is dense or a same-padded stride-1 convolution (and its kernel size), and
the activation of every hidden layer. Each hidden neuron's group comes from
``symm.derive`` of its activation, never from a flag.

Networks: hidden layers ``h_l = σ_l(W_l h_{l-1} + b_l)``, a linear output layer.
CNNs (the Small-CNN-Zoo shape): conv layers with activations, global average
pooling over space, then dense layers. For a CNN a channel is a neuron.

The concepts live in their own files and this class gathers them:
input checks (``_weight_space_inputs``), each hidden layer's group and φ
(``_layer_symmetry``), params (``_weight_params``), group elements
(``_weight_sampling``) and the action (``_weight_action``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import equinox as eqx
from jaxtyping import Array, PRNGKeyArray

from symm import _weight_action, _weight_params, _weight_sampling
from symm._activation import Activation
from symm._character import Character
from symm._group import Group
from symm._group_element import GroupElement
from symm._layer_symmetry import LayerSymmetry, hidden_layer_symmetries
from symm._neuron_features import NeuronFeatures
from symm._weight_params import Params, tree_float_dtype
from symm._translation_action import LayerTranslation, layer_translations
from symm._weight_space_inputs import (
    checked_kernels,
    checked_sizes,
    is_identity_callable,
    lookup_callable,
    mlp_linears,
    normalise_activations,
)

__all__ = ["NeuronFeatures", "WeightSpace", "tree_float_dtype"]


class WeightSpace(eqx.Module):
    """Structure of an MLP or small CNN and its derived weight-space symmetries.

    ``layer_sizes[l]`` is the number of neurons (channels for conv layers) of layer
    ``l = 0..L``; ``kernel_sizes[l-1]`` is the kernel size of weight layer ``l`` or
    ``None`` for a dense layer; ``activations[l-1]`` is the activation of hidden
    layer ``l = 1..L-1`` (one spec for all, one per hidden layer, or ``()`` when
    there is no hidden layer).
    """

    layer_sizes: tuple[int, ...] = eqx.field(static=True)
    kernel_sizes: tuple[int | None, ...] = eqx.field(static=True)
    activations: tuple[Activation, ...] = eqx.field(static=True)

    def __init__(self, layer_sizes: Sequence[int], kernel_sizes: Sequence[int | None], activations: Any):
        sizes = checked_sizes(layer_sizes)
        self.layer_sizes = sizes
        self.kernel_sizes = checked_kernels(kernel_sizes, len(sizes) - 1)
        self.activations = normalise_activations(activations, len(sizes) - 2)

    # ---------------------------------------------------------------- constructors
    @classmethod
    def mlp(cls, sizes: Sequence[int], activations: Any) -> "WeightSpace":
        """An MLP with ``sizes = (n_in, hidden..., n_out)``; one activation spec or one per hidden layer."""
        sizes = checked_sizes(sizes)
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
        if isinstance(kernel_size, Sequence):
            kernels = tuple(kernel_size)
            if len(kernels) != n_conv:
                raise ValueError(f"{n_conv} convolutions but {len(kernels)} kernel sizes {kernels}")
        else:
            kernels = (kernel_size,) * n_conv
        return cls(channels + dense, kernels + (None,) * len(dense), activations)

    @classmethod
    def from_layers(cls, layers: Sequence[tuple[Array, Array]], activations: Any) -> "WeightSpace":
        """Infer the structure from a params tuple ``((W, b), ...)``; one activation spec or one per hidden layer."""
        import jax.numpy as jnp

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
        if not is_identity_callable(mlp.final_activation):
            raise ValueError(
                "the MLP's final_activation is not the identity; symm treats the output layer as linear. "
                "Apply the final nonlinearity outside the network"
            )
        linears = mlp_linears(mlp)
        sizes = [linears[0].in_features] + [lin.out_features for lin in linears]
        if len(linears) == 1 and activation is None:
            return cls.mlp(sizes, ())  # depth 0: equinox never applies mlp.activation
        if activation is None:
            activation = lookup_callable(mlp.activation)
        return cls.mlp(sizes, activation)

    def params_from_mlp(self, mlp: eqx.nn.MLP) -> Params:
        """The ``((W, b), ...)`` params of an ``eqx.nn.MLP`` (missing biases become zeros)."""
        import jax.numpy as jnp

        params = tuple(
            (lin.weight, lin.bias if lin.bias is not None else jnp.zeros(lin.out_features, lin.weight.dtype))
            for lin in mlp_linears(mlp)
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
        """``symm.derive`` of every hidden layer's activation (on its own, outside the network)."""
        return tuple(act.symmetry for act in self.activations)

    @property
    def layer_symmetries(self) -> tuple[LayerSymmetry, ...]:
        """Every hidden layer's group, φ and offset *in this network*, as ``sample`` and ``act`` use them.

        This is the derived symmetry, except for a conv layer with an affine symmetry that
        feeds another convolution: trivial there (a constant does not pass zero padding).
        """
        return hidden_layer_symmetries(self.activations, self.kernel_sizes)

    @property
    def groups(self) -> tuple[Group, ...]:
        """The ``symm.Group`` of every hidden layer's neurons (see ``layer_symmetries``)."""
        return tuple(s.group for s in self.layer_symmetries)

    @property
    def characters(self) -> tuple[Character, ...]:
        """φ of every hidden layer as a ``symm.Character`` (``TRIVIAL`` on the trivial group)."""
        return tuple(s.character for s in self.layer_symmetries)

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
        groups = self.groups
        for i, n in enumerate(self.layer_sizes):
            if 0 < i < self.num_layers:
                parts.append(f"{n}[{self.activations[i - 1].name}:{groups[i - 1]}]")
            else:
                parts.append(str(n))
        kind = "CNN" if self.is_cnn else "MLP"
        return f"WeightSpace({kind} " + " → ".join(parts) + f", {self.num_params} params)"

    # ---------------------------------------------------------------- params
    def validate(self, params: Any, *, batched: bool = False) -> None:
        """Raise a ``ValueError`` naming the layer and the shapes if ``params`` does not fit this space.

        With ``batched=True`` every array carries the same leading batch axis.
        """
        _weight_params.validate(self, params, batched=batched)

    def matches(self, params: Any) -> bool:
        """True when ``params`` is a single network of this space (no error raised)."""
        try:
            self.validate(params)
        except ValueError:
            return False
        return True

    def init(self, key: PRNGKeyArray, *, dtype=None) -> Params:
        """Random params, uniform in ±1/sqrt(fan_in) like ``eqx.nn.Linear`` (fan_in counts kernel taps)."""
        return _weight_params.init(self, key, dtype=dtype)

    def apply(self, params: Any, x: Array) -> Array:
        """The network's output for ONE input: ``x [n_in]`` (MLP) or ``[C, H, W]`` (CNN)."""
        return _weight_params.apply(self, params, x)

    # ---------------------------------------------------------------- group elements
    def identity(self, *, dtype=None) -> GroupElement:
        return _weight_sampling.identity(self, dtype=dtype)

    @property
    def translations(self) -> tuple[LayerTranslation, ...]:
        """The translations every hidden layer admits (``symm._translation_action``)."""
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
        trivial: 1 (``symm.Group.scales_from_uniform``). With ``translations=True``, layers
        with translation symmetries also get a shift per neuron: k·P with |k| ≤ 3 on a lattice
        Pℤ, uniform in [−1, 1] for every real shift (off by default: metanetworks built from
        the scaling groups, such as ScaleGMN, are not translation-invariant;
        ``symm.canonicalise`` removes translations before them).
        """
        return _weight_sampling.sample(self, key, scale_range=scale_range, dtype=dtype, translations=translations)

    def sample_outside(
        self, key: PRNGKeyArray, *, scale_range: tuple[float, float] = (1.5, 4.0), dtype=None
    ) -> GroupElement:
        """An element of a LARGER group than the derived one, for negative tests.

        Every neuron whose group has a larger one (``Group.larger``) gets a scale outside its
        own group: trivial → positive scales in ``scale_range`` or their inverses (never 1);
        positive → negative scales; sign → ±scales in ``scale_range`` or their inverses (never
        ±1). Neurons already in the nonzero group are drawn from it. Raises if no neuron can
        leave its group. No shifts (an off-lattice shift is built by hand, as a ``GroupElement``).
        """
        return _weight_sampling.sample_outside(self, key, scale_range=scale_range, dtype=dtype)

    def compose(self, g: GroupElement, h: GroupElement) -> GroupElement:
        """``g ∘ h``: act by ``h``, then by ``g``."""
        _weight_sampling.check_element(self, g)
        _weight_sampling.check_element(self, h)
        return g.compose(h)

    def inverse(self, g: GroupElement) -> GroupElement:
        _weight_sampling.check_element(self, g)
        return g.inverse()

    # ---------------------------------------------------------------- actions
    def act(self, g: GroupElement, params: Any) -> Params:
        """``g · params``: the transformed network computes the same function (``symm._weight_action``)."""
        return _weight_action.act(self, g, params, with_offset=True)

    def act_linear(self, g: GroupElement, delta: Any) -> Params:
        """The linear part of the action, for tangent vectors and equivariant outputs (ΔW, Δb).

        Same as ``act`` without the affine bias shift: differences of two transformed
        networks, and gradients' duals, transform this way.
        """
        return _weight_action.act(self, g, delta, with_offset=False)

    def act_neurons(self, g: GroupElement, features: NeuronFeatures) -> NeuronFeatures:
        """Act on per-neuron typed features: hidden layer ``l`` gets ``P_l · χ(q_l) · x``.

        Each channel is multiplied by its type (a ``symm.Character``) evaluated at its
        neuron's scale, then the layer is permuted. Input and output layers are fixed.
        """
        return _weight_action.act_neurons(self, g, features)
