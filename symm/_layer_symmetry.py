"""The symmetry of one hidden layer inside a network: its group, φ and offset.

``symm.derive`` gives the symmetry of an activation on its own. Inside a network
the structure can shrink it: between two *convolutions* a constant offset
``c(q)`` does not pass through zero padding, so a layer whose activation has an
affine symmetry and feeds another convolution keeps only the trivial group. This
file is the single place that decision is made; ``WeightSpace`` (sampling, the
action) and ``models.graph.Layout`` (the layer generator) both read its result.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from symm._activation import Activation
from symm._character import TRIVIAL, Character
from symm._group import Group


@dataclasses.dataclass(frozen=True)
class LayerSymmetry:
    """One hidden layer: ``σ(q z) = φ(q)·σ(z) + c(q)`` for every ``q`` in ``group``.

    ``character`` is φ as a ``symm.Character``: the derived one, except ``TRIVIAL`` on
    the trivial group (only ``q = 1`` is in it, where every φ is 1). ``affine`` says that
    ``c ≠ 0`` on this group. Hashable and compared by the activation's expression, so it
    can sit in static pytree fields.
    """

    activation: Activation
    group: Group
    character: Character
    affine: bool

    @property
    def offset_fn(self) -> Callable | None:
        """``c`` on an array of scales (jax), or None for a linear symmetry."""
        return self.activation.symmetry.offset_fn if self.affine else None


def hidden_layer_symmetries(
    activations: Sequence[Activation], kernel_sizes: Sequence[int | None]
) -> tuple[LayerSymmetry, ...]:
    """The symmetry of every hidden layer ``l = 1..L-1`` of a network with these weight layers."""
    out = []
    for l, activation in enumerate(activations, start=1):
        sym = activation.symmetry
        group = sym.group
        conv_to_conv = kernel_sizes[l - 1] is not None and kernel_sizes[l] is not None
        if not sym.is_linear and conv_to_conv:
            group = Group.TRIVIAL
        if group.is_trivial:
            out.append(LayerSymmetry(activation, Group.TRIVIAL, TRIVIAL, False))
        else:
            out.append(LayerSymmetry(activation, group, sym.character, not sym.is_linear))
    return tuple(out)
