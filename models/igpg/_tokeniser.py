"""Network ⇄ token sequence: ``ChunkLayout`` (order, padding) + per-layer scale + ``VQVAE``.

One tokeniser serves every architecture: chunks are normalised by the architecture's own
``1/sqrt(fan_in)`` scales (``ChunkLayout.scales``), never by zoo statistics, so a held-out
architecture is tokenised exactly as a training one. The normalised values are then
companded, ``v ↦ sign(v)·log(1 + |v|)``: trained weights (and the outgoing weights that a
canonical positive scaling makes large) span two orders of magnitude, and a network is
sensitive to each weight's *relative* error, which companding makes roughly uniform.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from models.igpg._layout import ChunkLayout
from models.igpg._vqvae import VQVAE


def _compand(v):
    return jnp.sign(v) * jnp.log1p(jnp.abs(v))


def _expand(c):
    """The inverse of ``_compand``."""
    return jnp.sign(c) * jnp.expm1(jnp.abs(c))


def _chunk_scales(layout: ChunkLayout) -> np.ndarray:
    """Each chunk entry's ``1/sqrt(fan_in)`` scale (1 for padding), shaped as the chunks."""
    return np.concatenate([layout.scales(), np.ones(layout.pad)]).reshape(layout.num_chunks, layout.chunk_size)


def normalised_chunks(layout: ChunkLayout, params, *, batched: bool = False) -> Float[Array, "... chunks k"]:
    """Chunks of ``params / scales``, companded (padding stays zero); ``batched`` for a stacked zoo."""
    chunks = layout.chunk_batch(params) if batched else layout.chunk(params)
    return _compand(chunks / jnp.asarray(_chunk_scales(layout), chunks.dtype))


def params_from_normalised(layout: ChunkLayout, chunks: Float[Array, "chunks k"]):
    """The inverse of ``normalised_chunks`` for one network."""
    return _params_from_scaled(layout, _expand(chunks))


def _params_from_scaled(layout: ChunkLayout, values: Float[Array, "chunks k"]):
    """Chunks of ``params / scales`` (not companded) back to a params tuple."""
    return layout.unchunk(values * jnp.asarray(_chunk_scales(layout), values.dtype))


class Tokeniser(eqx.Module):
    """A trained ``VQVAE`` plus the normalisation: ``encode(layout, params) → tokens``, ``decode`` back."""

    vqvae: VQVAE

    @property
    def chunk_size(self) -> int:
        return self.vqvae.chunk_size

    @property
    def tokens_per_chunk(self) -> int:
        return self.vqvae.tokens_per_chunk

    @property
    def codebook_size(self) -> int:
        return self.vqvae.codebook_size

    def _check(self, layout: ChunkLayout) -> None:
        if layout.chunk_size != self.chunk_size:
            raise ValueError(f"layout has chunk size {layout.chunk_size}, the tokeniser {self.chunk_size}")

    def _check_per_weight(self) -> None:
        if not self.vqvae.per_weight:
            raise ValueError("expected-value decoding needs a per-weight tokeniser (TokeniserConfig(per_weight=True)): "
                             "a chunk-wide code decodes to a whole chunk, not to one weight")

    def num_tokens(self, layout: ChunkLayout) -> int:
        return layout.num_chunks * self.tokens_per_chunk

    def encode(self, layout: ChunkLayout, params) -> Int[Array, " tokens"]:
        """One network to its ``num_chunks · l`` tokens, chunk by chunk."""
        self._check(layout)
        chunks = normalised_chunks(layout, params).astype(self.vqvae.codebook.dtype)
        return jnp.ravel(jax.vmap(self.vqvae.tokens)(chunks))

    def encode_batch(self, layout: ChunkLayout, params) -> Int[Array, "batch tokens"]:
        self._check(layout)
        chunks = normalised_chunks(layout, params, batched=True).astype(self.vqvae.codebook.dtype)
        tokens = jax.vmap(jax.vmap(self.vqvae.tokens))(chunks)
        return tokens.reshape(tokens.shape[0], -1)

    def decode(self, layout: ChunkLayout, tokens: Int[Array, " tokens"]):
        """Tokens back to a params tuple of ``layout.space`` (padding removed)."""
        self._check(layout)
        want = self.num_tokens(layout)
        if tokens.shape != (want,):
            raise ValueError(f"{layout.space} takes {want} tokens, got shape {tuple(tokens.shape)}")
        if tokens.dtype.kind not in "iu":
            raise ValueError(f"tokens must be integers, got dtype {tokens.dtype}")
        chunks = jax.vmap(self.vqvae.decode_tokens)(tokens.reshape(layout.num_chunks, self.tokens_per_chunk))
        return params_from_normalised(layout, chunks)

    def code_values(self) -> Float[Array, " v"]:
        """What each code decodes to, as a weight before its layer's scale (per-weight tokenisers:
        the table an expected weight ``Σ_k p_k values[k]`` is taken over)."""
        self._check_per_weight()
        return _expand(self.vqvae.decode_codes(self.vqvae.codebook))

    def decode_values(self, layout: ChunkLayout, values: Float[Array, " tokens"]):
        """Per-weight values on the ``code_values`` scale (one per token position) to a params tuple."""
        self._check(layout)
        self._check_per_weight()
        values = jnp.asarray(values, self.vqvae.codebook.dtype)
        if values.shape != (self.num_tokens(layout),):
            raise ValueError(f"{layout.space} takes {self.num_tokens(layout)} values, got shape {tuple(values.shape)}")
        return _params_from_scaled(layout, values.reshape(layout.num_chunks, layout.chunk_size))

    def reconstruct(self, layout: ChunkLayout, params):
        return self.decode(layout, self.encode(layout, params))
