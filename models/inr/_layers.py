"""INR layers as equinox modules, and the plain INR made of them.

Each layer is one affine map ``z = W x + b`` (``W`` is ``[n_out, n_in]``, the project's
params format) followed by its own nonlinearity; the classes differ only there and in
their initialisation, so a model is a tuple of layers, never a bag of switches.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from models.inr._siren import Params, bias_bound, default_float, siren_init, siren_weight_bound
from models.inr._siren import uniform as _uniform


def _siren_weights(key, n_in, n_out, *, first, omega0, bias_init, dtype):
    kw, kb = jax.random.split(key)
    dtype = default_float() if dtype is None else dtype
    W = _uniform(kw, (n_out, n_in), siren_weight_bound(n_in, first=first, omega0=omega0), dtype)
    b = _uniform(kb, (n_out,), bias_bound(n_in, bias_init), dtype)
    return W, b


def _kaiming_weights(key, n_in, n_out, *, normal, bias_init, dtype):
    """He initialisation (gain √2, fan_in) for ReLU/Softplus layers."""
    kw, kb = jax.random.split(key)
    dtype = default_float() if dtype is None else dtype
    std = math.sqrt(2.0 / n_in)
    if normal:
        W = std * jax.random.normal(kw, (n_out, n_in), dtype)
    else:
        W = _uniform(kw, (n_out, n_in), math.sqrt(3.0) * std, dtype)
    b = _uniform(kb, (n_out,), bias_bound(n_in, bias_init), dtype)
    return W, b


class Linear(eqx.Module):
    """``W x + b``; SIREN-initialised (the output layer of every INR here)."""

    weight: Float[Array, "n_out n_in"]
    bias: Float[Array, " n_out"]

    def __init__(self, n_in: int, n_out: int, *, key: PRNGKeyArray, first: bool = False,
                 omega0: float = 30.0, bias_init: str = "zero", dtype=None):
        self.weight, self.bias = _siren_weights(key, n_in, n_out, first=first, omega0=omega0,
                                                bias_init=bias_init, dtype=dtype)

    def __call__(self, x: Float[Array, " n_in"]) -> Float[Array, " n_out"]:
        return self.weight @ x + self.bias


class Sine(eqx.Module):
    """SIREN layer ``sin(ω0 (W x + b))`` with the SIREN initialisation."""

    weight: Float[Array, "n_out n_in"]
    bias: Float[Array, " n_out"]
    omega0: float = eqx.field(static=True)

    def __init__(self, n_in: int, n_out: int, *, key: PRNGKeyArray, first: bool = False,
                 omega0: float = 30.0, bias_init: str = "zero", dtype=None):
        self.omega0 = float(omega0)
        self.weight, self.bias = _siren_weights(key, n_in, n_out, first=first, omega0=omega0,
                                                bias_init=bias_init, dtype=dtype)

    def __call__(self, x: Float[Array, " n_in"]) -> Float[Array, " n_out"]:
        return jnp.sin(self.omega0 * (self.weight @ x + self.bias))


class Finer(eqx.Module):
    """FINER layer ``sin(ω0 (|z|+1) z)``, z = W x + b; the factor (|z|+1) carries no gradient.

    The growing frequency ``(|z|+1)`` widens the spectrum a sine layer can reach
    (Liu et al. 2024); as in their code, only ``z`` itself is differentiated.
    """

    weight: Float[Array, "n_out n_in"]
    bias: Float[Array, " n_out"]
    omega0: float = eqx.field(static=True)

    def __init__(self, n_in: int, n_out: int, *, key: PRNGKeyArray, first: bool = False,
                 omega0: float = 30.0, bias_init: str = "zero", dtype=None):
        self.omega0 = float(omega0)
        self.weight, self.bias = _siren_weights(key, n_in, n_out, first=first, omega0=omega0,
                                                bias_init=bias_init, dtype=dtype)

    def __call__(self, x: Float[Array, " n_in"]) -> Float[Array, " n_out"]:
        z = self.weight @ x + self.bias
        return jnp.sin(self.omega0 * jax.lax.stop_gradient(jnp.abs(z) + 1.0) * z)


class Relu(eqx.Module):
    """``relu(W x + b)`` with He-uniform weights."""

    weight: Float[Array, "n_out n_in"]
    bias: Float[Array, " n_out"]

    def __init__(self, n_in: int, n_out: int, *, key: PRNGKeyArray, bias_init: str = "zero", dtype=None):
        self.weight, self.bias = _kaiming_weights(key, n_in, n_out, normal=False, bias_init=bias_init, dtype=dtype)

    def __call__(self, x: Float[Array, " n_in"]) -> Float[Array, " n_out"]:
        return jax.nn.relu(self.weight @ x + self.bias)


class Softplus(eqx.Module):
    """``softplus(β z)/β`` (β = 100, a smooth ReLU) with Kaiming-normal weights, as in Neural Experts."""

    weight: Float[Array, "n_out n_in"]
    bias: Float[Array, " n_out"]
    beta: float = eqx.field(static=True)

    def __init__(self, n_in: int, n_out: int, *, key: PRNGKeyArray, beta: float = 100.0,
                 bias_init: str = "zero", dtype=None):
        self.beta = float(beta)
        self.weight, self.bias = _kaiming_weights(key, n_in, n_out, normal=True, bias_init=bias_init, dtype=dtype)

    def __call__(self, x: Float[Array, " n_in"]) -> Float[Array, " n_out"]:
        return jax.nn.softplus(self.beta * (self.weight @ x + self.bias)) / self.beta


class FourierFeatures(eqx.Module):
    """``[x, sin(2πBx), cos(2πBx)] / √m`` with a fixed Gaussian ``B`` ([m, n_in]).

    ``B`` is a frozen random projection (Tancik et al. 2020): it is never trained, so it
    sits behind ``stop_gradient`` and Adam leaves it exactly where it started.
    """

    B: Float[Array, "m n_in"]

    def __init__(self, n_in: int, n_features: int, *, key: PRNGKeyArray, scale: float = 1.0, dtype=None):
        dtype = default_float() if dtype is None else dtype
        self.B = scale * jax.random.normal(key, (n_features, n_in), dtype)

    @property
    def n_out(self) -> int:
        m, n_in = self.B.shape
        return n_in + 2 * m

    def __call__(self, x: Float[Array, " n_in"]) -> Float[Array, " n_out"]:
        B = jax.lax.stop_gradient(self.B)
        z = 2.0 * jnp.pi * (B @ x)
        return jnp.concatenate([x, jnp.sin(z), jnp.cos(z)]) / math.sqrt(B.shape[0])


class INR(eqx.Module):
    """A coordinate network: layers applied in order to ONE point (``jax.vmap`` for many)."""

    layers: tuple

    def __call__(self, x: Float[Array, " n_in"]) -> Float[Array, " n_out"]:
        for layer in self.layers:
            x = layer(x)
        return x

    @property
    def params(self) -> Params:
        """The project-wide ``((W, b), ...)`` view of the affine layers (encodings left out)."""
        return tuple((l.weight, l.bias) for l in self.layers if hasattr(l, "weight"))


def _check_sizes(sizes):
    sizes = tuple(int(s) for s in sizes)
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must list at least an input and an output width, all >= 1; got {sizes}")
    return sizes


def _stack(layer_cls, sizes, keys, *, first_is_coords, omega0, bias_init, dtype, **kw):
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-2], sizes[1:-1])):
        layers.append(layer_cls(n_in, n_out, key=keys[i], first=first_is_coords and i == 0,
                                omega0=omega0, bias_init=bias_init, dtype=dtype, **kw))
    layers.append(Linear(sizes[-2], sizes[-1], key=keys[-1], first=len(sizes) == 2 and first_is_coords,
                         omega0=omega0, bias_init=bias_init, dtype=dtype))
    return layers


def siren(sizes, *, key: PRNGKeyArray, omega0: float = 30.0, bias_init: str = "uniform", dtype=None) -> INR:
    """SIREN as a module; its ``.params`` equal ``siren_init(key, sizes, ...)`` exactly."""
    return siren_from_params(siren_init(key, _check_sizes(sizes), omega0=omega0, bias_init=bias_init, dtype=dtype),
                             omega0=omega0)


def siren_from_params(params: Params, *, omega0: float = 30.0) -> INR:
    """Wrap functional ``(W, b)`` SIREN params as a module computing the same function as ``siren_apply``."""
    layers = []
    for i, (W, b) in enumerate(params):
        n_out, n_in = W.shape
        if b.shape != (n_out,):
            raise ValueError(f"layer {i}: bias shape {b.shape} does not match weight shape {W.shape}")
        cls = Linear if i == len(params) - 1 else Sine
        kw = {} if cls is Linear else {"omega0": omega0}
        layer = cls(n_in, n_out, key=jax.random.key(0), dtype=W.dtype, **kw)
        layers.append(eqx.tree_at(lambda l: (l.weight, l.bias), layer, (W, b)))
    return INR(tuple(layers))


def finer(sizes, *, key: PRNGKeyArray, omega0: float = 30.0, bias_init: str = "zero", dtype=None) -> INR:
    """FINER: SIREN's initialisation with the variable-frequency sine."""
    sizes = _check_sizes(sizes)
    keys = jax.random.split(key, len(sizes) - 1)
    return INR(tuple(_stack(Finer, sizes, keys, first_is_coords=True, omega0=omega0, bias_init=bias_init, dtype=dtype)))


