"""Rigorous enclosures of exact sympy constants such as ``tanh(2)`` or ``erf(1/2)``.

Counterexamples in a certificate are exact numbers; to show that one is nonzero
we enclose it in an interval that excludes 0. Field operations, ``exp``, ``log``,
``sqrt``, ``sin``, ``cos`` and ``tan`` use mpmath's interval arithmetic
(``mpmath.iv``, outward rounding). Hyperbolic functions are rewritten through
``exp``. Monotone functions that ``mpmath.iv`` lacks (``erf``, ``atan``, ``asinh``)
are enclosed by evaluating the endpoints 40 bits beyond the working precision and
widening by ``2**-prec`` (relative), far more than mpmath's own rounding error.
"""

from __future__ import annotations

import mpmath
import sympy

PRECISION_BITS = 120


class IntervalUnsupported(Exception):
    """The expression contains something we cannot enclose rigorously."""


def _lo(u) -> mpmath.mpf:
    return mpmath.mpf(u._mpi_[0])


def _hi(u) -> mpmath.mpf:
    return mpmath.mpf(u._mpi_[1])


def _monotone(fn, u, prec):
    """Enclose increasing ``fn`` on the interval ``u``."""
    iv = mpmath.iv
    with mpmath.workprec(prec + 40):
        low, high = fn(_lo(u)), fn(_hi(u))
        slack_low = (abs(low) + 1) * mpmath.mpf(2) ** (-prec)
        slack_high = (abs(high) + 1) * mpmath.mpf(2) ** (-prec)
        return iv.mpf([low - slack_low, high + slack_high])


def _positive(u) -> bool:
    return _lo(u) > 0


def _negative(u) -> bool:
    return _hi(u) < 0


def _walk(expr: sympy.Expr, prec: int, at: dict):
    iv = mpmath.iv
    if expr.is_Symbol:
        if expr not in at:
            raise IntervalUnsupported(f"{expr} is not a constant")
        return at[expr]
    if expr.is_Integer:
        return iv.mpf(int(expr))
    if expr.is_Rational:
        return iv.mpf(int(expr.p)) / iv.mpf(int(expr.q))
    if expr.is_Float:
        return iv.mpf(mpmath.mpf(expr._mpf_))
    if expr is sympy.pi:
        return iv.pi
    if expr is sympy.E:
        return iv.e
    args = [_walk(arg, prec, at) for arg in expr.args] if not isinstance(expr, sympy.Piecewise) else None
    if isinstance(expr, sympy.Add):
        total = args[0]
        for term in args[1:]:
            total = total + term
        return total
    if isinstance(expr, sympy.Mul):
        product = args[0]
        for factor in args[1:]:
            product = product * factor
        return product
    if isinstance(expr, sympy.Pow):
        base, exponent = args
        if expr.exp.is_Integer:
            power = int(expr.exp)
            result = base ** abs(power)
            if power < 0:
                if not (_positive(result) or _negative(result)):
                    raise IntervalUnsupported("division by an interval containing 0")
                result = 1 / result
            return result
        if expr.exp == sympy.Rational(1, 2) and _lo(base) >= 0:
            return iv.sqrt(base)
        if _positive(base):
            return iv.exp(exponent * iv.log(base))
        raise IntervalUnsupported(f"power {expr}")
    if isinstance(expr, sympy.exp):
        return iv.exp(args[0])
    if isinstance(expr, sympy.log):
        if not _positive(args[0]):
            raise IntervalUnsupported(f"log of a non-positive number in {expr}")
        return iv.log(args[0])
    simple = {sympy.sin: iv.sin, sympy.cos: iv.cos, sympy.tan: iv.tan}
    for kind, fn in simple.items():
        if isinstance(expr, kind):
            return fn(args[0])
    if isinstance(expr, (sympy.tanh, sympy.sinh, sympy.cosh)):
        return _walk(expr.rewrite(sympy.exp), prec, at)
    monotone = {sympy.erf: mpmath.erf, sympy.atan: mpmath.atan, sympy.asinh: mpmath.asinh}
    for kind, fn in monotone.items():
        if isinstance(expr, kind):
            return _monotone(fn, args[0], prec)
    if isinstance(expr, sympy.Abs):
        return abs(args[0])
    if isinstance(expr, (sympy.sign, sympy.Heaviside)):  # constant where the argument keeps one sign
        if _positive(args[0]) or _negative(args[0]):
            sign = 1 if _positive(args[0]) else -1
            return iv.mpf(sign if isinstance(expr, sympy.sign) else max(sign, 0))
        raise IntervalUnsupported(f"{expr} on an interval where its argument may vanish")
    if isinstance(expr, (sympy.Max, sympy.Min)):
        pick = max if isinstance(expr, sympy.Max) else min
        return iv.mpf([pick(_lo(u) for u in args), pick(_hi(u) for u in args)])
    raise IntervalUnsupported(f"cannot enclose {expr}")


def enclose(expr: sympy.Expr, prec: int = PRECISION_BITS, at: dict | None = None):
    """A ``mpmath.iv.mpf`` interval that provably contains the exact constant ``expr``, or
    every value of ``expr`` when each free symbol ranges over its interval in ``at``."""
    expr = sympy.sympify(expr)
    at = at or {}
    if expr.free_symbols - set(at):
        raise IntervalUnsupported(f"{expr} is not a constant")
    saved = mpmath.iv.prec
    mpmath.iv.prec = prec
    try:
        return _walk(expr, prec, at)
    finally:
        mpmath.iv.prec = saved


def hull(low, high):
    """The interval from the lower end of ``low`` to the upper end of ``high`` (both intervals)."""
    return mpmath.iv.mpf([_lo(low), _hi(high)])


def excludes_zero(interval) -> bool:
    return _lo(interval) > 0 or _hi(interval) < 0


def interval_text(interval, digits: int = 12) -> str:
    """Both endpoints, rounded outward to ``digits`` significant digits."""
    low, high = _lo(interval), _hi(interval)
    with mpmath.workdps(digits):
        low_text = mpmath.nstr(low - abs(low) * mpmath.mpf(10) ** (1 - digits), digits)
        high_text = mpmath.nstr(high + abs(high) * mpmath.mpf(10) ** (1 - digits), digits)
    return f"[{low_text}, {high_text}]"


def midpoint(interval) -> float:
    return float((_lo(interval) + _hi(interval)) / 2)
