"""Deriving the translation group T = {t : σ(x + t) = β(t)·σ(x) + γ(t) for all real x}.

T is a subgroup of ℝ. The derivation decides which one, in three steps.

1. Asymptotes (``sympy.limit``, branches of piecewise activations resolved beyond their
   last breakpoint). Suppose t ≠ 0 is in T. If σ grows at most polynomially at both
   ends (lim σ(x)/|x|^d finite for some d), then |β| = 1: otherwise
   σ(x₀ + n·t) − const = βⁿ·(σ(x₀) − const) grows geometrically in n at one end. So
   β = ±1, and p(x) = σ(x) − c·x is periodic (period t for β = 1 with c = γ/t, period
   2t for β = −1 with c = 0). Along x₀ + n·(period), σ(x)/x → c at both ends and
   σ(x) − c·x stays p(x₀). Hence T = {0} when lim σ(x)/x differs between the two
   ends or is infinite, or when lim (σ(x) − c·x) exists at +∞ and σ is not affine
   (a periodic function with a limit is constant). If σ is affine, T = ℝ.
2. Otherwise σ − c·x oscillates. ``sympy.periodicity`` proposes a period P₀; the
   smallest of P₀/m (m ≤ 12) with a proven identity σ(x + P) = ±σ(x) + γ is the
   candidate generator P.
3. P is proven smallest by refuting every t in (0, P) with interval arithmetic:
   if t ∈ T, then for any three points D(t) = det[σ(x_k), 1, σ(x_k + t)] = 0.
   (0, P) is covered by intervals on which an enclosure of D(t) excludes 0; near
   t = 0 and t = P, where D vanishes, the enclosure is of D(t)/t through σ' (mean
   value theorem) instead. Then T ∩ (0, P) = ∅ and P ∈ T, so T = Pℤ.

What cannot be decided is listed in the certificate's ``undecided`` and the group
claimed is the largest one proven: {0} unless a translation was proven.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import sympy

from symm._derive_interval import IntervalUnsupported, enclose, excludes_zero, hull, interval_text
from symm._derive_pieces import BRANCHING, Unproven, breakpoints, prove_equal, resolve
from symm._symbols import x
from symm._translation import (
    SHIFT,
    Asymptote,
    IntervalRefutation,
    K,
    TranslationCertificate,
    TranslationIdentity,
    TranslationSymmetry,
)

_FAILED = "failed"
_MAX_GROWTH = 6
_DIVISORS = tuple(range(12, 0, -1))
_GRID = 16  # points x = P·j/16 for the refutations
_PREC = 64  # bits: enclosures are rigorous at any precision
_MAX_DEPTH = 12


# ---------------------------------------------------------------- step 1: asymptotes

def _beyond(expr: sympy.Expr, direction: int) -> sympy.Expr:
    """``expr`` with every branch fixed as it is for x beyond all breakpoints (if finitely many)."""
    if not expr.has(*BRANCHING):
        return expr
    try:
        points = breakpoints(expr)
    except Unproven:
        return expr
    if not points:
        return resolve(expr, sympy.Integer(direction))
    return resolve(expr, points[-1] + 1 if direction > 0 else points[0] - 1)


@functools.lru_cache(maxsize=1024)
def limit_of(expr: sympy.Expr, direction: int):
    """lim_{x→±∞} expr: a real number or ±oo; None where there is no limit; ``_FAILED`` if not computable."""
    try:
        value = sympy.limit(_beyond(expr, direction), x, sympy.oo if direction > 0 else -sympy.oo)
    except Exception:  # noqa: BLE001 - sympy raises many kinds here; all mean "not computed"
        return _FAILED
    if value in (sympy.oo, -sympy.oo):
        return value
    if value.has(sympy.AccumBounds):
        return None
    if value.is_number and value.is_real and value.is_finite:
        return value
    return _FAILED


def _nonaffine(sigma, c, m) -> bool | None:
    """True if σ(p) ≠ c·p + m at some exact point (shown), False if σ ≡ c·x + m (proven), else None."""
    try:
        prove_equal(sigma, c * x + m)
        return False
    except Unproven:
        pass
    for point in (sympy.Integer(0), sympy.Integer(1), sympy.Integer(-1), sympy.Rational(1, 2)):
        difference = sigma.subs(x, point) - c * point - m
        if difference.is_Rational:
            if difference != 0:
                return True
            continue
        try:
            if excludes_zero(enclose(difference)):
                return True
        except (IntervalUnsupported, ZeroDivisionError, ValueError):
            continue
    return None


def conclusion_of(sigma, asymptotes) -> tuple[str, str]:
    """From the asymptotes alone: ("trivial" | "affine" | "oscillating" | "unknown", the argument)."""
    facts = {(step.direction, _role(step.expr, sigma)): step.value for step in asymptotes}
    ratio = {d: facts.get((d, "ratio"), _FAILED) for d in (1, -1)}
    if _FAILED in ratio.values() or None in ratio.values():
        return "unknown", "lim σ(x)/x was not found at both ends, so the asymptotic argument does not apply"
    infinite = [d for d in (1, -1) if ratio[d] in (sympy.oo, -sympy.oo)]
    bounded = all(any(role.startswith("growth") and value not in (None, _FAILED, sympy.oo, -sympy.oo)
                      for (side, role), value in facts.items() if side == d) for d in infinite)
    polynomial = "σ grows at most polynomially at both ends, so a translation t ≠ 0 would need β = ±1 and make σ(x) − c·x periodic"
    if infinite:
        if bounded:
            return "trivial", f"{polynomial}; then σ(x)/x would tend to the finite c along x₀ + n·period, but lim σ(x)/x is infinite. Only t = 0."
        return "unknown", "σ(x)/x is unbounded and no polynomial growth bound was found"
    if ratio[1] != ratio[-1]:
        return "trivial", (
            f"{polynomial}; then σ(x)/x would tend to the same c at both ends, but the limits are "
            f"{sympy.sstr(ratio[1])} and {sympy.sstr(ratio[-1])}. Only t = 0."
        )
    c = ratio[1]
    offsets = [facts.get((d, "offset"), _FAILED) for d in (1, -1)]
    known = [(d, value) for d, value in zip((1, -1), offsets) if value not in (_FAILED, None)]
    if not known:
        if offsets[0] is None and offsets[1] is None:
            return "oscillating", f"{polynomial} (c = {sympy.sstr(c)}); σ(x) − c·x has no limit at either end, so it may be periodic"
        return "unknown", f"lim (σ(x) − {sympy.sstr(c)}·x) could not be computed at both ends"
    side, offset = known[0]
    end = "+∞" if side > 0 else "−∞"
    if offset in (sympy.oo, -sympy.oo):
        return "trivial", f"{polynomial}; a periodic σ(x) − c·x cannot tend to {sympy.sstr(offset)} at {end}. Only t = 0."
    nonaffine = _nonaffine(sigma, c, offset)
    if nonaffine is None:
        return "unknown", f"σ(x) − {sympy.sstr(c)}·x tends to {sympy.sstr(offset)}, but σ was neither shown affine nor not"
    if nonaffine:
        return "trivial", (
            f"{polynomial}; a periodic function with a limit ({sympy.sstr(offset)} at {end}) is constant, "
            f"so σ would equal {sympy.sstr(c * x + offset)}, which it does not at some point. Only t = 0."
        )
    return "affine", f"σ(x) = {sympy.sstr(c * x + offset)} is affine: every t is a translation"


def _role(expr, sigma) -> str:
    if expr == sigma / x:
        return "ratio"
    for d in range(2, _MAX_GROWTH + 1):
        if expr in (sigma / x**d, sigma / (-x) ** d):
            return f"growth {d}"
    return "offset"


def _asymptotes(sigma) -> tuple[Asymptote, ...]:
    steps = [Asymptote(d, sigma / x, limit_of(sigma / x, d)) for d in (1, -1)]
    ratio = {step.direction: step.value for step in steps}
    if any(value in (None, _FAILED) for value in ratio.values()):
        return tuple(s for s in steps if s.value is not _FAILED)
    for d in (1, -1):
        if ratio[d] in (sympy.oo, -sympy.oo):
            for power in range(2, _MAX_GROWTH + 1):
                expr = sigma / (x**power if d > 0 else (-x) ** power)
                value = limit_of(expr, d)
                if value is not _FAILED:
                    steps.append(Asymptote(d, expr, value))
                if value not in (_FAILED, None, sympy.oo, -sympy.oo):
                    break
    if ratio[1] == ratio[-1] and ratio[1] not in (sympy.oo, -sympy.oo):
        expr = sigma - ratio[1] * x
        for d in (1, -1):  # one end with a limit decides; both are needed only to call σ oscillating
            value = limit_of(expr, d)
            if value is not _FAILED:
                steps.append(Asymptote(d, expr, value))
            if value is not None:
                break
    return tuple(steps)


# ---------------------------------------------------------------- step 2: the generator

def _numeric(expr):
    return sympy.lambdify(x, expr, modules="numpy")


def _float_values(fn, points: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.broadcast_to(np.asarray(fn(points), dtype=float), points.shape)


def _fits(fn, t0: float, scale: float) -> float | None:
    """β (±1) if σ(x + t0) ≈ β·σ(x) + γ at sample points (a screen before the exact proof)."""
    xs = scale * np.linspace(0.05, 1.9, 9)
    u, v = _float_values(fn, xs), _float_values(fn, xs + t0)
    design = np.stack([u, np.ones_like(u)], axis=1)
    (beta, gamma), *_ = np.linalg.lstsq(design, v, rcond=None)
    residual = np.max(np.abs(design @ np.array([beta, gamma]) - v))
    if not np.isfinite(residual) or residual > 1e-9 * (1 + np.max(np.abs(v))):
        return None
    for candidate in (1.0, -1.0):
        if abs(beta - candidate) < 1e-7:
            return candidate
    return None


def _period_of(expr):
    try:
        return sympy.periodicity(expr, x)
    except Exception:  # noqa: BLE001 - sympy raises many kinds here; all mean "no period found"
        return None


def _generator(sigma, c) -> tuple[TranslationIdentity | None, str | None]:
    periodic = _period_of(sigma - c * x)
    if periodic is None:  # e.g. Max(0, sin(x)): a common period of its trigonometric parts
        trig = [atom for atom in sigma.atoms(sympy.sin, sympy.cos, sympy.tan) if atom.has(x)]
        periodic = _period_of(sympy.Add(*trig)) if trig else None
    if periodic is None or not (periodic.is_number and periodic.is_positive):
        return None, "σ(x) − c·x may be periodic, but sympy.periodicity proposed no period"
    fn = _numeric(sigma)
    scale = float(periodic)
    for m in _DIVISORS:
        t0 = periodic / m
        beta = _fits(fn, float(t0), scale)
        if beta is None:
            continue
        beta = sympy.Integer(int(beta))
        gamma = sympy.simplify(sigma.subs(x, t0) - beta * sigma.subs(x, 0))
        try:
            return TranslationIdentity.prove(sigma, t0, beta, gamma), None
        except Unproven:
            continue
    return None, f"σ(x) − c·x may be periodic (sympy proposes {sympy.sstr(periodic)}), but no identity σ(x + P) = ±σ(x) + γ was proven"


# ---------------------------------------------------------------- step 3: minimality

def _thin(value):
    return enclose(value, _PREC)


def refute_interval(sigma, period, low, high, points, method) -> str | None:
    """Text of the bound showing no t in the interval is a translation, or None (see IntervalRefutation)."""
    try:
        s = [enclose(sigma.subs(x, p), _PREC) for p in points]
        if method == "determinant":
            shift = hull(_thin(low), _thin(high))
            v = [enclose(sigma, _PREC, {x: _thin(p) + shift}) for p in points]
        else:
            derivative = sympy.diff(sigma, x)
            if method == "derivative at 0":
                if low != 0:
                    return None
                windows = [hull(_thin(p), _thin(p + high)) for p in points]
            elif method == "derivative at P":
                if high != period:
                    return None
                windows = [hull(_thin(p - (period - low)), _thin(p)) for p in points]
            else:
                return None
            v = [enclose(derivative, _PREC, {x: window}) for window in windows]
        determinant = s[0] * (v[2] - v[1]) + s[1] * (v[0] - v[2]) + s[2] * (v[1] - v[0])
    except (IntervalUnsupported, ZeroDivisionError, ValueError):
        return None
    if not excludes_zero(determinant):
        return None
    return f"∈ {interval_text(determinant, 6)}"


def _best_triples(u: np.ndarray, v: np.ndarray, count: int = 3):
    triples = np.array(list(itertools.combinations(range(len(u)), 3)))
    ok = np.all(np.isfinite(u[triples]) & np.isfinite(v[triples]), axis=1)
    triples = triples[ok]
    if len(triples) == 0:
        return []
    matrices = np.stack([u[triples], np.ones(triples.shape), v[triples]], axis=-1)
    score = np.abs(np.linalg.det(matrices))
    return [tuple(int(i) for i in triples[j]) for j in np.argsort(-score)[:count] if score[j] > 0]


class _Cover:
    """Covers (0, P) by refuted intervals, endpoints in exact fractions of P."""

    def __init__(self, sigma, period):
        self.sigma, self.period = sigma, period
        # Cell centres P·(2j + 1)/32: away from the kinks that sit at simple fractions of P.
        self.points = [period * sympy.Rational(2 * j + 1, 2 * _GRID) for j in range(_GRID)]
        self.xs = np.array([float(p) for p in self.points])
        self.fn = _numeric(sigma)
        self.u = _float_values(self.fn, self.xs)
        self.du = _float_values(_numeric(sympy.diff(sigma, x)), self.xs)
        self.steps: list[IntervalRefutation] = []
        self.gaps: list[tuple[sympy.Expr, sympy.Expr]] = []

    def _try(self, low, high, method, v, count: int = 3) -> bool:
        for triple in _best_triples(self.u, v, count):
            points = tuple(self.points[i] for i in triple)
            bound = refute_interval(self.sigma, self.period, low, high, points, method)
            if bound is not None:
                self.steps.append(IntervalRefutation(low, high, points, method, bound))
                return True
        return False

    def _end(self, method) -> sympy.Rational | None:
        for power in range(3, 10):
            r = sympy.Rational(1, 2**power)
            low, high = (0, r * self.period) if method == "derivative at 0" else ((1 - r) * self.period, self.period)
            if self._try(sympy.sympify(low), sympy.sympify(high), method, self.du, count=6):
                return r
        return None

    def run(self) -> None:
        left, right = self._end("derivative at 0"), self._end("derivative at P")
        a = left if left is not None else sympy.Rational(1, 2**9)
        b = 1 - (right if right is not None else sympy.Rational(1, 2**9))
        if left is None:
            self.gaps.append((sympy.Integer(0), a * self.period))
        stack = [(a, b, 0)]
        while stack:
            lo, hi, depth = stack.pop()
            mid = float((lo + hi) / 2 * self.period)
            if self._try(lo * self.period, hi * self.period, "determinant", _float_values(self.fn, self.xs + mid)):
                continue
            if depth >= _MAX_DEPTH:
                self.gaps.append((lo * self.period, hi * self.period))
                continue
            half = (lo + hi) / 2
            stack += [(half, hi, depth + 1), (lo, half, depth + 1)]
        if right is None:
            self.gaps.append((b * self.period, self.period))


# ---------------------------------------------------------------- the derivation

def _real_identity(sigma, beta=None, gamma=None) -> TranslationIdentity | None:
    """σ(x + t) = β(t)·σ(x) + γ(t) for every real t, read off at two points and proven."""
    if beta is None:
        anchor = next(
            (p for p in (sympy.Integer(1), sympy.Integer(-1), sympy.Integer(2)) if sympy.N(sigma.subs(x, p) - sigma.subs(x, 0)) != 0),
            None,
        )
        if anchor is None:
            return None
        beta = sympy.simplify(
            (sigma.subs(x, anchor + SHIFT) - sigma.subs(x, SHIFT)) / (sigma.subs(x, anchor) - sigma.subs(x, 0))
        )
        gamma = sympy.simplify(sigma.subs(x, SHIFT) - beta * sigma.subs(x, 0))
    try:
        return TranslationIdentity.prove(sigma, SHIFT, beta, gamma)
    except Unproven:
        return None


def _lattice_law(generator: TranslationIdentity) -> tuple[sympy.Expr, sympy.Expr]:
    """β, γ at t = k·P from the generator's β₁ = ±1 and γ₁."""
    if generator.beta == 1:
        return sympy.Integer(1), sympy.expand(K * generator.gamma)
    return sympy.Integer(-1) ** K, sympy.expand(generator.gamma * (1 - sympy.Integer(-1) ** K) / 2)


