"""Activations: a name, a sympy expression in ``symm.x`` and a jax function.

The registry maps names to expressions (with optional numeric parameters, such as
the slope of leaky ReLU or the frequency ω of a sine); the jax function comes from
``sympy.lambdify(..., modules="jax")`` unless a faster hand-written one is given,
which a test checks against the expression. ``get_activation`` also accepts a sympy
expression or a string such as ``"x/(1+Abs(x))"``; ``symm.derive`` accepts the same.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
from collections.abc import Callable
from typing import Any

import sympy
from jaxtyping import Array, ArrayLike
from sympy.parsing.sympy_parser import parse_expr, rationalize, standard_transformations

from symm._symbols import DeriveError, x


@dataclasses.dataclass(frozen=True)
class Activation:
    """An elementwise activation σ: ``expr`` in ``symm.x`` and its jax ``fn``.

    Equality and hashing use the expression only (the name is a label and ``fn`` an
    implementation of it), so ``"sin"`` and ``sympy.sin(30*x)`` are the same activation
    and activations can sit in ``eqx.field(static=True)``.
    """

    name: str = dataclasses.field(compare=False)
    expr: sympy.Expr
    fn: Callable = dataclasses.field(compare=False, hash=False, repr=False)

    def __call__(self, z: ArrayLike) -> Array:
        return self.fn(z)

    @functools.cached_property
    def slope_rms(self) -> float:
        """√E[σ'(z)²] for z ~ N(0, 1): how fast σ varies on unit-scale inputs.

        About 21 for SIREN's sin(30x), 0.6 for tanh, 0.71 for ReLU. Networks that apply σ
        to learned features (ScaleGMN's activation blocks) start with their inputs
        shrunk by this factor when it exceeds 1, so that σ does not start out oscillating.
        """
        import jax
        import jax.numpy as jnp
        import numpy as np

        z = np.linspace(-5.0, 5.0, 8001)
        density = np.exp(-z * z / 2)
        with jax.ensure_compile_time_eval():
            slope = np.asarray(jax.vmap(jax.grad(lambda t: self.fn(t)))(jnp.asarray(z, jnp.float32)), np.float64)
        slope = np.nan_to_num(slope, nan=0.0, posinf=0.0, neginf=0.0)
        return float(np.sqrt(np.sum(slope * slope * density) / np.sum(density)))

    @property
    def symmetry(self):
        """The derived, certified symmetry (``symm.derive(self)``, cached)."""
        from symm._derive import derive_expression

        return derive_expression(self.expr)


def jax_function(expr: sympy.Expr) -> Callable:
    """``expr`` (in ``symm.x``) as an elementwise jax function."""
    import jax.numpy as jnp
    import jax.scipy.special as jss

    raw = sympy.lambdify(x, expr, modules=[{"erf": jss.erf}, "jax"])

    def fn(z):
        z = jnp.asarray(z)
        return jnp.broadcast_to(jnp.asarray(raw(z), dtype=z.dtype), z.shape)

    return fn


# ---------------------------------------------------------------- the registry

@dataclasses.dataclass(frozen=True)
class _Entry:
    build: Callable[..., sympy.Expr]
    defaults: dict[str, Any]
    fast: Callable[..., Callable] | None  # params -> jax function, when hand-written


_REGISTRY: dict[str, _Entry] = {}
_SELU_SCALE = sympy.Float("1.0507009873554804934193349852946", 30)
_SELU_ALPHA = sympy.Float("1.6732632423543772848170429916717", 30)


def _nn(name: str, **fixed):
    """A hand-written jax function from ``jax.nn`` (imported lazily)."""

    def make(**params):
        import jax

        fn = getattr(jax.nn, name)
        return lambda z: fn(z, **fixed, **{k: float(v) for k, v in params.items()})

    return make


def _builtin(name, build, fast=None, **defaults):
    _REGISTRY[name] = _Entry(build, defaults, fast)


def _elu_expr(alpha):
    return sympy.Piecewise((x, x > 0), (alpha * (sympy.exp(x) - 1), True))


def _fast_mish():
    import jax
    import jax.numpy as jnp

    return lambda z: z * jnp.tanh(jax.nn.softplus(z))


def _fast_leaky(slope):
    import jax

    return lambda z: jax.nn.leaky_relu(z, float(slope))


def _fast_sin(omega):
    import jax.numpy as jnp

    return lambda z: jnp.sin(float(omega) * z)


_builtin("identity", lambda: x)
_builtin("relu", lambda: sympy.Max(0, x), _nn("relu"))
_builtin("leaky_relu", lambda slope: sympy.Piecewise((x, x >= 0), (slope * x, True)), _fast_leaky, slope="0.01")
_builtin("tanh", lambda: sympy.tanh(x), _nn("tanh"))
_builtin("sin", lambda omega: sympy.sin(omega * x), _fast_sin, omega=30)
_builtin("cos", lambda: sympy.cos(x))
_builtin("sigmoid", lambda: 1 / (1 + sympy.exp(-x)), _nn("sigmoid"))
_builtin("gelu", lambda: x / 2 * (1 + sympy.erf(x / sympy.sqrt(2))), _nn("gelu", approximate=False))
_builtin("silu", lambda: x / (1 + sympy.exp(-x)), _nn("silu"))
_builtin("elu", lambda alpha: _elu_expr(alpha), _nn("elu"), alpha=1)
_builtin("selu", lambda: _SELU_SCALE * _elu_expr(_SELU_ALPHA), _nn("selu"))
_builtin("softplus", lambda: sympy.log(1 + sympy.exp(x)), _nn("softplus"))
_builtin("mish", lambda: x * sympy.tanh(sympy.log(1 + sympy.exp(x))), lambda: _fast_mish())
_builtin("abs", lambda: sympy.Abs(x))
_builtin("square", lambda: x**2)
_builtin("cube", lambda: x**3)
_builtin("pow4", lambda: x**4)
_builtin("pow5", lambda: x**5)
_builtin("relu2", lambda: sympy.Max(0, x) ** 2)
_builtin("softsign", lambda: x / (1 + sympy.Abs(x)), _nn("soft_sign"))
_builtin("hardtanh", lambda: sympy.Min(1, sympy.Max(-1, x)))
_builtin("arctan", lambda: sympy.atan(x))
_builtin("erf", lambda: sympy.erf(x))
_builtin("gaussian", lambda: sympy.exp(-(x**2)))
_builtin("signed_square", lambda: x * sympy.Abs(x))


_BUILTIN_NAMES = tuple(_REGISTRY)


def registry_names(*, builtin_only: bool = False) -> list[str]:
    """Registered activation names, in registration order (``builtin_only``: the library's own)."""
    return list(_BUILTIN_NAMES) if builtin_only else list(_REGISTRY)


def register_activation(name: str, expr, *, fn: Callable | None = None) -> Activation:
    """Add ``name`` to the registry: ``expr`` is a sympy expression or string in one variable.

    ``fn`` is an optional hand-written jax function; by default ``lambdify`` builds one.
    """
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise DeriveError(f"activation name {name!r} must be an identifier such as 'my_act'")
    if name in _REGISTRY:
        raise DeriveError(f"activation {name!r} is already registered; choose another name")
    parsed = _validated(_parse(expr) if isinstance(expr, str) else expr, source=str(expr))
    _REGISTRY[name] = _Entry(lambda: parsed, {}, (lambda: fn) if fn is not None else None)
    return get_activation(name)


# ---------------------------------------------------------------- parsing

_FUNCTIONS = {
    name: getattr(sympy, name)
    for name in (
        "Abs Max Min Heaviside Piecewise sign exp log sqrt sin cos tan sinh cosh tanh asin acos atan "
        "asinh erf pi E Rational Integer Float Symbol Function"
    ).split()
}
_FUNCTIONS.update(I=sympy.I, Matrix=sympy.Matrix, abs=sympy.Abs, max=sympy.Max, min=sympy.Min, arctan=sympy.atan, e=sympy.E)
#: What an unknown name may be corrected to: activations and the functions of an expression
#: (not sympy's constructors and constants such as Float, Symbol or pi).
_NOT_SUGGESTED = {"pi", "E", "e", "I", "Rational", "Integer", "Float", "Symbol", "Function", "Matrix"}
_CALL = re.compile(r"\s*([A-Za-z_]\w*)\s*(?:\((.*)\))?\s*", re.S)


_UNSAFE = re.compile(r"__|[A-Za-z_)\]]\s*\.|\blambda\b")  # no attribute access or lambdas


def _parse(text: str) -> sympy.Expr:
    if _UNSAFE.search(text):
        raise DeriveError(f"could not parse {text!r}: only arithmetic and functions such as tanh(x) are allowed")
    try:
        parsed = parse_expr(text, local_dict={}, global_dict=dict(_FUNCTIONS), transformations=(*standard_transformations, rationalize))
    except Exception as error:  # sympy raises many kinds here; all mean "not parsable"
        raise DeriveError(f"could not parse {text!r} as an expression in one variable, e.g. 'x/(1+Abs(x))'") from error
    unknown = {type(f).__name__ for f in parsed.atoms(sympy.core.function.AppliedUndef)} if isinstance(
        parsed, sympy.Basic
    ) else set()
    if unknown:
        name = sorted(unknown)[0]
        choices = list(dict.fromkeys([f for f in _FUNCTIONS if f not in _NOT_SUGGESTED] + registry_names()))
        raise DeriveError(f"unknown function {name!r} in {text!r}{_suggestion(name, choices)}")
    return parsed


def _suggestion(name: str, choices) -> str:
    close = difflib.get_close_matches(name.lower(), list(dict.fromkeys(c.lower() for c in choices)), n=3, cutoff=0.5)
    lookup = {c.lower(): c for c in choices}
    return f"; did you mean {', '.join(repr(lookup[c]) for c in close)}?" if close else ""


def _validated(expr, source: str) -> sympy.Expr:
    """A real scalar expression in exactly one variable, rewritten in ``symm.x``."""
    if isinstance(expr, (int, float)):
        expr = sympy.sympify(expr)
    if not isinstance(expr, sympy.Expr) or isinstance(expr, sympy.MatrixBase):
        raise DeriveError(f"{source!r} is not a scalar expression (got {type(expr).__name__})")
    if expr.has(sympy.I, sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        raise DeriveError(f"{source!r} is not real: activations must be real-valued functions of a real variable")
    symbols = sorted(expr.free_symbols, key=str)
    if len(symbols) > 1:
        names = ", ".join(map(str, symbols))
        raise DeriveError(f"{source!r} has {len(symbols)} free symbols ({names}); an activation has exactly one variable")
    if not symbols:
        raise DeriveError(f"{source!r} does not depend on a variable; an activation needs one, e.g. 'tanh(x)'")
    expr = expr.subs(symbols[0], x)
    for point in (0, -2, -sympy.Rational(1, 2), sympy.Rational(1, 3), 2):
        value = expr.subs(x, point)
        if value.has(sympy.nan, sympy.zoo, sympy.oo, -sympy.oo):
            raise DeriveError(
                f"{source!r} is not defined at x = {point}; activations must be defined on all of ℝ "
                "(use Piecewise to give the value there)"
            )
        value = value.evalf(20)
        if not value.is_real:
            raise DeriveError(f"{source!r} is not real at x = {point} (value {value}); activations must be real on all of ℝ")
    return expr


def _number(value, name: str, spec: str) -> sympy.Expr:
    try:
        number = sympy.Rational(str(value)) if isinstance(value, (int, float, str)) else sympy.sympify(value)
    except (TypeError, ValueError, sympy.SympifyError) as error:
        raise DeriveError(f"parameter {name} of {spec!r} must be a real number, got {value!r}") from error
    if not (number.is_number and number.is_real and number.is_finite):
        raise DeriveError(f"parameter {name} of {spec!r} must be a real number, got {value!r}")
    return number


def _from_registry(name: str, args: list[str], kwargs: dict[str, Any]) -> Activation:
    entry = _REGISTRY[name]
    if len(args) > len(entry.defaults):
        raise DeriveError(f"{name!r} takes {len(entry.defaults)} parameter(s) ({', '.join(entry.defaults) or 'none'})")
    params = dict(entry.defaults)
    params.update(zip(entry.defaults, args))
    for key, value in kwargs.items():
        if key not in entry.defaults:
            raise DeriveError(f"{name!r} has no parameter {key!r}; it takes {', '.join(entry.defaults) or 'none'}")
        params[key] = value
    params = {key: _number(value, key, name) for key, value in params.items()}
    expr = _validated(entry.build(**params), source=name)
    changed = [str(value) for key, value in params.items() if value != _number(entry.defaults[key], key, name)]
    label = f"{name}({', '.join(changed)})" if changed else name
    fn = _on_arrays(entry.fast(**params)) if entry.fast is not None else jax_function(expr)
    return Activation(label, expr, fn)


def _on_arrays(fn: Callable) -> Callable:
    """Let a hand-written function accept anything array-like, as the lambdified ones do."""
    import jax.numpy as jnp

    return lambda z: fn(jnp.asarray(z))


def _balanced(inner: str) -> bool:
    depth = 0
    for char in inner:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


@functools.lru_cache(maxsize=512)
def _activation_of_string(spec: str, kwargs: tuple) -> Activation:
    match = _CALL.fullmatch(spec)
    if match and match.group(2) is not None and not _balanced(match.group(2)):
        match = None  # e.g. "sin(x)+cos(x)" is an expression, not a call of "sin"
    if match and match.group(1) in _REGISTRY:
        name, inner = match.groups()
        args = [] if inner is None or not inner.strip() else [part.strip() for part in inner.split(",")]
        # A registry name that is no function of an expression (leaky_relu, elu...) takes numbers only:
        # "leaky_relu(abc)" is a bad slope, not an unknown function.
        if name not in _FUNCTIONS or not args or not any(_parse(arg).free_symbols for arg in args):
            return _from_registry(name, args, dict(kwargs))
    if kwargs:
        raise DeriveError(f"keyword parameters apply to registry names only, not to {spec!r}")
    if match and match.group(2) is None and len(match.group(1)) > 1 and match.group(1) not in _FUNCTIONS:
        name = match.group(1)
        raise DeriveError(f"unknown activation {name!r}{_suggestion(name, registry_names())}")
    expr = _validated(_parse(spec), source=spec)
    return Activation(sympy.sstr(expr), expr, jax_function(expr))


def get_activation(spec, **params) -> Activation:
    """Resolve a registry name (``"relu"``, ``"leaky_relu(0.2)"``, or ``"leaky_relu", slope=0.2``),
    a sympy expression in one symbol, a parsable string, or an ``Activation``."""
    if isinstance(spec, Activation):
        if params:
            raise DeriveError("keyword parameters cannot be applied to an existing Activation")
        return spec
    if isinstance(spec, str):
        return _activation_of_string(spec.strip(), tuple(sorted(params.items(), key=lambda kv: kv[0])))
    if params:
        raise DeriveError("keyword parameters apply to registry names only")
    try:
        return _activation_of_sympy(spec)
    except TypeError:  # unhashable input (a mutable Matrix, a list): validate without the cache
        return _activation_of_sympy.__wrapped__(spec)


@functools.lru_cache(maxsize=512)
def _activation_of_sympy(spec) -> Activation:
    expr = _validated(spec, source=str(spec))
    return Activation(sympy.sstr(expr), expr, jax_function(expr))
