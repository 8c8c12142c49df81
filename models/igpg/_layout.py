"""Networks as chunk sequences: flatten in a fixed layer order, pad to a multiple of K, split.

The order is the one ``symm.WeightSpace.param_shapes`` gives: ``W0, b0, W1, b1, ...``, each
array in C order. The last chunk is padded with zeros and a mask says which entries are
real, so the reconstruction loss never rewards the padding and ``unchunk`` drops it.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int

import symm


class ChunkLayout(eqx.Module):
    """How the params of one ``symm.WeightSpace`` map to ``[num_chunks, chunk_size]`` chunks."""

    space: symm.WeightSpace
    chunk_size: int = eqx.field(static=True)

    def __init__(self, space: symm.WeightSpace, chunk_size: int):
        if not isinstance(space, symm.WeightSpace):
            raise TypeError(f"ChunkLayout needs a symm.WeightSpace, got {type(space).__name__}")
        if int(chunk_size) < 1:
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size}")
        self.space = space
        self.chunk_size = int(chunk_size)

    @property
    def num_params(self) -> int:
        return self.space.num_params

    @property
    def num_chunks(self) -> int:
        return -(-self.num_params // self.chunk_size)

    @property
    def pad(self) -> int:
        return self.num_chunks * self.chunk_size - self.num_params

    def mask(self) -> Bool[np.ndarray, "chunks k"]:
        """True on real parameters, False on the padding of the last chunk."""
        flat = np.arange(self.num_chunks * self.chunk_size) < self.num_params
        return flat.reshape(self.num_chunks, self.chunk_size)

    def scales(self, dtype=np.float64) -> Float[np.ndarray, " n"]:
        """Per-parameter scale ``1/sqrt(fan_in)`` of its layer: a fact of the architecture, not of any zoo.

        The tokeniser divides by it so that every layer's entries are of order one whatever
        the widths, which lets one codebook serve every architecture.
        """
        parts = []
        for w_shape, b_shape in self.space.param_shapes:
            s = 1.0 / math.sqrt(math.prod(w_shape[1:]))
            parts.append(np.full(math.prod(w_shape) + math.prod(b_shape), s, dtype))
        return np.concatenate(parts)

    def segments(self) -> Int[np.ndarray, "s 7"]:
        """Where each weight of the flat order sits, as one row per array (``MAX_SEGMENTS`` rows).

        Row ``(start, end, rows, columns, kernel, layer_from_output, is_bias)``: entries
        ``start..end-1`` of the flat vector are that array, in C order over ``rows x columns x
        kernel`` (a bias: ``rows`` only). Unused rows start at ``PAST_END``. ``weight_coordinates``
        turns it into per-weight coordinates; counting layers from the output makes the last
        layer's row ``k`` (class ``k``) the same coordinate in every architecture.
        """
        shapes = self.space.param_shapes
        if 2 * len(shapes) > MAX_SEGMENTS:
            raise ValueError(f"{self.space} has {len(shapes)} layers; weight coordinates cover at most {MAX_SEGMENTS // 2}")
        table = np.full((MAX_SEGMENTS, 7), PAST_END, np.int32)
        start = 0
        for i, (w_shape, b_shape) in enumerate(shapes):
            from_output = len(shapes) - 1 - i
            for shape, is_bias in ((w_shape, 0), (b_shape, 1)):
                size = math.prod(shape)
                columns = shape[1] if len(shape) > 1 else 1
                table[2 * i + is_bias] = (start, start + size, shape[0], columns, math.prod(shape[2:]), from_output, is_bias)
                start += size
        return table

    def flatten(self, params) -> Float[Array, " n"]:
        """One network's params as a flat vector in the fixed layer order (shapes are checked)."""
        self.space.validate(params)
        xp = _xp(params)
        return xp.concatenate([xp.ravel(a) for layer in params for a in layer])

    def unflatten(self, flat: Float[Array, " n"]):
        """The inverse of ``flatten``: a params tuple ``((W, b), ...)`` of this space."""
        if flat.shape != (self.num_params,):
            raise ValueError(f"expected a flat vector of {self.num_params} parameters, got shape {flat.shape}")
        params, start = [], 0
        for w_shape, b_shape in self.space.param_shapes:
            layer = []
            for shape in (w_shape, b_shape):
                size = math.prod(shape)
                layer.append(flat[start : start + size].reshape(shape))
                start += size
            params.append(tuple(layer))
        return tuple(params)

    def chunk(self, params) -> Float[Array, "chunks k"]:
        """Flatten, pad with zeros to a multiple of ``chunk_size``, split into chunks."""
        flat = self.flatten(params)
        xp = _xp(flat)
        flat = xp.concatenate([flat, xp.zeros(self.pad, flat.dtype)])
        return flat.reshape(self.num_chunks, self.chunk_size)

    def unchunk(self, chunks: Float[Array, "chunks k"]):
        """Join chunks, drop the padding, unflatten; ``unchunk(chunk(p)) == p`` exactly."""
        want = (self.num_chunks, self.chunk_size)
        if tuple(chunks.shape) != want:
            raise ValueError(
                f"{self.space} takes {want[0]} chunks of {want[1]} values; got an array of shape {tuple(chunks.shape)}"
            )
        return self.unflatten(_xp(chunks).ravel(chunks)[: self.num_params])

    def chunk_batch(self, params) -> Float[Array, "batch chunks k"]:
        """``chunk`` of every network of a stacked zoo (leading network axis), shapes checked once."""
        self.space.validate(params, batched=True)
        xp = _xp(params)
        flat = xp.concatenate([xp.reshape(a, (a.shape[0], -1)) for layer in params for a in layer], axis=1)
        flat = xp.concatenate([flat, xp.zeros((flat.shape[0], self.pad), flat.dtype)], axis=1)
        return flat.reshape(flat.shape[0], self.num_chunks, self.chunk_size)


#: Rows of ``ChunkLayout.segments`` (two arrays per layer) and the start of an unused row.
MAX_SEGMENTS = 64
PAST_END = np.iinfo(np.int32).max


def weight_coordinates(segments: Int[Array, "s 7"], positions: Int[Array, " n"]) -> Int[Array, "n 5"]:
    """``(layer_from_output, kind, row, column, kernel_offset)`` of flat entries ``positions``.

    ``kind`` is 0 for a weight, 1 for a bias and 2 past the last parameter (padding)."""
    positions = jnp.asarray(positions, segments.dtype)
    starts, ends = segments[:, 0], segments[:, 1]
    index = jnp.clip(jnp.sum(positions[:, None] >= starts[None, :], axis=1) - 1, 0, segments.shape[0] - 1)
    row = segments[index]
    local = positions - row[:, 0]
    columns, kernel = jnp.maximum(row[:, 3], 1), jnp.maximum(row[:, 4], 1)
    bias = row[:, 6] == 1
    real = (positions >= 0) & (positions < jnp.max(jnp.where(starts < PAST_END, ends, 0)))
    kind = jnp.where(real, row[:, 6], 2)
    keep = lambda v: jnp.where(real, v, 0)
    return jnp.stack([keep(row[:, 5]), kind, keep(jnp.where(bias, local, local // (columns * kernel))),
                      keep(jnp.where(bias, 0, (local // kernel) % columns)), keep(jnp.where(bias, 0, local % kernel))], -1)


def _xp(tree):
    """numpy for host arrays (data preparation: no compilation per shape), jax.numpy otherwise."""
    leaves = jax.tree_util.tree_leaves(tree)
    return np if leaves and all(isinstance(a, np.ndarray) for a in leaves) else jnp
