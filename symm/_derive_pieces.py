"""Proving that an expression in ``x`` vanishes for every real ``x``.

Piecewise activations (``Max``, ``Min``, ``Abs``, ``Heaviside``, ``sign``,
``Piecewise``) are split into regions of the real line on which every branch is
fixed: the breakpoints are the real roots of every quantity whose sign picks a
branch. On each open region the branches are replaced by the analytic piece
chosen at a test point, and that analytic expression is reduced to exactly 0 by a
cascade of cheap rewrites (``expand``, ``cancel``, ``rewrite(exp)``) before
falling back to ``simplify``. Each breakpoint is checked by exact substitution.
"""

from __future__ import annotations

import dataclasses
import random

import sympy

from symm._symbols import x

BRANCHING = (sympy.Abs, sympy.Max, sympy.Min, sympy.Heaviside, sympy.sign, sympy.Piecewise)


class Unproven(Exception):
    """The zero test could not conclude (not a disproof)."""


@dataclasses.dataclass(frozen=True)
class Piece:
    """One region of the real line: both sides with their branches fixed, and why they agree."""

    region: str
    lhs: sympy.Expr
    rhs: sympy.Expr
    method: str


def _sign_of(value: sympy.Expr) -> int:
    value = sympy.sympify(value)
    if value.is_zero:
        return 0
    if value.is_positive:
        return 1
    if value.is_negative:
        return -1
    expanded = sympy.expand(value)
    if expanded.is_zero:
        return 0
    if expanded.is_positive:
        return 1
    if expanded.is_negative:
        return -1
    raise Unproven(f"cannot decide the sign of {value}")


def _condition_at(condition, point) -> bool:
    value = condition.subs(x, point)
    if value in (sympy.true, True):
        return True
    if value in (sympy.false, False):
        return False
    if isinstance(value, sympy.Rel):
        return _sign_of(value.lhs - value.rhs) in {
            sympy.StrictGreaterThan: (1,),
            sympy.GreaterThan: (0, 1),
            sympy.StrictLessThan: (-1,),
            sympy.LessThan: (-1, 0),
            sympy.Equality: (0,),
            sympy.Unequality: (-1, 1),
        }[type(value)]
    raise Unproven(f"cannot decide the condition {condition} at x = {point}")


def resolve(expr: sympy.Expr, point: sympy.Expr) -> sympy.Expr:
    """Replace every branching node by the branch it takes at ``x = point``."""
    if not expr.args or not expr.has(*BRANCHING):
        return expr
    if isinstance(expr, sympy.Piecewise):
        for piece, condition in expr.args:
            if _condition_at(condition, point):
                return resolve(piece, point)
        raise Unproven(f"no branch of {expr} applies at x = {point}")
    args = [resolve(arg, point) for arg in expr.args]
    if isinstance(expr, sympy.Abs):
        return args[0] if _sign_of(args[0].subs(x, point)) >= 0 else -args[0]
    if isinstance(expr, sympy.sign):
        return sympy.Integer(_sign_of(args[0].subs(x, point)))
    if isinstance(expr, sympy.Heaviside):
        sign = _sign_of(args[0].subs(x, point))
        return sympy.Heaviside(0, *args[1:]) if sign == 0 else sympy.Integer(int(sign > 0))
    if isinstance(expr, (sympy.Max, sympy.Min)):
        best = args[0]
        for candidate in args[1:]:
            sign = _sign_of((candidate - best).subs(x, point))
            if (sign > 0) if isinstance(expr, sympy.Max) else (sign < 0):
                best = candidate
        return best
    return expr.func(*args)


def _branch_quantities(expr: sympy.Expr) -> list[sympy.Expr]:
    quantities = []
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, (sympy.Abs, sympy.Heaviside, sympy.sign)):
            quantities.append(node.args[0])
        elif isinstance(node, (sympy.Max, sympy.Min)):
            args = node.args
            quantities += [args[i] - args[j] for i in range(len(args)) for j in range(i + 1, len(args))]
        elif isinstance(node, sympy.Piecewise):
            for _, condition in node.args:
                quantities += [rel.lhs - rel.rhs for rel in condition.atoms(sympy.Rel)]
    return quantities


def _sorted(points) -> list[sympy.Expr]:
    points = set(points)
    for point in points:
        if not (point.is_number and point.is_real and point.is_finite):
            raise Unproven(f"breakpoint {point} is not a known finite real number, so the regions cannot be ordered")
    return sorted(points, key=lambda point: sympy.Float(point, 30))