def _certificate(sigma, kind, period, beta, gamma, identities, asymptotes, refutations, argument, undecided):
    certificate = TranslationCertificate(
        sigma, kind, period, beta, gamma, tuple(identities), tuple(asymptotes), tuple(refutations), argument, tuple(undecided)
    )
    return TranslationSymmetry(kind, period, beta, gamma, certificate)


def _trivial(sigma, asymptotes, argument, undecided=()):
    return _certificate(sigma, "trivial", None, sympy.Integer(1), sympy.Integer(0), (), asymptotes, (), argument, undecided)


@functools.lru_cache(maxsize=None)
def derive_translation(sigma: sympy.Expr) -> TranslationSymmetry:
    """The largest proven translation group of σ, with its certificate (cached)."""
    asymptotes = _asymptotes(sigma)
    verdict, argument = conclusion_of(sigma, asymptotes)
    if verdict == "trivial":
        return _trivial(sigma, asymptotes, argument)
    if verdict == "affine":
        c = next(step.value for step in asymptotes if _role(step.expr, sigma) == "ratio")
        step = _real_identity(sigma, sympy.Integer(1), c * SHIFT)
        if step is not None:
            return _certificate(sigma, "real", None, step.beta, step.gamma, (step,), asymptotes, (), argument, ())
        return _trivial(sigma, asymptotes, argument, ("translations: σ is affine but σ(x + t) = σ(x) + c·t was not proven",))
    if verdict == "unknown":
        step = _real_identity(sigma)
        if step is not None:
            argument = "every real t satisfies the identity below"
            return _certificate(sigma, "real", None, step.beta, step.gamma, (step,), asymptotes, (), argument, ())
        # A period with a complete cover below needs no asymptotes: P ∈ T and T ∩ (0, P) = ∅ give T = Pℤ.
        generator, _ = _generator(sigma, sympy.Integer(0))
        if generator is None:
            return _trivial(sigma, asymptotes, argument, (f"translations: {argument}; only t = 0 is claimed",))
        argument = "σ is periodic (no asymptotic argument needed)"
    else:
        c = next(step.value for step in asymptotes if _role(step.expr, sigma) == "ratio")
        generator, problem = _generator(sigma, c)
        if generator is None:
            return _trivial(sigma, asymptotes, argument, (f"translations: {problem}; only t = 0 is claimed",))
    period = generator.shift
    cover = _Cover(sigma, period)
    cover.run()
    undecided = [
        f"translations: smaller period: t in [{sympy.sstr(lo)}, {sympy.sstr(hi)}] was neither refuted nor proven, "
        f"so the lattice may be finer than {sympy.sstr(period)}·ℤ"
        for lo, hi in cover.gaps
    ]
    beta, gamma = _lattice_law(generator)
    argument += f"; t = {sympy.sstr(period)} is proven, and no t in (0, {sympy.sstr(period)}) is, so T = {sympy.sstr(period)}·ℤ"
    steps = sorted(cover.steps, key=lambda s: float(s.low))
    return _certificate(sigma, "lattice", period, beta, gamma, (generator,), asymptotes, steps, argument, undecided)
