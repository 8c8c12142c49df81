"""Elements of a weight space's group: the identity, random elements, and elements of a larger group.

Each hidden neuron draws its scale from its layer's ``symm.Group`` (the group owns
the sampler); a permutation per layer comes from the same single uniform draw, so
``jax.vmap(space.sample)(keys)`` compiles a handful of random ops whatever the depth.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from symm._group_element import GroupElement
from symm._translation_action import sample_shifts
from symm._weight_params import default_float

if TYPE_CHECKING:
    from symm._weight_space import WeightSpace


def identity(space: "WeightSpace", *, dtype=None) -> GroupElement:
    dtype = default_float() if dtype is None else dtype
    return GroupElement(
        tuple(jnp.arange(n, dtype=jnp.int32) for n in space.hidden_sizes),
        tuple(jnp.ones(n, dtype) for n in space.hidden_sizes),
    )


def sample(
    space: "WeightSpace",
    key: PRNGKeyArray,
    *,
    scale_range: tuple[float, float] = (0.25, 4.0),
    dtype=None,
    translations: bool = False,
) -> GroupElement:
    """One random element: a permutation per hidden layer and a scale per neuron from its group."""
    lo, hi = scale_range
    if not 0 < lo <= hi:
        raise ValueError(f"scale_range must satisfy 0 < low <= high, got {scale_range}")
    return _draw(space, key, math.log(lo), math.log(hi), dtype, outside=False, translations=translations)


def sample_outside(
    space: "WeightSpace", key: PRNGKeyArray, *, scale_range: tuple[float, float] = (1.5, 4.0), dtype=None
) -> GroupElement:
    """An element of a larger group than the derived one, for negative tests (see ``Group.larger``)."""
    lo, hi = scale_range
    if not 1 < lo <= hi:
        raise ValueError(f"sample_outside needs 1 < low <= high so that |q| != 1, got {scale_range}")
    if all(g.larger is None for g in space.groups):
        raise ValueError(
            f"every hidden neuron of {space} already has the largest group (nonzero scalings); "
            "there is no larger group to sample from"
        )
    return _draw(space, key, math.log(lo), math.log(hi), dtype, outside=True)


def _draw(
    space: "WeightSpace", key, log_lo, log_hi, dtype, *, outside: bool, translations: bool = False
) -> GroupElement:
    """One uniform draw for everything (few random ops keep compilation cheap)."""
    dtype = default_float() if dtype is None else dtype
    total = sum(space.hidden_sizes)
    u = jax.random.uniform(key, (4, max(total, 1)), dtype)
    perms, scales, start = [], [], 0
    for n, group in zip(space.hidden_sizes, space.groups):
        u_perm, u_mag, u_sign, u_inv = (row[start : start + n] for row in u)
        start += n
        perms.append(jnp.argsort(u_perm).astype(jnp.int32))
        scales.append(group.scales_from_uniform(u_mag, u_sign, u_inv, log_lo, log_hi, outside=outside))
    shifts = None
    if translations:
        shifts = sample_shifts(space.translations, space.hidden_sizes, jax.random.fold_in(key, 1), dtype)
    return GroupElement(tuple(perms), tuple(scales), shifts)


def check_element(space: "WeightSpace", g: GroupElement) -> None:
    if not isinstance(g, GroupElement):
        raise TypeError(f"expected a symm.GroupElement, got {type(g).__name__}")
    sizes = tuple(p.shape[-1] for p in g.perms)
    if sizes != space.hidden_sizes:
        raise ValueError(f"group element has hidden layer sizes {sizes} but the weight space has {space.hidden_sizes}")

