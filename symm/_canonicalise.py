"""``symm.canonicalise``: one representative of a network's orbit under its weight-space group.

Metanetworks and weight generators that are not themselves equivariant see every
copy ``g·θ`` of a network as a different input. Mapping each network to a fixed
point of its orbit removes that freedom before training.

The representative is built layer by layer, from the first hidden layer to the
last, by acting with the derived group (``space.act``, the one place the action
lives). Hidden neuron ``k`` of layer ``l`` has an incoming row ``r_k`` (its weights
``W_l[k]``, flattened over inputs and kernel taps) and a bias ``b_k``; when layer
``l`` is reached, all earlier layers are already canonical, so ``r_k`` and ``b_k``
change only by this layer's own element. For each neuron, in this order:

* sign (groups ``sign`` and ``nonzero``): flip the neuron so that the first nonzero
  entry of ``r_k`` is positive (the bias decides only when ``r_k`` is all zero);
* positive scale (groups ``positive`` and ``nonzero``): rescale so that
  ``‖(r_k, b_k)‖₂ = 1`` (a neuron whose row and bias are all zero is left as is);
* permutation: sort the neurons lexicographically by ``(b_k, r_k[0], r_k[1], ...)``.

Why these keys: a sign flip negates every entry exactly, so the sign of the first
nonzero entry is flipped with it; a positive scale multiplies the norm. After both,
the sort key of a neuron is invariant, and sorting undoes any permutation.

Ties. Two neurons whose canonical rows and biases are exactly equal have the same
key; the sort is stable, so they keep their current relative order, and
``canonicalise(g·θ)`` may then differ from ``canonicalise(θ)`` by an exchange of
those tied neurons (which exchanges only their outgoing weights). Ties have
probability zero for trained or randomly initialised weights; with positive
scales, keys that agree to rounding error (~1e-16 relative) can also tie-break
differently.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from symm._group_element import GroupElement
from symm._weight_space import WeightSpace

# The parts of a neuron's group that have a canonical form here, and the groups they belong to.
SYMMETRIES = ("permutation", "sign", "positive")
_SCALE_PARTS = {"trivial": (), "sign": ("sign",), "positive": ("positive",), "nonzero": ("sign", "positive")}


class CanonicaliseError(ValueError):
    """A canonicalisation that cannot be done as asked (one clear line)."""


def _group_name(group: Any) -> str:
    return str(getattr(group, "name", group))


def _parts(space: WeightSpace, symmetries: Sequence[str] | None) -> tuple[str, ...]:
    groups = [_group_name(g) for g in space.groups]
    unknown = sorted({g for g in groups if g not in _SCALE_PARTS})
    if unknown:
        raise CanonicaliseError(
            f"the {unknown[0]} group of {space} has no canonical form in symm.canonicalise; "
            f"canonical forms exist for the groups {', '.join(_SCALE_PARTS)}"
        )
    available = {"permutation"} | {part for g in groups for part in _SCALE_PARTS[g]}
    if symmetries is None:
        return tuple(part for part in SYMMETRIES if part in available)
    if isinstance(symmetries, str):
        symmetries = (symmetries,)
    chosen = tuple(symmetries)
    for part in chosen:
        if part not in SYMMETRIES:
            raise CanonicaliseError(
                f"symm.canonicalise has no canonical form for {part!r}; choose from {', '.join(SYMMETRIES)}"
            )
        if part not in available:
            raise CanonicaliseError(
                f"asked to canonicalise {part!r}, but no hidden layer of {space} has that symmetry "
                f"(groups: {', '.join(groups)}); leave it out, or pass symmetries=None for all of them"
            )
    return tuple(part for part in SYMMETRIES if part in chosen)


def _first_nonzero_sign(rows: Array) -> Array:
    """Per row: the sign of its first nonzero entry (1 for an all-zero row)."""
    nonzero = rows != 0
    first = jnp.argmax(nonzero, axis=1)
    value = jnp.take_along_axis(rows, first[:, None], axis=1)[:, 0]
    return jnp.where(value < 0, -1.0, 1.0).astype(rows.dtype)


def _layer_element(rows: Array, bias: Array, group: str, parts: tuple[str, ...]) -> tuple[Array, Array]:
    """This layer's permutation and scales (indexed by the old neuron) that make it canonical."""
    dtype = rows.dtype
    scales = jnp.ones(bias.shape, dtype)
    full = jnp.concatenate([rows, bias[:, None]], axis=1)
    if "sign" in parts and "sign" in _SCALE_PARTS[group]:
        scales = _first_nonzero_sign(full)
    if "positive" in parts and "positive" in _SCALE_PARTS[group]:
        norm = jnp.sqrt(jnp.sum(full * full, axis=1))
        safe = jnp.where(norm > 0, norm, 1.0)
        scales = scales * jnp.where(norm > 0, 1.0 / safe, 1.0)
    if "permutation" in parts:
        moved_rows, moved_bias = scales[:, None] * rows, scales * bias
        keys = [moved_bias] + [moved_rows[:, j] for j in range(rows.shape[1])]
        perm = jnp.lexsort(tuple(reversed(keys))).astype(jnp.int32)  # lexsort: last key is primary
    else:
        perm = jnp.arange(bias.shape[0], dtype=jnp.int32)
    return perm, scales


