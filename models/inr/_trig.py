"""Sine and cosine as vectorised float32 polynomials, for the CPU.

XLA's CPU ``sin``/``cos`` evaluate element by element (about 30 ns each on this project's
2-core machine, eight times ``exp``), which makes a SIREN fit trig-bound: more than 90 % of a
2-32-32-1 fit's time went to them. Here both come from one Cody-Waite reduction to
[-π/4, π/4] and the minimax polynomials of Cephes' ``sinf``/``cosf`` (|error| ≤ 2 ulp of
the reduced argument, ≈ 1e-7 absolute for |x| up to a few thousand), written as plain
multiply-adds that XLA fuses and vectorises. Deterministic, so fits stay bit-reproducible.

``sin`` carries a custom JVP whose tangent reuses the same reduction, so ``jax.grad`` of a
SIREN built on it needs no second reduction either.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

# π/2 split into three float32 parts whose products with the quadrant index are exact.
_PIO2 = (1.5703125, 4.837512969970703125e-4, 7.54978995489188216e-8)
_SIN = (-1.6666654611e-1, 8.3321608736e-3, -1.9515295891e-4)
_COS = (4.166664568298827e-2, -1.388731625493765e-3, 2.443315711809948e-5)


def sincos(x: Float[Array, "..."]) -> tuple[Float[Array, "..."], Float[Array, "..."]]:
    """``(sin x, cos x)`` from one range reduction. Float32 and float64 inputs both go
    through the float32-accurate polynomials; for float64 inputs use ``jnp.sin``."""
    dtype = x.dtype
    c = lambda v: jnp.asarray(v, dtype)
    q = jnp.round(x * c(0.6366197723675814))  # nearest multiple of π/2
    r = ((x - q * c(_PIO2[0])) - q * c(_PIO2[1])) - q * c(_PIO2[2])
    r2 = r * r
    s = r + r * r2 * (c(_SIN[0]) + r2 * (c(_SIN[1]) + r2 * c(_SIN[2])))
    k = r2 * r2 * (c(_COS[0]) + r2 * (c(_COS[1]) + r2 * c(_COS[2])))
    co = (c(1.0) - c(0.5) * r2) + k
    n = jnp.bitwise_and(q.astype(jnp.int32), 3)  # quadrant: x = q π/2 + r
    swap = jnp.bitwise_and(n, 1) == 1
    sin_x = jnp.where(swap, co, s)
    cos_x = jnp.where(swap, s, co)
    sin_x = jnp.where(n >= 2, -sin_x, sin_x)
    cos_x = jnp.where((n == 1) | (n == 2), -cos_x, cos_x)
    return sin_x, cos_x


@jax.custom_jvp
def sin(x: Float[Array, "..."]) -> Float[Array, "..."]:
    """``sin x`` by :func:`sincos`; its derivative is the matching polynomial cosine."""
    return sincos(x)[0]


@sin.defjvp
def _sin_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    s, c = sincos(x)
    return s, c * dx


__all__ = ["sin", "sincos"]
