"""Elements of the symmetry group of a weight space.

An element holds, for every hidden layer ``l``, a permutation ``perm_l``, one
scale ``q`` per neuron and, where the activation has translation symmetries, one
shift ``s`` per neuron. It acts on the pre-activations of that layer as
``z ↦ P_l (Q_l z + s_l)``: first neuron ``k`` becomes ``q_k z_k + s_k`` (scales and
shifts are indexed by the *old* neuron), then the layer is reordered so that new
neuron ``i`` is old neuron ``perm_l[i]``, i.e. ``(P x)[i] = x[perm[i]]``. Input and
output layers are never moved, so they have no entry. ``shifts`` is None for an
element without translations (every shift 0).

Elements are pytrees: ``jax.vmap(space.sample)(keys)`` gives a batch.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float, Int


def _inverse_permutation(perm: Array) -> Array:
    return jnp.zeros_like(perm).at[perm].set(jnp.arange(perm.shape[0], dtype=perm.dtype))


class GroupElement(eqx.Module):
    """A permutation, per-neuron scales and (optionally) shifts for every hidden layer (see module docstring)."""

    perms: tuple[Int[Array, " n"], ...]
    scales: tuple[Float[Array, " n"], ...]
    shifts: tuple[Float[Array, " n"], ...] | None = None

    def __check_init__(self):
        if len(self.perms) != len(self.scales):
            raise ValueError(
                f"GroupElement needs one permutation and one scale vector per hidden layer; "
                f"got {len(self.perms)} permutations and {len(self.scales)} scale vectors"
            )
        for layer, (perm, scale) in enumerate(zip(self.perms, self.scales)):
            if perm.shape != scale.shape:
                raise ValueError(
                    f"GroupElement hidden layer {layer + 1}: permutation shape {perm.shape} differs "
                    f"from scale shape {scale.shape}"
                )
        if self.shifts is not None:
            if len(self.shifts) != len(self.scales):
                raise ValueError(
                    f"GroupElement needs one shift vector per hidden layer; got {len(self.shifts)} for "
                    f"{len(self.scales)} hidden layers"
                )
            for layer, (shift, scale) in enumerate(zip(self.shifts, self.scales)):
                if shift.shape != scale.shape:
                    raise ValueError(
                        f"GroupElement hidden layer {layer + 1}: shift shape {shift.shape} differs "
                        f"from scale shape {scale.shape}"
                    )

    @property
    def num_hidden(self) -> int:
        return len(self.perms)

    def shifts_or_zeros(self) -> tuple[Array, ...]:
        """The shifts, with zeros where the element has none."""
        if self.shifts is not None:
            return self.shifts
        return tuple(jnp.zeros_like(q) for q in self.scales)

    def compose(self, other: "GroupElement") -> "GroupElement":
        """``self ∘ other``: act by ``other`` first, then by ``self``.

        ``P_g Q_g P_h Q_h = (P_g P_h)(P_h⁻¹ Q_g P_h) Q_h``, and ``P_h⁻¹ Q_g P_h`` is the
        diagonal with entry ``q_g[inv_h[k]]`` at old position ``k``. Shifts compose as
        ``q_g·(q_h z + s_h) + s_g``.
        """
        if other.num_hidden != self.num_hidden:
            raise ValueError(
                f"cannot compose elements of different weight spaces "
                f"({self.num_hidden} vs {other.num_hidden} hidden layers)"
            )
        perms, scales, shifts = [], [], []
        layers = zip(self.perms, self.scales, self.shifts_or_zeros(), other.perms, other.scales, other.shifts_or_zeros())
        for perm_g, q_g, s_g, perm_h, q_h, s_h in layers:
            inv_h = _inverse_permutation(perm_h)
            perms.append(perm_h[perm_g])
            scales.append(q_g[inv_h] * q_h)
            shifts.append(q_g[inv_h] * s_h + s_g[inv_h])
        either = self.shifts is not None or other.shifts is not None
        return GroupElement(tuple(perms), tuple(scales), tuple(shifts) if either else None)

    def inverse(self) -> "GroupElement":
        """The element ``g⁻¹`` with ``g ∘ g⁻¹ = g⁻¹ ∘ g = identity``."""
        perms = tuple(_inverse_permutation(perm) for perm in self.perms)
        scales = tuple(1.0 / q[perm] for perm, q in zip(self.perms, self.scales))
        if self.shifts is None:
            return GroupElement(perms, scales)
        shifts = tuple(-s[perm] / q[perm] for perm, q, s in zip(self.perms, self.scales, self.shifts))
        return GroupElement(perms, scales, shifts)

    def __matmul__(self, other: "GroupElement") -> "GroupElement":
        return self.compose(other)

    def to_dict(self) -> dict:
        """Plain lists (for reports and JSON)."""
        data = {
            "perms": [jnp.asarray(p).tolist() for p in self.perms],
            "scales": [jnp.asarray(q).tolist() for q in self.scales],
        }
        if self.shifts is not None:
            data["shifts"] = [jnp.asarray(s).tolist() for s in self.shifts]
        return data

    @classmethod
    def from_dict(cls, data: dict, *, dtype=None) -> "GroupElement":
        perms = tuple(jnp.asarray(p, dtype=jnp.int32) for p in data["perms"])
        scales = tuple(jnp.asarray(q, dtype=dtype) for q in data["scales"])
        shifts = tuple(jnp.asarray(s, dtype=dtype) for s in data["shifts"]) if "shifts" in data else None
        return cls(perms, scales, shifts)

    def __str__(self) -> str:
        lines = []
        shifts = self.shifts if self.shifts is not None else (None,) * len(self.scales)
        for layer, (perm, q, s) in enumerate(zip(self.perms, self.scales, shifts), start=1):
            perm_text = " ".join(str(int(i)) for i in jnp.asarray(perm).ravel())
            scale_text = " ".join(f"{float(v):.4g}" for v in jnp.asarray(q).ravel())
            line = f"  hidden layer {layer}: perm [{perm_text}]  scales [{scale_text}]"
            if s is not None:
                line += "  shifts [" + " ".join(f"{float(v):.4g}" for v in jnp.asarray(s).ravel()) + "]"
            lines.append(line)
        return "\n".join(lines) if lines else "  (no hidden layers)"