def _plain(layer_cls, sizes, key, fourier, bias_init, dtype, **kw):
    sizes = _check_sizes(sizes)
    kff, key = jax.random.split(key)
    keys = jax.random.split(key, len(sizes) - 1)
    layers = []
    if fourier:
        ff = FourierFeatures(sizes[0], max(sizes[1] // 2, 1), key=kff, dtype=dtype)
        layers.append(ff)
        sizes = (ff.n_out,) + sizes[1:]
    for i, (n_in, n_out) in enumerate(zip(sizes[:-2], sizes[1:-1])):
        layers.append(layer_cls(n_in, n_out, key=keys[i], bias_init=bias_init, dtype=dtype, **kw))
    layers.append(Linear(sizes[-2], sizes[-1], key=keys[-1], bias_init=bias_init, dtype=dtype))
    return INR(tuple(layers))


def relu_ff(sizes, *, key: PRNGKeyArray, bias_init: str = "zero", dtype=None) -> INR:
    """ReLU MLP on Fourier features (m = first hidden width / 2)."""
    return _plain(Relu, sizes, key, True, bias_init, dtype)


def softplus(sizes, *, key: PRNGKeyArray, fourier: bool = False, beta: float = 100.0,
             bias_init: str = "zero", dtype=None) -> INR:
    """Softplus(β=100) MLP, optionally on Fourier features (the paper's "Softplus+FF")."""
    return _plain(Softplus, sizes, key, fourier, bias_init, dtype, beta=beta)
