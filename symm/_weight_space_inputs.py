"""Checking what a user passes to ``WeightSpace``: widths, kernels and activations.

Every refusal is one line that names the layer, the value and the fix, because a
space built from a silently rounded width or an ignored activation gives wrong
answers much later. Activations may be registry names, expressions, ``symm.Activation``
objects or the jax/equinox callables that the registry knows.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from symm._activation import Activation, get_activation


def _whole(value: Any, what: str) -> int:
    """``value`` as an int, refusing floats such as 3.5 (and 3.0) and bools."""
    if isinstance(value, bool):
        raise ValueError(f"{what} is {value!r}; it must be a whole number")
    try:
        return operator.index(value)
    except TypeError:
        raise ValueError(
            f"{what} is {value!r} ({type(value).__name__}); it must be a whole number such as {_suggest(value)}"
        ) from None


def _suggest(value: Any) -> str:
    try:
        return str(max(1, int(value)))
    except (TypeError, ValueError, OverflowError):
        return "3"


def checked_sizes(layer_sizes: Any) -> tuple[int, ...]:
    """Layer widths: a sequence of at least two positive whole numbers."""
    if isinstance(layer_sizes, (str, bytes)) or not isinstance(layer_sizes, Sequence):
        raise ValueError(
            f"layer sizes must be a sequence of widths such as (2, 32, 1), got {type(layer_sizes).__name__} "
            f"{layer_sizes!r}"
        )
    sizes = tuple(_whole(n, f"layer {i} width") for i, n in enumerate(layer_sizes))
    if len(sizes) < 2:
        raise ValueError(f"a weight space needs at least an input and an output layer; got sizes {sizes}")
    for i, n in enumerate(sizes):
        if n < 1:
            raise ValueError(f"layer {i} has width {n}; every layer needs at least one neuron")
    return sizes


def checked_kernels(kernel_sizes: Any, num_weight_layers: int) -> tuple[int | None, ...]:
    """Per weight layer: a positive whole kernel size, or None for dense; convolutions come first."""
    if isinstance(kernel_sizes, (str, bytes)) or not isinstance(kernel_sizes, Sequence):
        raise ValueError(f"kernel sizes must be a sequence (None for a dense layer), got {kernel_sizes!r}")
    kernels = tuple(None if k is None else _whole(k, f"weight layer {i} kernel size") for i, k in enumerate(kernel_sizes))
    if len(kernels) != num_weight_layers:
        raise ValueError(
            f"need one kernel size (None for dense) per weight layer: {num_weight_layers} layers, got {len(kernels)}"
        )
    for i, k in enumerate(kernels):
        if k is not None and k < 1:
            raise ValueError(f"weight layer {i}: kernel size must be a positive integer, got {k}")
        if k is not None and i > 0 and kernels[i - 1] is None:
            raise ValueError(
                f"weight layer {i} is a convolution after dense layer {i - 1}; a CNN is convolutions, "
                "global average pooling, then dense layers"
            )
    if kernels[-1] is not None:
        raise ValueError("the output layer must be dense (a CNN ends with global average pooling and dense layers)")
    return kernels


def normalise_activations(activations: Any, num_hidden: int) -> tuple[Activation, ...]:
    """One ``Activation`` per hidden layer from one spec for all, or a sequence of one per layer.

    A network without hidden layers has no activation: it takes ``()``, and a single spec
    is refused rather than silently ignored.
    """
    if isinstance(activations, (list, tuple)):
        if len(activations) != num_hidden:
            raise ValueError(
                f"got {len(activations)} activations for {num_hidden} hidden layers; pass one spec per "
                "hidden layer, or a single spec for all of them"
                + (" (a network without hidden layers takes activations=())" if num_hidden == 0 else "")
            )
        specs = tuple(activations)
    elif num_hidden == 0:
        raise ValueError(
            f"these layer sizes have no hidden layer, so the activation {_spec_text(activations)} would never be "
            "applied; pass activations=() for a linear network, or add a hidden layer"
        )
    else:
        specs = (activations,) * num_hidden
    out = []
    for l, spec in enumerate(specs, start=1):
        if callable(spec) and not isinstance(spec, (Activation, str)):
            spec = lookup_callable(spec)
        try:
            out.append(get_activation(spec))
        except ValueError as err:
            raise type(err)(f"hidden layer {l}: {err}") from None
    return tuple(out)


def _spec_text(spec: Any) -> str:
    if isinstance(spec, Activation):
        return repr(spec.name)
    if isinstance(spec, str):
        return repr(spec)
    return repr(getattr(spec, "__name__", spec))


def _known_callables() -> list[tuple[Callable, Any]]:
    """eqx/jax activation callables and the registry spec that computes the same function."""
    import sympy

    from symm._symbols import x

    gelu_tanh = x / 2 * (1 + sympy.tanh(sympy.sqrt(2 / sympy.pi) * (x + sympy.Rational(44715, 1000000) * x**3)))
    pairs = [
        (jax.nn.relu, "relu"),
        (jnp.tanh, "tanh"),
        (jax.nn.tanh, "tanh"),
        (jnp.sin, sympy.sin(x)),
        (jnp.cos, sympy.cos(x)),
        (jax.nn.sigmoid, "sigmoid"),
        (jax.nn.silu, "silu"),
        (jax.nn.swish, "silu"),
        (jax.nn.softplus, "softplus"),
        (jax.nn.elu, "elu"),
        (jax.nn.selu, "selu"),
        (jax.nn.leaky_relu, "leaky_relu"),
        (jax.nn.soft_sign, "softsign"),
        (jax.nn.hard_tanh, "hardtanh"),
        (jnp.abs, "abs"),
        (jnp.arctan, "arctan"),
        (jax.scipy.special.erf, "erf"),
        # jax.nn.gelu defaults to the tanh approximation, which is NOT the registry's erf gelu.
        (jax.nn.gelu, gelu_tanh),
    ]
    if hasattr(jax.nn, "mish"):
        pairs.append((jax.nn.mish, "mish"))
    return pairs


def is_identity_callable(fn: Callable) -> bool:
    probe = jnp.linspace(-3.0, 3.0, 13)
    try:
        out = fn(probe)
    except Exception:  # noqa: BLE001 - any failure means "not the identity"
        return False
    return bool(jnp.shape(out) == probe.shape and jnp.all(out == probe))


def lookup_callable(fn: Callable) -> Any:
    """The registry spec of a known jax/equinox activation callable."""
    import sympy

    if isinstance(fn, sympy.Basic):
        return fn
    for candidate, spec in _known_callables():
        if fn is candidate:
            return spec
    if is_identity_callable(fn):
        return "identity"
    name = getattr(fn, "__name__", repr(fn))
    raise ValueError(
        f"activation {name} has no registry entry that symm recognises; pass it by name, e.g. "
        'activation="relu", or as an expression such as activation="x/(1+Abs(x))"'
    )


def mlp_linears(mlp: eqx.nn.MLP) -> tuple[eqx.nn.Linear, ...]:
    layers = tuple(mlp.layers)
    if not all(isinstance(layer, eqx.nn.Linear) for layer in layers) or any(
        layer.weight.ndim != 2 for layer in layers
    ):
        raise ValueError("expected an eqx.nn.MLP whose layers are eqx.nn.Linear (scan=False)")
    return layers
