"""Points of a weight space: checking, initialising and running a ``((W, b), ...)`` params tuple.

Dense weights are ``[n_out, n_in]``; convolution kernels ``[c_out, c_in, k, k]``
(same padding, stride 1). After the last convolution, global average pooling over
space feeds the dense layers. The output layer is linear.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PRNGKeyArray

if TYPE_CHECKING:
    from symm._weight_space import WeightSpace

Params = tuple[tuple[Array, Array], ...]


def default_float():
    return jnp.result_type(float)


def tree_float_dtype(params: Any):
    """The floating dtype of a params pytree (its first leaf)."""
    leaves = jax.tree_util.tree_leaves(params)
    return leaves[0].dtype if leaves else default_float()


def validate(space: "WeightSpace", params: Any, *, batched: bool = False) -> None:
    """Raise a ``ValueError`` naming the layer and the shapes if ``params`` does not fit ``space``."""
    if not isinstance(params, (tuple, list)):
        raise ValueError(f"params must be a tuple of (W, b) pairs, one per layer; got {type(params).__name__}")
    if len(params) != space.num_layers:
        raise ValueError(f"params has {len(params)} layers but the weight space {space} has {space.num_layers}")
    batch = None
    dtype = None
    for i, (layer, (w_shape, b_shape)) in enumerate(zip(params, space.param_shapes)):
        if not (isinstance(layer, (tuple, list)) and len(layer) == 2):
            raise ValueError(f"layer {i} must be a pair (W, b); got {type(layer).__name__}")
        for name, arr, expected in (("W", layer[0], w_shape), ("b", layer[1], b_shape)):
            if not hasattr(arr, "shape") or not hasattr(arr, "dtype"):
                raise ValueError(f"layer {i}: {name} must be an array, got {type(arr).__name__}")
            shape = tuple(arr.shape)
            if batched:
                if len(shape) != len(expected) + 1:
                    raise ValueError(
                        f"layer {i}: {name} should have shape [batch, {', '.join(map(str, expected))}], got {shape}"
                    )
                if batch is None:
                    batch = shape[0]
                elif shape[0] != batch:
                    raise ValueError(f"layer {i}: {name} has batch size {shape[0]}, earlier layers {batch}")
                shape = shape[1:]
            if shape != expected:
                raise ValueError(f"layer {i}: {name} should have shape {expected}, got {shape}")
            if not jnp.issubdtype(arr.dtype, jnp.floating):
                raise ValueError(f"layer {i}: {name} has dtype {arr.dtype}; params must be floating point")
            if dtype is None:
                dtype = arr.dtype
            elif arr.dtype != dtype:
                raise ValueError(f"layer {i}: {name} has dtype {arr.dtype} but earlier arrays are {dtype}")


def init(space: "WeightSpace", key: PRNGKeyArray, *, dtype=None) -> Params:
    """Random params, uniform in ±1/sqrt(fan_in) like ``eqx.nn.Linear`` (fan_in counts kernel taps)."""
    dtype = default_float() if dtype is None else np.dtype(dtype)
    return _init(space, key, dtype)


def draw_params(space: "WeightSpace", key, dtype) -> Params:
    """``init`` without its own jit, for use inside a caller's jitted function."""
    u = jax.random.uniform(key, (space.num_params,), dtype, -1.0, 1.0)  # one draw: cheap to compile
    params, start = [], 0
    for w_shape, b_shape in space.param_shapes:
        bound = 1.0 / math.sqrt(math.prod(w_shape[1:]))
        size_w, size_b = math.prod(w_shape), math.prod(b_shape)
        w = bound * u[start : start + size_w].reshape(w_shape)
        b = bound * u[start + size_w : start + size_w + size_b]
        start += size_w + size_b
        params.append((w, b))
    return tuple(params)


_init = eqx.filter_jit(draw_params)


def apply(space: "WeightSpace", params: Any, x: Array) -> Array:
    """The network's output for ONE input: ``x [n_in]`` (MLP) or ``[C, H, W]`` (CNN)."""
    h = x
    for i, (w, b) in enumerate(params):
        k = space.kernel_sizes[i]
        if k is None:
            if h.ndim == 3:  # conv → dense: global average pooling over space
                h = jnp.mean(h, axis=(1, 2))
            z = w @ h + b
        else:
            z = jax.lax.conv_general_dilated(
                h[None], w, window_strides=(1, 1), padding="SAME", dimension_numbers=("NCHW", "OIHW", "NCHW")
            )[0]
            z = z + b[:, None, None]
        h = space.activations[i].fn(z) if i < space.num_layers - 1 else z
    return h