def _identity_like(space: WeightSpace, dtype) -> tuple[list[Array], list[Array]]:
    return (
        [jnp.arange(n, dtype=jnp.int32) for n in space.hidden_sizes],
        [jnp.ones(n, dtype) for n in space.hidden_sizes],
    )


@eqx.filter_jit
def _canonical(space: WeightSpace, params, parts: tuple[str, ...]):
    dtype = params[0][0].dtype
    groups = [_group_name(g) for g in space.groups]
    total = space.identity(dtype=dtype)
    for layer in range(len(space.hidden_sizes)):
        w, b = params[layer]
        perm, scales = _layer_element(w.reshape(w.shape[0], -1), b, groups[layer], parts)
        perms, all_scales = _identity_like(space, dtype)
        perms[layer], all_scales[layer] = perm, scales
        step = GroupElement(tuple(perms), tuple(all_scales))
        params = space.act(step, params)
        total = step.compose(total)
    return params, total


def canonical_element(space: WeightSpace, params: Any, *, symmetries: Sequence[str] | None = None) -> GroupElement:
    """The group element ``g`` with ``space.act(g, params) == canonicalise(space, params)``."""
    space.validate(params)
    return _canonical(space, tuple((w, b) for w, b in params), _parts(space, symmetries))[1]


def canonicalise(space: WeightSpace, params: Any, *, symmetries: Sequence[str] | None = None):
    """One fixed representative of the orbit of ``params`` under the space's derived group.

    ``symmetries``: the parts to canonicalise, a subset of ``symm.SYMMETRIES``
    (``"permutation"``, ``"sign"``, ``"positive"``); default: every part the space's groups have.
    Idempotent, preserves the network's function, and ``canonicalise(g·θ) == canonicalise(θ)``
    for every ``g`` in the group (up to ties, see the module docstring). Jittable.
    """
    space.validate(params)
    return _canonical(space, tuple((w, b) for w, b in params), _parts(space, symmetries))[0]


@eqx.filter_jit
def _canonical_batch(space: WeightSpace, params, parts: tuple[str, ...]):
    return jax.vmap(lambda p: _canonical(space, p, parts)[0])(params)


def canonicalise_batch(
    space: WeightSpace, params: Any, *, symmetries: Sequence[str] | None = None, chunk_size: int = 4096
):
    """``canonicalise`` of every network of a batch (a zoo split: leading axis on every array).

    Vmapped and jitted, ``chunk_size`` networks at a time (one compilation per chunk shape).
    """
    space.validate(params, batched=True)
    if chunk_size < 1:
        raise CanonicaliseError(f"chunk_size must be a positive integer, got {chunk_size}")
    parts = _parts(space, symmetries)
    params = tuple((jnp.asarray(w), jnp.asarray(b)) for w, b in params)
    total = params[0][0].shape[0]
    if total == 0:
        return params
    chunks = []
    for start in range(0, total, chunk_size):
        chunk = jax.tree_util.tree_map(lambda a: a[start : start + chunk_size], params)
        chunks.append(_canonical_batch(space, chunk, parts))
    if len(chunks) == 1:
        return chunks[0]
    return jax.tree_util.tree_map(lambda *parts_: jnp.concatenate(parts_), *chunks)
