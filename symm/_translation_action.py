"""Translations inside a network: which shifts each hidden layer admits, how to draw them, what they do.

A shift ``s`` of neuron ``k``'s pre-activation (bias ``b_k ↦ b_k + s``) changes its output
to ``β(s)·σ(z) + γ(s)``; the next layer undoes it (weights divided by β, bias corrected
by γ). Inside a network the structure can shrink the derived group, exactly as for
affine scalings: a constant ``γ ≠ 0`` does not pass through the zero padding of a
following convolution, so such a layer keeps only t = 0. This file is the single
place that decision is made; ``WeightSpace`` (sampling, the action) and
``symm.canonicalise`` read it.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from jaxtyping import Array

from symm._translation import TranslationSymmetry

MAX_INDEX = 3  # sampled lattice shifts are k·P with |k| ≤ 3
REAL_RANGE = 1.0  # sampled real shifts are uniform in [−1, 1]


@dataclasses.dataclass(frozen=True)
class LayerTranslation:
    """The translations one hidden layer admits: ``kind`` trivial, lattice (``period``) or real."""

    kind: str
    period: float | None
    symmetry: TranslationSymmetry | None

    @property
    def is_trivial(self) -> bool:
        return self.kind == "trivial"

    @property
    def affine(self) -> bool:
        """True when a shift needs the next layer's bias corrected (γ ≠ 0)."""
        return self.symmetry is not None and not self.symmetry.is_linear

    def _argument(self, shift: Array) -> Array:
        # On a lattice β and γ are functions of k = s/P; off the lattice (negative tests) the
        # nearest k is used, which is exactly what makes such an element change the function.
        return jnp.round(shift / self.period) if self.kind == "lattice" else shift

    def beta(self, shift: Array) -> Array:
        if self.is_trivial:
            return jnp.ones_like(shift)
        return self.symmetry.beta_fn(self._argument(shift), shift.dtype)

    def gamma(self, shift: Array) -> Array:
        if self.is_trivial or not self.affine:
            return jnp.zeros_like(shift)
        return self.symmetry.gamma_fn(self._argument(shift), shift.dtype)


_TRIVIAL = LayerTranslation("trivial", None, None)


def layer_translations(activations, kernel_sizes) -> tuple[LayerTranslation, ...]:
    """The translations of every hidden layer ``l = 1..L-1`` of a network with these weight layers."""
    out = []
    for l, activation in enumerate(activations, start=1):
        shift = activation.symmetry.translation
        conv_to_conv = kernel_sizes[l - 1] is not None and kernel_sizes[l] is not None
        if shift is None or shift.kind == "trivial" or (conv_to_conv and not shift.is_linear):
            out.append(_TRIVIAL)
        else:
            period = float(shift.period) if shift.kind == "lattice" else None
            out.append(LayerTranslation(shift.kind, period, shift))
    return tuple(out)


def sample_shifts(translations, sizes, key, dtype) -> tuple[Array, ...] | None:
    """One shift per neuron from each layer's group (None when no layer has translations)."""
    if all(t.is_trivial for t in translations):
        return None
    total = max(sum(sizes), 1)
    u = jax.random.uniform(key, (total,), dtype)
    index = jax.random.randint(jax.random.fold_in(key, 1), (total,), -MAX_INDEX, MAX_INDEX + 1)
    shifts, start = [], 0
    for n, translation in zip(sizes, translations):
        rows = slice(start, start + n)
        start += n
        if translation.kind == "lattice":
            shifts.append(index[rows].astype(dtype) * jnp.asarray(translation.period, dtype))
        elif translation.kind == "real":
            shifts.append(REAL_RANGE * (2 * u[rows] - 1))
        else:
            shifts.append(jnp.zeros(n, dtype))
    return tuple(shifts)
