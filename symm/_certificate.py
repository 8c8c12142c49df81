"""Certificates: the proof behind a derived activation symmetry, re-checkable.

A certificate holds two kinds of steps. An ``IdentityStep`` proves
``σ(a·x) = φ(a)·σ(x) + c(a)`` for every real ``x`` and every ``a`` in one part of
the group (``a > 0`` as a positive symbol, ``a = -1``, or ``a = -t`` with ``t > 0``),
region by region for piecewise activations. A ``Counterexample`` refutes a larger
candidate group: for one exact scale ``a`` and three exact points ``x_k`` the
equations ``σ(a·x_k) = b·σ(x_k) + c`` have no solution ``(b, c)``, because the
3×3 determinant ``det[σ(x_k), 1, σ(a·x_k)]`` is nonzero (exactly, or by a rigorous
interval enclosure). ``check()`` re-runs every step from the activation alone.
"""

from __future__ import annotations

import dataclasses

import sympy

from symm._derive_interval import IntervalUnsupported, enclose, excludes_zero, interval_text
from symm._derive_pieces import Piece, Unproven, prove_equal
from symm._symbols import a, x

# Scales that stand for a whole part of a group in an identity step.
POSITIVE_SCALE = sympy.Symbol("a", positive=True)  # every a > 0
T = sympy.Symbol("t", positive=True)  # a = −t: every a < 0

# The scales whose identities make up each group, and the larger groups to refute.
_GROUP_SCALES = {
    "trivial": {sympy.Integer(1)},
    "sign": {sympy.Integer(1), sympy.Integer(-1)},
    "positive": {POSITIVE_SCALE},
    "nonzero": {POSITIVE_SCALE, -T},
}
_LARGER = {"trivial": ("sign", "positive"), "sign": ("positive",), "positive": ("sign",), "nonzero": ()}


class CertificateError(AssertionError):
    """A certificate step failed when re-checked."""


def _text(expr) -> str:
    return sympy.sstr(expr)


@dataclasses.dataclass(frozen=True)
class IdentityStep:
    """``σ(a·x) = φ(a)·σ(x) + c(a)`` for all real x, with ``a`` replaced by ``scale``."""

    part: str
    scale: sympy.Expr
    phi: sympy.Expr
    offset: sympy.Expr
    pieces: tuple[Piece, ...]

    @staticmethod
    def sides(sigma: sympy.Expr, scale, phi, offset) -> tuple[sympy.Expr, sympy.Expr]:
        return sigma.subs(x, scale * x), phi * sigma + offset

    @classmethod
    def prove(cls, part: str, sigma: sympy.Expr, scale, phi, offset) -> "IdentityStep":
        lhs, rhs = cls.sides(sigma, scale, phi, offset)
        return cls(part, sympy.sympify(scale), sympy.sympify(phi), sympy.sympify(offset), prove_equal(lhs, rhs))

    def check(self, sigma: sympy.Expr) -> None:
        lhs, rhs = self.sides(sigma, self.scale, self.phi, self.offset)
        try:
            prove_equal(lhs, rhs)
        except Unproven as error:
            raise CertificateError(f"identity for {self.part} no longer proven: {error}") from error

    def __str__(self) -> str:
        lines = [
            f"For {self.part}: σ({_text(self.scale * x)}) = {_text(self.phi)}·σ(x) + {_text(self.offset)} for all real x."
        ]
        for piece in self.pieces:
            lines.append(
                f"    {piece.region}: left side {_text(piece.lhs)}, right side {_text(piece.rhs)}; "
                f"the difference {piece.method}."
            )
        return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class Counterexample:
    """A scale ``a`` of a larger candidate group that is not a symmetry of σ."""

    refutes: str
    scale: sympy.Expr
    points: tuple[sympy.Expr, sympy.Expr, sympy.Expr]
    sigma_x: tuple[sympy.Expr, ...]
    sigma_ax: tuple[sympy.Expr, ...]
    determinant: sympy.Expr
    bound: str

    @staticmethod
    def determinant_of(sigma_x, sigma_ax) -> sympy.Expr:
        (s1, s2, s3), (t1, t2, t3) = sigma_x, sigma_ax
        return s1 * (t3 - t2) + s2 * (t1 - t3) + s3 * (t2 - t1)

    @staticmethod
    def certify(determinant: sympy.Expr) -> str | None:
        """Text showing ``determinant != 0`` rigorously, or None when that cannot be shown."""
        determinant = sympy.sympify(determinant)
        if determinant.is_Rational:
            return None if determinant == 0 else f"= {_text(determinant)} exactly"
        try:
            interval = enclose(determinant)
        except (IntervalUnsupported, ZeroDivisionError, ValueError):
            return None
        if not excludes_zero(interval):
            return None
        return f"∈ {interval_text(interval)} (interval arithmetic)"

    @classmethod
    def build(cls, refutes: str, sigma: sympy.Expr, scale, points) -> "Counterexample | None":
        points = tuple(sympy.sympify(p) for p in points)
        sigma_x = tuple(sigma.subs(x, p) for p in points)
        sigma_ax = tuple(sigma.subs(x, scale * p) for p in points)
        determinant = cls.determinant_of(sigma_x, sigma_ax)
        bound = cls.certify(determinant)
        if bound is None:
            return None
        return cls(refutes, sympy.sympify(scale), points, sigma_x, sigma_ax, determinant, bound)

    def check(self, sigma: sympy.Expr) -> None:
        sigma_x = tuple(sigma.subs(x, p) for p in self.points)
        sigma_ax = tuple(sigma.subs(x, self.scale * p) for p in self.points)
        determinant = self.determinant_of(sigma_x, sigma_ax)
        if self.certify(determinant) is None:
            raise CertificateError(f"counterexample a = {self.scale} against the {self.refutes} group no longer holds")

    def __str__(self) -> str:
        equations = "; ".join(f"{_text(t)} = b·({_text(s)}) + c" for s, t in zip(self.sigma_x, self.sigma_ax))
        xs = ", ".join(_text(p) for p in self.points)
        return (
            f"The {self.refutes} group is too large: a = {_text(self.scale)} is in it, but σ(a·x) = b·σ(x) + c "
            f"at x = {xs} reads {equations}. These have no common solution (b, c): "
            f"the determinant of the rows (σ(x_k), 1, σ(a·x_k)) {self.bound}, not 0."
        )


