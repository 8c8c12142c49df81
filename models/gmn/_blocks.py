"""Blocks that read and compute feature types.

Every typed block takes ``Typed`` features and returns a ``Typed`` feature whose type
it computed: ``ReScaleEq`` the product type, ``ScaleEq`` its input's type,
``ActivationBlock`` φ(q) (or φ(q)/q for the derivative), ``ScaleInv`` the trivial
type. A feature of the wrong type is a ``FeatureTypeError`` at trace time. One set of
parameters serves every layer block; the canonicalisation (normalise, symmetrise or
nothing) is chosen per block from the type. Typed paths use bias-free linear maps
only; biases and LayerNorm live inside the invariant MLPs, where they cannot break
equivariance.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from symm import IDENTITY, TRIVIAL

from models.gmn._typed import FeatureType, FeatureTypeError, Typed, expect, expect_invariant, product_type
from models.graph import StreamType, derivative


def over_rows(f: Callable[[Array], Array], x: Array) -> Array:
    """Apply a single-vector module ``f`` to every row of ``x`` (all leading axes)."""
    for _ in range(x.ndim - 1):
        f = jax.vmap(f)
    return f(x)


def dense(layer: eqx.nn.Linear, x: Float[Array, "... d_in"]) -> Float[Array, "... d_out"]:
    """An ``eqx.nn.Linear`` on the last axis of ``x`` as one matmul (no per-row vmap)."""
    y = jnp.einsum("...i,oi->...o", x, layer.weight)
    return y + layer.bias if layer.bias is not None else y


def normalise(x: Float[Array, "... d"]) -> Float[Array, "... d"]:
    """x/‖x‖ over the last axis; exactly 0 (with finite gradients) where x = 0."""
    sq = jnp.sum(x * x, axis=-1, keepdims=True)
    positive = sq > 0
    inv = jax.lax.rsqrt(jnp.where(positive, sq, 1.0))
    return jnp.where(positive, x * inv, 0.0)


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

    @property
    def weight(self) -> Array:
        return self.layer.weight

    def __call__(self, x: Float[Array, "... d_in"]) -> Float[Array, "... d_out"]:
        return dense(self.layer, x)

    def typed(self, x: Typed) -> Typed:
        """A bias-free linear map commutes with every scalar: same type."""
        return x.with_array(self(x.array))


def fused(maps: list[Linear], x: Array) -> list[Array]:
    """Several bias-free maps of one input as one matmul (one read of a large edge tensor)."""
    if len(maps) == 1:
        return [maps[0](x)]
    w = jnp.concatenate([m.weight for m in maps], axis=0)
    y = jnp.einsum("...i,oi->...o", x, w)
    splits, total = [], 0
    for m in maps[:-1]:
        total += m.weight.shape[0]
        splits.append(total)
    return jnp.split(y, splits, axis=-1)


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
        h = over_rows(self.norm, pre)
        h = jax.nn.silu(h)
        h = self.dropout(h, key=key)
        return dense(self.last, h)

    def __call__(self, x: Float[Array, "... d_in"], *, key: PRNGKeyArray | None = None) -> Float[Array, "... d_out"]:
        return self.hidden(dense(self.first, x), key=key)


def canonicalise(rho: eqx.nn.Linear, x: Array, stype: StreamType) -> Array:
    """The invariant of a feature of type ``stype``.

    magnitude can change (positive, nonzero groups, s ≠ 0): x/‖x‖ over the channels;
    sign can flip (sign, nonzero groups, ε = 1): ρ(x) + ρ(−x) with a learned ρ, one
    matmul (ρ is affine: ρ(−x) = b − Wx); both when both; nothing for an invariant type.
    """
    if stype.needs_norm:
        x = normalise(x)
    if stype.needs_sym:
        wx = jnp.einsum("...i,oi->...o", x, rho.weight)
        x = jax.nn.silu(wx + rho.bias) + jax.nn.silu(rho.bias - wx)
    return x


class ScaleInv(eqx.Module):
    """Type → invariant features, the canonicalisation chosen from the type (see ``canonicalise``)."""

    rho: eqx.nn.Linear

    def __init__(self, d: int, *, key: PRNGKeyArray, dtype=None):
        self.rho = eqx.nn.Linear(d, d, key=key, dtype=dtype)

    def __call__(self, x: Typed | Array, stype: StreamType | None = None) -> Typed | Array:
        """``ScaleInv(typed)`` → invariant ``Typed``; ``ScaleInv(array, stream_type)`` → array."""
        if isinstance(x, Typed):
            if stype is not None:
                raise FeatureTypeError(f"{x.type} already carries its type; do not pass a second one")
            t = x.type
            out = canonicalise(self.rho, x.array, t.stream_type)
            return Typed(out, FeatureType(t.site, t.layer, TRIVIAL, TRIVIAL, t.layout, f"inv({t.stream})"))
        if stype is None:
            raise FeatureTypeError("ScaleInv of a raw array needs its StreamType; pass a Typed feature instead")
        return canonicalise(self.rho, x, stype)


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

    def __call__(self, x: Typed, invariants: Typed | Array, *, key=None, gamma_x: Array | None = None) -> Typed:
        """``gamma_x``: Γx when the caller computed it in a fused matmul."""
        if isinstance(invariants, Typed):
            invariants = expect_invariant(invariants, f"the gate of ScaleEq on '{x.stream}'").array
        gx = self.gamma(x.array) if gamma_x is None else gamma_x
        return x.with_array(gx * self.gate(invariants, key=key))


class ReScaleEq(eqx.Module):
    """t1 × t2 → t1·t2: the product of two bias-free linear maps."""

    left: Linear
    right: Linear

    def __init__(self, d1: int, d2: int, d_out: int, *, key: PRNGKeyArray, dtype=None):
        k1, k2 = jax.random.split(key)
        self.left = Linear(d1, d_out, key=k1, dtype=dtype)
        self.right = Linear(d2, d_out, key=k2, dtype=dtype)

    def __call__(self, x: Typed | Array, y: Typed | Array, stream: str = "product", *,
                 left_x: Array | None = None) -> Typed | Array:
        """Typed inputs give a ``Typed`` of the product type; ``left_x``: Γ_left x from a fused matmul."""
        if isinstance(x, Typed) != isinstance(y, Typed):
            raise FeatureTypeError(f"ReScaleEq '{stream}' needs two typed features or two raw arrays")
        if not isinstance(x, Typed):
            return self.left(x) * self.right(y)
        t = product_type(x.type, y.type, stream)
        lx = self.left(x.array) if left_x is None else left_x
        ry = self.right(y.array)
        if x.type.site == "edge" and y.type.site == "vertex":
            ry = ry[:, None] if y.type.layer == x.type.layer else ry[None]
        return Typed(lx * ry, t)


class ActivationBlock(eqx.Module):
    """q → φ(q): the layer's own activation on a bias-free linear map, σ(Γx); with
    ``derivative=True``, q → φ(q)/q: σ'(Γx) (differentiate σ(q z) = φ(q)σ(z) in z).

    Exact because σ(q z) = φ(q) σ(z) for every q of the layer's (linear) group.
    ``init_scale`` (``Layout.activation_init_scale``) shrinks Γ at initialisation for fast
    activations: sin(30x) of unit-scale features oscillates, and training from there is slow
    and unstable.
    """

    gamma: Linear
    derivative: bool = eqx.field(static=True)

    def __init__(self, d_in: int, d_out: int, *, derivative: bool = False, init_scale: float = 1.0,
                 key: PRNGKeyArray, dtype=None):
        gamma = Linear(d_in, d_out, key=key, dtype=dtype)
        self.gamma = eqx.tree_at(lambda g: g.layer.weight, gamma, gamma.weight * init_scale) if init_scale != 1 \
            else gamma
        self.derivative = derivative

    def __call__(self, x: Typed, *, stream: str | None = None) -> Typed:
        t = x.type
        layout, l = t.layout, t.layer
        if t.site != "vertex" or not 0 < l < layout.num_layers:
            raise FeatureTypeError(f"the activation block acts on hidden vertices, got {t}")
        expect(x, FeatureType.vertex(layout, l, IDENTITY, t.stream), "the activation block")
        act = layout.activation(l)
        phi = layout.phi(l)
        fn = derivative(act) if self.derivative else act
        out_char = phi / IDENTITY if self.derivative else phi
        name = stream or (f"σ'({t.stream})" if self.derivative else f"σ({t.stream})")
        return Typed(fn(self.gamma(x.array)), FeatureType.vertex(layout, l, out_char, name))


def DerivativeBlock(d_in: int, d_out: int, *, init_scale: float = 1.0, key: PRNGKeyArray, dtype=None
                    ) -> ActivationBlock:
    """q → φ(q)/q: the activation block of the derivative σ'."""
    return ActivationBlock(d_in, d_out, derivative=True, init_scale=init_scale, key=key, dtype=dtype)
