"""The static structure a neural graph and a ScaleGMN are built for.

A ``Layout`` is everything about a weight space that is *structure*, not data:
layer sizes, kernel sizes, and for every hidden layer its activation, its derived
group and the character φ of that group. It is hashable, so models keep it in a
static field and the layer generator can pick blocks from it at trace time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from symm import IDENTITY, TRIVIAL, Character

from models.graph._types import GROUPS, StreamType

Q = IDENTITY


@dataclasses.dataclass(frozen=True)
class Layout:
    """Static structure of a feed-forward weight space (MLP or CNN).

    ``sizes``: neurons (or channels) per layer, input first. ``kernels``: per
    weight layer, the conv kernel size ``k`` or ``None`` for a dense layer.
    ``activations``: per hidden layer, a hashable elementwise jax callable.
    ``groups`` / ``phis``: per hidden layer, the derived group name and the
    character φ with σ(q z) = φ(q) σ(z).
    """

    sizes: tuple[int, ...]
    kernels: tuple[int | None, ...]
    activations: tuple[Callable[[jax.Array], jax.Array], ...]
    groups: tuple[str, ...]
    phis: tuple[Character, ...]
    names: tuple[str, ...] = ()
    affine: tuple[str, ...] = ()  # names of hidden activations whose symmetry has an offset (σ(qz) = φσ(z) + c)

    def __post_init__(self):
        n_weight = len(self.sizes) - 1
        if n_weight < 1:
            raise ValueError(f"a layout needs at least an input and an output layer, got sizes {self.sizes}")
        if any(int(n) < 1 for n in self.sizes):
            raise ValueError(f"every layer needs at least one neuron, got sizes {self.sizes}")
        if len(self.kernels) != n_weight:
            raise ValueError(f"expected {n_weight} kernel entries (one per weight layer), got {len(self.kernels)}")
        for name, seq in (("activations", self.activations), ("groups", self.groups), ("phis", self.phis)):
            if len(seq) != n_weight - 1:
                raise ValueError(f"expected {n_weight - 1} {name} (one per hidden layer), got {len(seq)}")
        for g in self.groups:
            if g not in GROUPS:
                raise ValueError(f"unknown group {g!r}; expected one of {GROUPS}")
        seen_dense = False
        for l, k in enumerate(self.kernels):
            if k is None:
                seen_dense = True
            elif seen_dense:
                raise ValueError(f"layer {l + 1} is a conv layer after a dense layer; CNNs are convs, pooling, then dense")

    # ---- constructors -------------------------------------------------------------------------
    @classmethod
    def from_activations(
        cls, sizes: Sequence[int], activations: Any | Sequence[Any], kernels: Sequence[int | None] | None = None
    ) -> "Layout":
        """Build from registry activations; groups and φ come from ``symm.derive``."""
        import symm

        sizes = tuple(int(n) for n in sizes)
        n_hidden = len(sizes) - 2
        if isinstance(activations, (str, bytes)) or not isinstance(activations, Sequence):
            activations = (activations,) * n_hidden
        if len(activations) != n_hidden:
            raise ValueError(f"{len(sizes)} layer sizes need {n_hidden} hidden activations, got {len(activations)}")
        acts = tuple(symm.get_activation(a) for a in activations)
        syms = tuple(symm.derive(a) for a in acts)
        kernels = tuple(kernels) if kernels is not None else (None,) * (len(sizes) - 1)
        return cls(
            sizes=sizes,
            kernels=kernels,
            activations=tuple(a.fn for a in acts),
            groups=tuple(s.group for s in syms),
            phis=tuple(s.character if s.group != "trivial" else TRIVIAL for s in syms),
            names=tuple(a.name for a in acts),
            affine=tuple(sorted({a.name for a, s in zip(acts, syms) if not s.is_linear and s.group != "trivial"})),
        )

    @classmethod
    def from_space(cls, space: Any) -> "Layout":
        """Read the structure of a ``symm.WeightSpace`` (or pass a Layout through)."""
        if isinstance(space, Layout):
            return space
        for attr in ("layer_sizes", "activations"):
            if not hasattr(space, attr):
                raise TypeError(f"expected a symm.WeightSpace or a Layout, got {type(space).__name__} (no .{attr})")
        kernels = _kernels_of(space)
        return cls.from_activations(space.layer_sizes, tuple(space.activations), kernels)

    # ---- derived structure --------------------------------------------------------------------
    @property
    def num_layers(self) -> int:
        """Number of weight layers L (vertex layers are 0..L)."""
        return len(self.sizes) - 1

    @property
    def edge_dim(self) -> int:
        """Edge feature length: the largest k·k (1 for an MLP)."""
        return max((k * k if k else 1) for k in self.kernels)

    def group(self, l: int) -> str:
        """Group of vertex layer ``l`` (input and output vertices are never moved)."""
        return self.groups[l - 1] if 0 < l < self.num_layers else "trivial"

    def phi(self, l: int) -> Character:
        return self.phis[l - 1] if 0 < l < self.num_layers else TRIVIAL

    def activation(self, l: int) -> Callable[[jax.Array], jax.Array]:
        if not 0 < l < self.num_layers:
            raise ValueError(f"layer {l} is not hidden")
        return self.activations[l - 1]

    def vertex_type(self, l: int, character: Character = Q) -> StreamType:
        """Type of a vertex channel of layer ``l`` that scales as ``character(q_l)``."""
        return StreamType.of(self.group(l), character)

    def edge_type(self, l: int) -> StreamType:
        """Type of edge features of weight layer ``l``: q_dst / φ(q_src)."""
        return self.vertex_type(l, Q) * self.vertex_type(l - 1, self.phi(l - 1)).inverse()

    def permutation_only(self) -> "Layout":
        """The same structure with every group replaced by the trivial group (the GMN baseline)."""
        n = self.num_layers - 1
        return dataclasses.replace(self, groups=("trivial",) * n, phis=(TRIVIAL,) * n, affine=())

    def with_sizes(self, sizes: Sequence[int]) -> "Layout":
        return dataclasses.replace(self, sizes=tuple(int(n) for n in sizes))


def _kernels_of(space: Any) -> tuple[int | None, ...]:
    """Per weight layer kernel size from a WeightSpace (None for dense layers)."""
    for attr in ("kernel_sizes", "kernels"):
        if hasattr(space, attr):
            return tuple(None if (k is None or k == 0) else int(k) for k in getattr(space, attr))
    n = len(space.layer_sizes) - 1
    if hasattr(space, "kinds"):
        k = int(getattr(space, "kernel_size", 3))
        return tuple(k if kind == "conv" else None for kind in space.kinds)
    return (None,) * n


def derivative(fn: Callable[[jax.Array], jax.Array]) -> Callable[[jax.Array], jax.Array]:
    """Elementwise derivative σ' of an elementwise activation."""
    return jnp.vectorize(jax.grad(fn))
