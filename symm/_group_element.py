"""Elements of the symmetry group of a weight space.

An element holds, for every hidden layer ``l``, a permutation ``perm_l`` and one
scale ``q`` per neuron. It acts on a vector of that layer's neurons as ``P_l Q_l``:
first neuron ``k`` is multiplied by ``scales_l[k]`` (scales are indexed by the
*old* neuron), then the layer is reordered so that new neuron ``i`` is old neuron
``perm_l[i]``, i.e. ``(P x)[i] = x[perm[i]]``. Input and output layers are never
moved, so they have no entry.

Elements are pytrees: ``jax.vmap(space.sample)(keys)`` gives a batch.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float, Int


def _inverse_permutation(perm: Array) -> Array:
    return jnp.zeros_like(perm).at[perm].set(jnp.arange(perm.shape[0], dtype=perm.dtype))


class GroupElement(eqx.Module):
    """A permutation and per-neuron scales for every hidden layer (see module docstring)."""

    perms: tuple[Int[Array, " n"], ...]
    scales: tuple[Float[Array, " n"], ...]

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

    @property
    def num_hidden(self) -> int:
        return len(self.perms)

    def compose(self, other: "GroupElement") -> "GroupElement":
        """``self ∘ other``: act by ``other`` first, then by ``self``.

        ``P_g Q_g P_h Q_h = (P_g P_h)(P_h⁻¹ Q_g P_h) Q_h``, and ``P_h⁻¹ Q_g P_h`` is the
        diagonal with entry ``q_g[inv_h[k]]`` at old position ``k``.
        """
        if other.num_hidden != self.num_hidden:
            raise ValueError(
                f"cannot compose elements of different weight spaces "
                f"({self.num_hidden} vs {other.num_hidden} hidden layers)"
            )
        perms, scales = [], []
        for perm_g, q_g, perm_h, q_h in zip(self.perms, self.scales, other.perms, other.scales):
            inv_h = _inverse_permutation(perm_h)
            perms.append(perm_h[perm_g])
            scales.append(q_g[inv_h] * q_h)
        return GroupElement(tuple(perms), tuple(scales))

    def inverse(self) -> "GroupElement":
        """The element ``g⁻¹`` with ``g ∘ g⁻¹ = g⁻¹ ∘ g = identity``."""
        perms = tuple(_inverse_permutation(perm) for perm in self.perms)
        scales = tuple(1.0 / q[perm] for perm, q in zip(self.perms, self.scales))
        return GroupElement(perms, scales)

    def __matmul__(self, other: "GroupElement") -> "GroupElement":
        return self.compose(other)

    def to_dict(self) -> dict:
        """Plain lists (for reports and JSON)."""
        return {
            "perms": [jnp.asarray(p).tolist() for p in self.perms],
            "scales": [jnp.asarray(q).tolist() for q in self.scales],
        }

    @classmethod
    def from_dict(cls, data: dict, *, dtype=None) -> "GroupElement":
        perms = tuple(jnp.asarray(p, dtype=jnp.int32) for p in data["perms"])
        scales = tuple(jnp.asarray(q, dtype=dtype) for q in data["scales"])
        return cls(perms, scales)

    def __str__(self) -> str:
        lines = []
        for layer, (perm, q) in enumerate(zip(self.perms, self.scales), start=1):
            perm_text = " ".join(str(int(i)) for i in jnp.asarray(perm).ravel())
            scale_text = " ".join(f"{float(v):.4g}" for v in jnp.asarray(q).ravel())
            lines.append(f"  hidden layer {layer}: perm [{perm_text}]  scales [{scale_text}]")
        return "\n".join(lines) if lines else "  (no hidden layers)"
