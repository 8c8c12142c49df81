"""Per-neuron ("vertex") features with a static representation type per layer or channel."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import equinox as eqx
from jaxtyping import Array

from symm._character import Character

if TYPE_CHECKING:
    from symm._weight_space import WeightSpace


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

    def check_space(self, space: "WeightSpace") -> None:
        if len(self.features) != len(space.layer_sizes):
            raise ValueError(
                f"NeuronFeatures has {len(self.features)} layers; the weight space has "
                f"{len(space.layer_sizes)} (layers 0..L, input and output included)"
            )
        for l, (x, n) in enumerate(zip(self.features, space.layer_sizes)):
            if x.ndim < 1 or x.shape[0] != n:
                raise ValueError(f"NeuronFeatures layer {l}: expected shape [{n}, ...], got {tuple(x.shape)}")