@dataclasses.dataclass(frozen=True)
class Certificate:
    """The proof of a derived symmetry: identities, counterexamples, and what is open."""

    activation: sympy.Expr
    group: str
    phi: sympy.Expr
    offset: sympy.Expr
    identities: tuple[IdentityStep, ...]
    counterexamples: tuple[Counterexample, ...]
    undecided: tuple[str, ...] = ()
    translation: object | None = None  # a TranslationCertificate (symm._translation)

    def check(self) -> None:
        """Re-run every step from the activation alone; raise CertificateError if one fails.

        Also checks that the steps cover the claimed group, agree with the stated φ and c,
        and that every larger group is refuted or listed as undecided.
        """
        if {step.scale for step in self.identities} != _GROUP_SCALES[self.group]:
            raise CertificateError(f"the identity steps do not cover the {self.group} group")
        for step in self.identities:
            for name, stated, proven in (("φ", self.phi, step.phi), ("c", self.offset, step.offset)):
                if sympy.expand(stated.subs(a, step.scale) - proven) != 0:
                    raise CertificateError(f"{name}(a) = {_text(stated)} disagrees with the step for {step.part}")
            step.check(self.activation)
        refuted = {counterexample.refutes for counterexample in self.counterexamples}
        for larger in _LARGER[self.group]:
            if larger not in refuted and not any(item.startswith(larger) for item in self.undecided):
                raise CertificateError(f"the larger {larger} group is neither refuted nor listed as undecided")
        for counterexample in self.counterexamples:
            counterexample.check(self.activation)
        if self.translation is not None:
            self.translation.check()

    def __str__(self) -> str:
        lines = [
            f"σ(x) = {_text(self.activation)}",
            f"symmetry group: {self.group}; σ(a·x) = φ(a)·σ(x) + c(a) with φ(a) = {_text(self.phi)}, "
            f"c(a) = {_text(self.offset)}",
            "Proof that every a in the group is a symmetry:",
        ]
        lines += [f"  {index}. {step}" for index, step in enumerate(self.identities, 1)]
        if self.counterexamples:
            lines.append("Proof that no larger group works:")
            lines += [f"  - {counterexample}" for counterexample in self.counterexamples]
            if self.group != "nonzero":
                lines.append("  - The nonzero group contains each scale above, so these also rule it out.")
        if self.undecided:
            lines.append("Undecided (the group above may be too small):")
            lines += [f"  - {item}" for item in self.undecided]
        if self.translation is not None:
            lines += ["", str(self.translation)]
        return "\n".join(lines)
