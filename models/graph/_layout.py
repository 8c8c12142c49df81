"""The static structure a neural graph and a ScaleGMN are built for.

A ``Layout`` is everything about a weight space that is *structure*, not data:
layer sizes, kernel sizes, and for every hidden layer its ``symm.LayerSymmetry``
(activation, group, φ, whether it is affine) exactly as ``symm.WeightSpace``
computed it, so the layer generator and the group action can never disagree.
It is hashable and compares activations by their expression, so models keep it
in a static field and the layer generator picks blocks from it at trace time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from symm import IDENTITY, TRIVIAL, Activation, Character, Group, LayerSymmetry, WeightSpace

from models.graph._types import StreamType

Q = IDENTITY


@dataclasses.dataclass(frozen=True)
class Layout:
    """Static structure of a feed-forward weight space (MLP or CNN).

    ``sizes``: neurons (or channels) per layer, input first. ``kernels``: per
    weight layer, the conv kernel size ``k`` or ``None`` for a dense layer.
    ``layers``: per hidden layer, the ``symm.LayerSymmetry`` of the weight space;
    ``activations``, ``groups``, ``phis``, ``names`` and ``affine`` are read from it.
    """

    sizes: tuple[int, ...]
    kernels: tuple[int | None, ...]
    layers: tuple[LayerSymmetry, ...]

    def __post_init__(self):
        n_weight = len(self.sizes) - 1
        if n_weight < 1:
            raise ValueError(f"a layout needs at least an input and an output layer, got sizes {self.sizes}")
        if any(int(n) < 1 for n in self.sizes):
            raise ValueError(f"every layer needs at least one neuron, got sizes {self.sizes}")
        if len(self.kernels) != n_weight:
            raise ValueError(f"expected {n_weight} kernel entries (one per weight layer), got {len(self.kernels)}")
        if len(self.layers) != n_weight - 1:
            raise ValueError(f"expected {n_weight - 1} hidden layer symmetries (one per hidden layer), got {len(self.layers)}")
        for layer in self.layers:
            if not isinstance(layer, LayerSymmetry):
                raise TypeError(f"Layout.layers holds symm.LayerSymmetry values, got {type(layer).__name__}")
        seen_dense = False
        for l, k in enumerate(self.kernels):
            if k is None:
                seen_dense = True
            elif seen_dense:
                raise ValueError(f"layer {l + 1} is a conv layer after a dense layer; CNNs are convs, pooling, then dense")

    # ---- constructors -------------------------------------------------------------------------
    @classmethod
    def from_space(cls, space: Any) -> "Layout":
        """The structure of a ``symm.WeightSpace``: its sizes, kernels and per-layer symmetries (a Layout passes)."""
        if isinstance(space, Layout):
            return space
        if not isinstance(space, WeightSpace):
            raise TypeError(f"expected a symm.WeightSpace or a Layout, got {type(space).__name__}")
        return cls(sizes=space.layer_sizes, kernels=space.kernel_sizes, layers=space.layer_symmetries)

    @classmethod
    def from_activations(
        cls, sizes: Sequence[int], activations: Any | Sequence[Any], kernels: Sequence[int | None] | None = None
    ) -> "Layout":
        """Shorthand for ``Layout.from_space(symm.WeightSpace(sizes, kernels, activations))``."""
        sizes = tuple(sizes)
        n_hidden = len(sizes) - 2
        if isinstance(activations, (list, tuple)) and len(activations) != n_hidden:
            raise ValueError(f"{len(sizes)} layer sizes need {n_hidden} hidden activations, got {len(activations)}")
        kernels = tuple(kernels) if kernels is not None else (None,) * (len(sizes) - 1)
        return cls.from_space(WeightSpace(sizes, kernels, activations))

    # ---- what the layers say ------------------------------------------------------------------
    @property
    def activations(self) -> tuple[Activation, ...]:
        """Per hidden layer, the ``symm.Activation`` (callable; equal when the expressions are)."""
        return tuple(layer.activation for layer in self.layers)

    @property
    def groups(self) -> tuple[Group, ...]:
        return tuple(layer.group for layer in self.layers)

    @property
    def phis(self) -> tuple[Character, ...]:
        """Per hidden layer, φ with σ(q z) = φ(q) σ(z) (+ c(q)) as a character."""
        return tuple(layer.character for layer in self.layers)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(layer.activation.name for layer in self.layers)

    @property
    def affine(self) -> tuple[str, ...]:
        """Names of hidden activations whose symmetry here has an offset (σ(qz) = φσ(z) + c)."""
        return tuple(sorted({layer.activation.name for layer in self.layers if layer.affine}))

    # ---- derived structure --------------------------------------------------------------------
    @property
    def num_layers(self) -> int:
        """Number of weight layers L (vertex layers are 0..L)."""
        return len(self.sizes) - 1

    @property
    def edge_dim(self) -> int:
        """Edge feature length: the largest k·k (1 for an MLP)."""
        return max((k * k if k else 1) for k in self.kernels)

    def group(self, l: int) -> Group:
        """Group of vertex layer ``l`` (input and output vertices are never moved)."""
        return self.layers[l - 1].group if 0 < l < self.num_layers else Group.TRIVIAL

    def phi(self, l: int) -> Character:
        return self.layers[l - 1].character if 0 < l < self.num_layers else TRIVIAL

    @property
    def activation_init_scale(self) -> float:
        """1 / max(1, largest ``Activation.slope_rms`` of the hidden layers): the initial scale of
        linear maps whose output an activation block reads (at most 1, so tame starts stay as they are)."""
        slopes = [layer.activation.slope_rms for layer in self.layers]
        return 1.0 / max([1.0, *slopes])

    def activation(self, l: int) -> Activation:
        if not 0 < l < self.num_layers:
            raise ValueError(f"layer {l} is not hidden")
        return self.layers[l - 1].activation

    def vertex_type(self, l: int, character: Character = Q) -> StreamType:
        """Type of a vertex channel of layer ``l`` that scales as ``character(q_l)``."""
        return StreamType.of(self.group(l), character)

    def edge_type(self, l: int) -> StreamType:
        """Type of edge features of weight layer ``l``: q_dst / φ(q_src)."""
        return self.vertex_type(l, Q) * self.vertex_type(l - 1, self.phi(l - 1)).inverse()

    def permutation_only(self) -> "Layout":
        """The same structure with every group replaced by the trivial group (the GMN baseline)."""
        layers = tuple(LayerSymmetry(layer.activation, Group.TRIVIAL, TRIVIAL, False) for layer in self.layers)
        return dataclasses.replace(self, layers=layers)

    def with_sizes(self, sizes: Sequence[int]) -> "Layout":
        return dataclasses.replace(self, sizes=tuple(int(n) for n in sizes))


def derivative(fn: Callable[[jax.Array], jax.Array]) -> Callable[[jax.Array], jax.Array]:
    """Elementwise derivative σ' of an elementwise activation."""
    return jnp.vectorize(jax.grad(fn))
