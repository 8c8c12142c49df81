"""Representation types: characters of the nonzero reals.

Every feature that lives on a neuron scales in a fixed way when the neuron is
rescaled by ``q``: pre-activations by ``q``, post-activations by ``phi(q)``,
backward signals by ``1/q``, invariants not at all. Each of these is a character
``q -> |q|**s * sign(q)**eps`` written ``Character(s, eps)``. Products of features
multiply characters, so one small algebra types every block of a metanetwork.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import jax.numpy as jnp
import sympy
from jaxtyping import Array, ArrayLike


@dataclasses.dataclass(frozen=True, order=True)
class Character:
    """The character ``q -> |q|**s * sign(q)**eps`` of the nonzero reals."""

    s: Fraction | int = 1
    eps: int = 1

    def __post_init__(self):
        s = Fraction(self.s)
        if s.denominator != 1:
            s_value = s
        else:
            s_value = int(s)
        object.__setattr__(self, "s", s_value)
        if self.eps not in (0, 1):
            object.__setattr__(self, "eps", int(self.eps) % 2)

    def __mul__(self, other: "Character") -> "Character":
        return Character(Fraction(self.s) + Fraction(other.s), (self.eps + other.eps) % 2)

    def __truediv__(self, other: "Character") -> "Character":
        return self * other.inverse()

    def __pow__(self, k: int) -> "Character":
        return Character(Fraction(self.s) * k, (self.eps * k) % 2)

    def inverse(self) -> "Character":
        return Character(-Fraction(self.s), self.eps)

    @property
    def is_trivial(self) -> bool:
        return self.s == 0 and self.eps == 0

    def __call__(self, q: ArrayLike) -> Array:
        """Evaluate on scales ``q`` (elementwise, jax)."""
        q = jnp.asarray(q)
        if self.s == 0:
            magnitude = jnp.ones_like(q)
        elif Fraction(self.s).denominator == 1:
            magnitude = jnp.abs(q) ** int(self.s)
        else:
            magnitude = jnp.abs(q) ** float(self.s)
        return magnitude * jnp.sign(q) if self.eps else magnitude

    def sympy(self, a: sympy.Symbol) -> sympy.Expr:
        magnitude = sympy.Abs(a) ** sympy.Rational(Fraction(self.s).numerator, Fraction(self.s).denominator)
        return magnitude * sympy.sign(a) if self.eps else magnitude

    def __str__(self) -> str:
        if self.is_trivial:
            return "1"
        if self == Character(1, 1):
            return "q"
        if self == Character(-1, 1):
            return "1/q"
        base = f"|q|^{self.s}"
        return f"{base}·sign(q)" if self.eps else base


TRIVIAL = Character(0, 0)
IDENTITY = Character(1, 1)


def character_of(phi: sympy.Expr, a: sympy.Symbol) -> Character | None:
    """The character equal to ``phi(a)`` for every nonzero real ``a``, or None.

    The exponent is read off at ``a = 2`` and the parity at ``a = -2``; the match
    is then proven symbolically on both half-lines.
    """
    phi = sympy.sympify(phi)
    free = phi.free_symbols - {a}
    if free:
        return None
    at_two = sympy.nsimplify(phi.subs(a, 2))
    at_minus_two = sympy.nsimplify(phi.subs(a, -2))
    if at_two == 0 or not at_two.is_real or not at_minus_two.is_real:
        return None
    s = sympy.nsimplify(sympy.log(sympy.Abs(at_two), 2))
    if not s.is_rational:
        return None
    ratio = sympy.simplify(at_minus_two / at_two)
    if ratio == 1:
        eps = 0
    elif ratio == -1:
        eps = 1
    else:
        return None
    candidate = Character(Fraction(int(s.p), int(s.q)), eps)
    positive = sympy.Symbol("a_pos", positive=True)
    for sign in (1, -1):
        difference = phi.subs(a, sign * positive) - candidate.sympy(sympy.Symbol("t", real=True)).subs(
            sympy.Symbol("t", real=True), sign * positive
        )
        if sympy.simplify(difference) != 0:
            return None
    return candidate
