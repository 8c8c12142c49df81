"""The functional SIREN: params are the project-wide tuple of ``(W, b)`` pairs.

A fitted SIREN is therefore directly a point in ``symm.WeightSpace`` with activation
``"sin"`` (σ(x) = sin(30 x)); the zoo builds its SIREN weight zoos from these two functions.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

Params = tuple[tuple[Float[Array, "n_out n_in"], Float[Array, " n_out"]], ...]

BIAS_INITS = ("zero", "uniform")


def default_float():
    """The float dtype jax uses by default (float64 when x64 is on)."""
    return jnp.asarray(0.0).dtype


def siren_weight_bound(fan_in: int, *, first: bool, omega0: float) -> float:
    """SIREN initialisation bound: U(±1/fan_in) on raw coordinates, else U(±√(6/fan_in)/ω0).

    The 1/ω0 keeps ω0·(W h) of order one in every hidden layer, so sin stays in its
    well-behaved regime whatever the depth (Sitzmann et al. 2020, section 3.2).
    """
    if first:
        return 1.0 / fan_in
    return (6.0 / fan_in) ** 0.5 / omega0


def bias_bound(fan_in: int, bias_init: str) -> float:
    """``"zero"`` (Neural Experts) or ``"uniform"``: PyTorch's default U(±1/√fan_in) (SIREN, STRAINER)."""
    if bias_init not in BIAS_INITS:
        raise ValueError(f"bias_init must be one of {BIAS_INITS}, got {bias_init!r}")
    return 0.0 if bias_init == "zero" else 1.0 / fan_in**0.5


def uniform(key: PRNGKeyArray, shape: tuple[int, ...], bound: float, dtype) -> Array:
    """U(±bound). Drawn as ``bound · U(-1, 1)`` so that one compiled sampler per shape
    serves every bound (jax compiles ``uniform`` per bound value otherwise)."""
    if bound == 0.0:
        return jnp.zeros(shape, dtype)
    return bound * jax.random.uniform(key, shape, dtype, -1.0, 1.0)


def siren_init(
    key: PRNGKeyArray,
    sizes: tuple[int, ...] = (2, 32, 32, 1),
    *,
    omega0: float = 30.0,
    bias_init: str = "uniform",
    dtype=None,
) -> Params:
    """Random SIREN parameters for layer widths ``sizes`` (input, hidden..., output).

    Returns a tuple of ``(W, b)`` with ``W`` of shape ``[n_out, n_in]``.
    """
    sizes = tuple(int(s) for s in sizes)
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must list at least an input and an output width, all >= 1; got {sizes}")
    if omega0 <= 0:
        raise ValueError(f"omega0 must be positive, got {omega0}")
    bias_bound(1, bias_init)  # validates the flag before any work
    dtype = default_float() if dtype is None else dtype
    keys = jax.random.split(key, 2 * (len(sizes) - 1))
    params = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        w_bound = siren_weight_bound(n_in, first=i == 0, omega0=omega0)
        b_bound = bias_bound(n_in, bias_init)
        W = uniform(keys[2 * i], (n_out, n_in), w_bound, dtype)
        b = uniform(keys[2 * i + 1], (n_out,), b_bound, dtype)
        params.append((W, b))
    return tuple(params)


def siren_apply(params: Params, coords: Float[Array, " n_in"], *, omega0: float = 30.0) -> Float[Array, " n_out"]:
    """Evaluate a SIREN at ONE point (``jax.vmap`` for many).

    Hidden layers compute ``sin(ω0 (W h + b))``; the last layer is linear.
    """
    if coords.ndim != 1:
        raise ValueError(f"siren_apply takes one point of shape [n_in]; got shape {coords.shape} (use jax.vmap)")
    h = coords
    for W, b in params[:-1]:
        h = jnp.sin(omega0 * (W @ h + b))
    W, b = params[-1]
    return W @ h + b