def regions(points: list[sympy.Expr]) -> list[tuple[sympy.Expr, sympy.Expr]]:
    """Open intervals between consecutive sorted breakpoints."""
    edges = [sympy.S.NegativeInfinity, *points, sympy.S.Infinity]
    return list(zip(edges[:-1], edges[1:]))


def sample_point(low, high) -> sympy.Expr:
    if low.is_infinite and high.is_infinite:
        return sympy.Integer(1)
    if low.is_infinite:
        return high - 1
    if high.is_infinite:
        return low + 1
    return (low + high) / 2


def breakpoints(expr: sympy.Expr) -> list[sympy.Expr]:
    """Sorted real points outside of which every branch of ``expr`` is locally fixed."""
    found = set()
    for quantity in _branch_quantities(expr):
        found |= set(_roots(quantity))
    return _sorted(found)


def _roots(quantity: sympy.Expr) -> list[sympy.Expr]:
    inner = breakpoints(quantity)
    roots = set(inner)
    for low, high in regions(inner):
        piece = resolve(quantity, sample_point(low, high))
        if not piece.has(x):
            continue
        # A sign can change at a root or at a pole, so both become breakpoints.
        for part in (piece, sympy.denom(sympy.together(piece))):
            if not part.has(x):
                continue
            solutions = sympy.solveset(part, x, sympy.Interval.open(low, high))
            if isinstance(solutions, sympy.FiniteSet):
                roots |= set(solutions)
            elif solutions != sympy.S.EmptySet:
                raise Unproven(f"cannot isolate the roots of {part} on ({low}, {high})")
    return list(roots)


def _numerically_nonzero(expr: sympy.Expr) -> bool:
    """Cheap early exit: a clearly nonzero value at some sample point."""
    rng = random.Random(0)
    symbols = sorted(expr.free_symbols, key=str)
    for _ in range(3):
        values = {}
        for symbol in symbols:
            value = rng.uniform(0.3, 2.5)
            values[symbol] = -value if symbol.is_negative else value
        try:
            number = complex(expr.evalf(30, subs=values))
        except (TypeError, ValueError):
            return False
        if abs(number) > 1e-12:
            return True
    return False


def reduce_to_zero(expr: sympy.Expr) -> str:
    """Name of the rewrite that turns ``expr`` into exactly 0, or raise Unproven."""
    expr = sympy.sympify(expr)
    if expr == 0:
        return "evaluates to 0"
    if _numerically_nonzero(expr):
        raise Unproven(f"{expr} is not identically 0")
    attempts = (
        ("expands to 0", sympy.expand),
        ("cancels to 0", lambda e: sympy.cancel(sympy.together(e))),
        ("rewritten with exp, expands to 0", lambda e: sympy.expand(sympy.powsimp(e.rewrite(sympy.exp)))),
        (
            "rewritten with exp, cancels to 0",
            lambda e: sympy.cancel(sympy.expand(sympy.together(sympy.powsimp(e.rewrite(sympy.exp))))),
        ),
        ("simplifies to 0", sympy.simplify),
    )
    for method, rewrite in attempts:
        if rewrite(expr) == 0:
            return method
    raise Unproven(f"could not reduce {expr} to 0")


def region_text(low, high) -> str:
    if low.is_infinite and high.is_infinite:
        return "all real x"
    if low.is_infinite:
        return f"x < {high}"
    if high.is_infinite:
        return f"x > {low}"
    return f"{low} < x < {high}"


def prove_equal(lhs: sympy.Expr, rhs: sympy.Expr) -> tuple[Piece, ...]:
    """Prove ``lhs == rhs`` for every real ``x``, region by region; raise Unproven."""
    if sympy.expand(lhs - rhs) == 0:  # the same expression: no need to split the line
        return (Piece("all real x", lhs, rhs, "expands to 0"),)
    points = _sorted(set(breakpoints(lhs)) | set(breakpoints(rhs)))
    pieces = []
    for low, high in regions(points):
        point = sample_point(low, high)
        left, right = resolve(lhs, point), resolve(rhs, point)
        pieces.append(Piece(region_text(low, high), left, right, reduce_to_zero(left - right)))
    for point in points:
        left, right = lhs.subs(x, point), rhs.subs(x, point)
        pieces.append(Piece(f"x = {point}", left, right, reduce_to_zero(left - right)))
    return tuple(pieces)
