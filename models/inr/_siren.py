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


def siren_batch_value_and_grad(
    params: Params, coords: Float[Array, "P n_in"], targets: Float[Array, "B P n_out"], *, omega0: float = 30.0
) -> tuple[Float[Array, " B"], Params]:
    """Mean squared error of B SIRENs (params with a leading axis B) on shared ``coords``,
    and its gradient, by hand.

    Each layer is one batched matmul ``[B, P, n_in] @ [B, n_in, n_out]`` (the first layer,
    with two or three inputs, is a fused multiply-add instead), sine and cosine come from one
    polynomial range reduction (``models.inr._trig``) and the backward pass reuses the
    forward's cosines. This is the zoo's fast path; ``jax.grad`` of :func:`siren_apply`
    is its reference (equal to float32 rounding, see ``tests/test_zoo_fast.py``).
    """
    from models.inr._trig import sincos

    def dense(h, W, b):
        if h.ndim == 2 and h.shape[-1] <= 4:  # few shared inputs: broadcast FMAs beat a K=2 matmul
            z = b[:, None, :]
            for i in range(h.shape[-1]):
                z = z + h[None, :, i : i + 1] * W[:, None, :, i]
            return z
        if h.ndim == 2:
            return jnp.einsum("pi,boi->bpo", h, W) + b[:, None, :]
        return jnp.einsum("bpi,boi->bpo", h, W) + b[:, None, :]

    hs, cosines = [coords], []
    for W, b in params[:-1]:
        s, c = sincos(omega0 * dense(hs[-1], W, b))
        hs.append(s)
        cosines.append(c)
    W, b = params[-1]
    error = dense(hs[-1], W, b) - targets
    n = targets.shape[1] * targets.shape[2]
    loss = jnp.sum(error * error, axis=(1, 2)) / n
    delta = error * (2.0 / n)  # dL/d(output)
    grads = []
    for layer in range(len(params) - 1, -1, -1):
        W, _ = params[layer]
        h = hs[layer]
        if h.ndim == 2 and h.shape[-1] <= 4:
            gW = jnp.stack([jnp.sum(delta * h[None, :, i : i + 1], axis=1) for i in range(h.shape[-1])], axis=-1)
        elif h.ndim == 2:
            gW = jnp.einsum("bpo,pi->boi", delta, h)
        else:
            gW = jnp.einsum("bpo,bpi->boi", delta, h)
        grads.append((gW, jnp.sum(delta, axis=1)))
        if layer > 0:
            delta = jnp.einsum("bpo,boi->bpi", delta, W) * (omega0 * cosines[layer - 1])
    return loss, tuple(reversed(grads))
