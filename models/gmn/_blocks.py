"""Blocks generated from a feature's type.

Each block is exactly equivariant for the type it is called with: the type is a
static argument (a ``StreamType``), so one set of parameters serves every layer
block while the canonicalisation (normalise, symmetrise, or nothing) is chosen per
layer at trace time from the group the input networks' activations derived.
Typed paths use bias-free linear maps only; biases and LayerNorm live inside the
invariant MLPs, where they cannot break equivariance.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from models.graph import StreamType, derivative


def over_rows(f: Callable[[Array], Array], x: Array) -> Array:
    """Apply a single-vector module ``f`` to every row of ``x`` (all leading axes)."""
    for _ in range(x.ndim - 1):
        f = jax.vmap(f)
    return f(x)


def normalise(x: Float[Array, "... d"]) -> Float[Array, "... d"]:
    """x/‖x‖ over the last axis; exactly 0 (with finite gradients) where x = 0."""
    sq = jnp.sum(x * x, axis=-1, keepdims=True)
    positive = sq > 0
    norm = jnp.sqrt(jnp.where(positive, sq, 1.0))
    return jnp.where(positive, x / norm, 0.0)


class Linear(eqx.Module):
    """Bias-free linear map on the last axis (typed paths must have no bias).

    Initialised to preserve the mean square of its input (weights N(0, 1/d_in)):
    typed paths multiply several of these, and the equinox default (variance
    1/(3·d_in)) shrinks the signal about threefold per map, so after a few
    message-passing steps the features of real networks' weights vanish.
    """

    layer: eqx.nn.Linear

    def __init__(self, d_in: int, d_out: int, *, key: PRNGKeyArray, dtype=None):
        layer = eqx.nn.Linear(d_in, d_out, use_bias=False, key=key, dtype=dtype)
        weight = jax.random.normal(key, layer.weight.shape, layer.weight.dtype) / jnp.sqrt(d_in)
        self.layer = eqx.tree_at(lambda m: m.weight, layer, weight)

    def __call__(self, x: Float[Array, "... d_in"]) -> Float[Array, "... d_out"]:
        return over_rows(self.layer, x)


class InvariantMLP(eqx.Module):
    """Linear → LayerNorm → SiLU → dropout → Linear on invariant features."""

    first: eqx.nn.Linear
    norm: eqx.nn.LayerNorm
    dropout: eqx.nn.Dropout
    last: eqx.nn.Linear

    def __init__(self, d_in: int, d_hidden: int, d_out: int, *, dropout: float = 0.0, key: PRNGKeyArray, dtype=None):
        k1, k2 = jax.random.split(key)
        self.first = eqx.nn.Linear(d_in, d_hidden, key=k1, dtype=dtype)
        self.norm = eqx.nn.LayerNorm(d_hidden, dtype=dtype)
        self.dropout = eqx.nn.Dropout(dropout)
        self.last = eqx.nn.Linear(d_hidden, d_out, key=k2, dtype=dtype)

    def hidden(self, pre: Float[Array, "... h"], *, key: PRNGKeyArray | None = None) -> Float[Array, "... h"]:
        """The part after the first linear map (lets callers build the first layer from parts)."""
        h = jax.nn.silu(over_rows(self.norm, pre))
        h = self.dropout(h, key=key)
        return over_rows(self.last, h)

    def __call__(self, x: Float[Array, "... d_in"], *, key: PRNGKeyArray | None = None) -> Float[Array, "... d_out"]:
        return self.hidden(over_rows(self.first, x), key=key)


class ScaleInv(eqx.Module):
    """Type → invariant features, chosen from the type.

    magnitude can change (positive, nonzero groups, s ≠ 0): x/‖x‖ over the channels;
    sign can flip (sign, nonzero groups, ε = 1): ρ(x) + ρ(−x) with a learned ρ;
    both when both; nothing for an invariant type (trivial group, or ε = 0 on sign).
    """

    rho: eqx.nn.Linear

    def __init__(self, d: int, *, key: PRNGKeyArray, dtype=None):
        self.rho = eqx.nn.Linear(d, d, key=key, dtype=dtype)

    def __call__(self, x: Float[Array, "... d"], stype: StreamType) -> Float[Array, "... d"]:
        if stype.needs_norm:
            x = normalise(x)
        if stype.needs_sym:
            x = jax.nn.silu(over_rows(self.rho, x)) + jax.nn.silu(over_rows(self.rho, -x))
        return x


def open_gate(mlp: InvariantMLP) -> InvariantMLP:
    """Shift a gate MLP's output bias by +1, so that a gated path Γx ⊙ gate starts near Γx.

    Gates around 0 would multiply the signal by a small random factor at every step.
    """
    return eqx.tree_at(lambda m: m.last.bias, mlp, mlp.last.bias + 1)


class ScaleEq(eqx.Module):
    """t → t: a bias-free linear map gated by an invariant MLP, Γx ⊙ MLP(invariants)."""

    gamma: Linear
    gate: InvariantMLP

    def __init__(self, d_in: int, d_out: int, d_gate: int, d_hidden: int, *, dropout=0.0, key, dtype=None):
        k1, k2 = jax.random.split(key)
        self.gamma = Linear(d_in, d_out, key=k1, dtype=dtype)
        self.gate = open_gate(InvariantMLP(d_gate, d_hidden, d_out, dropout=dropout, key=k2, dtype=dtype))

    def __call__(self, x: Float[Array, "... d_in"], invariants: Float[Array, "... g"], *, key=None) -> Array:
        return self.gamma(x) * self.gate(invariants, key=key)


class ReScaleEq(eqx.Module):
    """t1 × t2 → t1·t2: the product of two bias-free linear maps."""

    left: Linear
    right: Linear

    def __init__(self, d1: int, d2: int, d_out: int, *, key: PRNGKeyArray, dtype=None):
        k1, k2 = jax.random.split(key)
        self.left = Linear(d1, d_out, key=k1, dtype=dtype)
        self.right = Linear(d2, d_out, key=k2, dtype=dtype)

    def __call__(self, x: Array, y: Array) -> Array:
        return self.left(x) * self.right(y)


class ActivationBlock(eqx.Module):
    """q → φ(q): the layer's own activation on a bias-free linear map, σ(Γx).

    Exact because σ(q z) = φ(q) σ(z) for every q of the layer's (linear) group.
    """

    gamma: Linear

    def __init__(self, d_in: int, d_out: int, *, key: PRNGKeyArray, dtype=None):
        self.gamma = Linear(d_in, d_out, key=key, dtype=dtype)

    def __call__(self, x: Array, activation: Callable[[Array], Array]) -> Array:
        return activation(self.gamma(x))


class DerivativeBlock(eqx.Module):
    """q → φ(q)/q: the derivative σ'(Γx) (differentiate σ(q z) = φ(q)σ(z) in z)."""

    gamma: Linear

    def __init__(self, d_in: int, d_out: int, *, key: PRNGKeyArray, dtype=None):
        self.gamma = Linear(d_in, d_out, key=key, dtype=dtype)

    def __call__(self, x: Array, activation: Callable[[Array], Array]) -> Array:
        return derivative(activation)(self.gamma(x))
