"""Translation symmetries of an activation and the certificate behind them.

A translation symmetry shifts the pre-activation: σ(x + t) = β(t)·σ(x) + γ(t) for all
real x. The shifts t that work form a subgroup T of ℝ, and symm reports one of

* ``trivial``: T = {0};
* ``lattice``: T = Pℤ, with t = k·P, β and γ written in the integer k;
* ``real``: T = ℝ, with β and γ written in the real shift t.

The certificate holds the steps (``TranslationIdentity``, ``Asymptote``,
``IntervalRefutation``) and ``check()`` re-runs each from the activation alone.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Literal

import sympy

from symm._certificate import CertificateError
from symm._derive_pieces import Piece, Unproven, prove_equal
from symm._symbols import x

K = sympy.Symbol("k", integer=True)  # t = k·P on a lattice
SHIFT = sympy.Symbol("t", real=True)  # t in ℝ

Kind = Literal["trivial", "lattice", "real"]


class TranslationCheckError(CertificateError):
    """A translation step failed when re-checked."""


def _text(expr) -> str:
    return sympy.sstr(expr)


@dataclasses.dataclass(frozen=True)
class TranslationIdentity:
    """σ(x + shift) = β·σ(x) + γ for all real x (``shift`` a number or the symbol t)."""

    shift: sympy.Expr
    beta: sympy.Expr
    gamma: sympy.Expr
    pieces: tuple[Piece, ...]

    @staticmethod
    def sides(sigma, shift, beta, gamma):
        return sigma.subs(x, x + shift), beta * sigma + gamma

    @classmethod
    def prove(cls, sigma, shift, beta, gamma) -> "TranslationIdentity":
        lhs, rhs = cls.sides(sigma, shift, beta, gamma)
        return cls(sympy.sympify(shift), sympy.sympify(beta), sympy.sympify(gamma), prove_equal(lhs, rhs))

    def check(self, sigma) -> None:
        try:
            prove_equal(*self.sides(sigma, self.shift, self.beta, self.gamma))
        except Unproven as error:
            raise TranslationCheckError(f"σ(x + {_text(self.shift)}) identity no longer proven: {error}") from error

    def __str__(self) -> str:
        where = "every real t" if self.shift == SHIFT else f"t = {_text(self.shift)}"
        lines = [f"For {where}: σ(x + {_text(self.shift)}) = {_text(self.beta)}·σ(x) + {_text(self.gamma)} for all real x."]
        for piece in self.pieces:
            lines.append(f"    {piece.region}: {_text(piece.lhs)} = {_text(piece.rhs)}; the difference {piece.method}.")
        return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class Asymptote:
    """lim_{x→±∞} of ``expr`` (in x) is ``value``: a number, ±oo, or None where it has no limit."""

    direction: int
    expr: sympy.Expr
    value: sympy.Expr | None

    def check(self, sigma) -> None:
        from symm._derive_translation import limit_of

        if limit_of(self.expr, self.direction) != self.value:
            raise TranslationCheckError(f"lim {self._where()} of {_text(self.expr)} is no longer {self.value}")

    def _where(self) -> str:
        return "x→+∞" if self.direction > 0 else "x→−∞"

    def __str__(self) -> str:
        value = "does not exist" if self.value is None else f"= {_text(self.value)}"
        return f"lim_{{{self._where()}}} {_text(self.expr)} {value}"


@dataclasses.dataclass(frozen=True)
class IntervalRefutation:
    """No t in [low, high] (endpoints excluded where a symmetry sits) satisfies the identity.

    For t in the interval, three points x_k would need σ(x_k + t) = β·σ(x_k) + γ, so
    D(t) = det[σ(x_k), 1, σ(x_k + t)] = 0. ``method``:

    * ``"determinant"``: D over the whole t-interval, enclosed, excludes 0;
    * ``"derivative at 0"``: D(t) = t·det[σ(x_k), 1, σ'(ξ_k)] with ξ_k in [x_k, x_k + high]
      (mean value theorem), and that determinant excludes 0 for 0 < t ≤ high;
    * ``"derivative at P"``: with the proven σ(x + P) = β_P·σ(x) + γ_P, D(P − u) = β_P·D(−u),
      and D(−u) = −u·det[σ(x_k), 1, σ'(ξ_k)], ξ_k in [x_k − (P − low), x_k], for low ≤ t < P.
    """

    low: sympy.Expr
    high: sympy.Expr
    points: tuple[sympy.Expr, sympy.Expr, sympy.Expr]
    method: str
    bound: str

    def check(self, sigma, period) -> None:
        from symm._derive_translation import refute_interval

        if refute_interval(sigma, period, self.low, self.high, self.points, self.method) is None:
            raise TranslationCheckError(f"t in [{_text(self.low)}, {_text(self.high)}] is no longer refuted")

    def __str__(self) -> str:
        xs = ", ".join(_text(p) for p in self.points)
        return f"[{_text(self.low)}, {_text(self.high)}]: {self.method} at x = {xs} {self.bound}"


@dataclasses.dataclass(frozen=True)
class TranslationCertificate:
    """Proof of the translation group: identities, asymptotes and the refuted intervals."""

    activation: sympy.Expr
    kind: Kind
    period: sympy.Expr | None
    beta: sympy.Expr
    gamma: sympy.Expr
    identities: tuple[TranslationIdentity, ...]
    asymptotes: tuple[Asymptote, ...]
    refutations: tuple[IntervalRefutation, ...]
    argument: str
    undecided: tuple[str, ...] = ()

    def check(self) -> None:
        """Re-run every step from the activation; raise TranslationCheckError if one fails."""
        from symm._derive_translation import conclusion_of

        for step in self.identities:
            step.check(self.activation)
        for step in self.asymptotes:
            step.check(self.activation)
        if self.asymptotes and conclusion_of(self.activation, self.asymptotes)[0] not in self._consistent():
            raise TranslationCheckError("the asymptotes no longer lead to the stated conclusion")
        if self.kind == "lattice":
            generator = next((s for s in self.identities if s.shift == self.period), None)
            if generator is None:
                raise TranslationCheckError(f"no identity proves the generator t = {_text(self.period)}")
            for name, stated, proven in (("β", self.beta, generator.beta), ("γ", self.gamma, generator.gamma)):
                if sympy.simplify(stated.subs(K, 1) - proven) != 0:
                    raise TranslationCheckError(f"{name}(k) = {_text(stated)} disagrees with the generator's step")
            covered = sympy.Integer(0)
            for step in sorted(self.refutations, key=lambda s: float(s.low)):
                if sympy.simplify(step.low - covered) != 0:
                    if not any(item.startswith("translations: smaller period") for item in self.undecided):
                        raise TranslationCheckError(f"the refuted intervals leave a gap at t = {_text(covered)}")
                step.check(self.activation, self.period)
                covered = step.high
            if sympy.simplify(covered - self.period) != 0 and not any(
                item.startswith("translations: smaller period") for item in self.undecided
            ):
                raise TranslationCheckError(f"the refuted intervals stop at t = {_text(covered)} < P")
        if self.kind == "real" and not any(s.shift == SHIFT for s in self.identities):
            raise TranslationCheckError("no identity proves every real shift")

    def _consistent(self) -> set[str]:
        """Verdicts of the asymptotic argument that fit the claimed group (see ``conclusion_of``).

        A lattice or ℝ proven by identities and refutations alone needs no verdict ("unknown");
        {0} with nothing undecided needs the verdict "trivial".
        """
        if self.kind == "trivial":
            return {"trivial", "unknown", "oscillating", "affine"} if self.undecided else {"trivial"}
        return {"real": {"affine", "unknown"}, "lattice": {"oscillating", "unknown"}}[self.kind]

    def __str__(self) -> str:
        lines = [f"translation group: {_group_text(self.kind, self.period)}; {_law_text(self.kind, self.period, self.beta, self.gamma)}"]
        if self.asymptotes:
            lines.append("Asymptotes (sympy.limit):")
            lines += [f"  - {step}" for step in self.asymptotes]
        lines.append(f"Argument: {self.argument}")
        if self.identities:
            lines.append("Proof of the translations:")
            lines += [f"  {index}. {step}" for index, step in enumerate(self.identities, 1)]
        if self.refutations:
            lines.append(
                f"Proof that no t in (0, {_text(self.period)}) works ({len(self.refutations)} intervals cover it, "
                "each refuted by interval arithmetic):"
            )
            lines += [f"  - {step}" for step in self.refutations]
        if self.undecided:
            lines.append("Undecided (the translation group above may be too small):")
            lines += [f"  - {item}" for item in self.undecided]
        return "\n".join(lines)


def _group_text(kind: Kind, period) -> str:
    return {"trivial": "{0}", "real": "ℝ"}.get(kind) or f"{_text(period)}·ℤ"


def _law_text(kind: Kind, period, beta, gamma) -> str:
    if kind == "trivial":
        return "only t = 0"
    shift = "t" if kind == "real" else f"k·{_text(period)}"
    scaled = "σ(x)" if beta == 1 else f"{_text(beta)}·σ(x)"
    return f"σ(x + {shift}) = {scaled}" + ("" if gamma == 0 else f" + {_text(gamma)}")


@dataclasses.dataclass(frozen=True)
class TranslationSymmetry:
    """The derived translations of one activation: σ(x + t) = β·σ(x) + γ for t in the group.

    ``kind`` is ``"trivial"`` (t = 0 only), ``"lattice"`` (t = k·``period``, β and γ in the
    integer ``symm.translation_k``) or ``"real"`` (every t; β and γ in ``symm.translation_t``).
    """

    kind: Kind
    period: sympy.Expr | None
    beta: sympy.Expr
    gamma: sympy.Expr
    certificate: TranslationCertificate

    @property
    def undecided(self) -> tuple[str, ...]:
        return self.certificate.undecided

    @property
    def is_linear(self) -> bool:
        """True when no translation needs a bias correction downstream (γ ≡ 0)."""
        return self.gamma == 0

    @property
    def variable(self) -> sympy.Symbol:
        return SHIFT if self.kind == "real" else K

    @functools.cached_property
    def beta_fn(self) -> Callable:
        """β on an array of lattice indices k (or shifts t, for ``real``), in jax."""
        return _jax_of(self.beta, self.variable)

    @functools.cached_property
    def gamma_fn(self) -> Callable:
        """γ on an array of lattice indices k (or shifts t, for ``real``), in jax."""
        return _jax_of(self.gamma, self.variable)

    @property
    def group_text(self) -> str:
        return _group_text(self.kind, self.period)

    @property
    def law_text(self) -> str:
        return _law_text(self.kind, self.period, self.beta, self.gamma)

    def __str__(self) -> str:
        return f"translations t ∈ {self.group_text}: {self.law_text}"


def _jax_of(expr, symbol) -> Callable:
    import jax.numpy as jnp

    if symbol.is_integer:  # (-1)**k as a parity, exact for negative k too
        expr = expr.subs(sympy.Integer(-1) ** symbol, 1 - 2 * sympy.Mod(symbol, 2))
    raw = sympy.lambdify(symbol, expr, modules="jax")

    def evaluate(values, dtype=None):
        values = jnp.asarray(values)
        dtype = dtype or (values.dtype if jnp.issubdtype(values.dtype, jnp.floating) else jnp.result_type(float))
        values = values.astype(dtype)
        return jnp.broadcast_to(jnp.asarray(raw(values), dtype=dtype), values.shape)

    return evaluate
