"""VQ-VAE over weight chunks: each chunk of K values becomes l tokens from a shared codebook.

Quantisation is a Gumbel-softmax over distance logits ``-||z_e - c_v||²``: during training
the code is ``q = softmax(logits / τ + g) @ codebook`` with τ annealed from 1 to 1e-3, so it
moves from a noisy mixture of codes to the nearest code, which is what encoding uses (the
argmax). The decoder reads ``z_e + sg(q - z_e)``: its forward value is ``q``, and the
reconstruction gradient reaches the encoder straight through, at every temperature (through
the softmax alone it vanishes as τ → 0). The loss is the masked reconstruction error plus the
usual VQ-VAE codebook term ``||sg(z_e) - q||²`` and commitment term ``β ||z_e - sg(q)||²``.

Why the defaults are one token per weight (``tokens_per_chunk == chunk_size``) with
one-dimensional codes: a network is sensitive to a few percent of relative error in its
weights, and trained weights are close to incompressible. Measured on the benchmark's zoos
(1,500 steps), 8 tokens for 32 weights lost 0.46 of accuracy on reconstruction; one token
per weight loses at most a few points.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from models.igpg._fit import fit_scanned


def _check_per_weight(per_weight: bool, chunk_size: int, tokens_per_chunk: int) -> None:
    if per_weight and tokens_per_chunk != chunk_size:
        raise ValueError(f"a per-weight tokeniser has one token per weight: tokens_per_chunk must equal "
                         f"chunk_size {chunk_size}, got {tokens_per_chunk}")


class VQVAE(eqx.Module):
    """Encoder MLP ``K → l·d``, a codebook ``[V, d]``, decoder MLP ``l·d → K``.

    ``per_weight``: one token per weight (``l == K``) through a scalar encoder ``1 → d`` and
    decoder ``d → 1`` shared by every weight, so a token stands for a value, not for a
    pattern of the whole chunk: a sampled token near the likely one decodes to a nearby
    weight, where a chunk-wide decoder turns one unlikely token into sixteen wrong weights.
    """

    encoder: eqx.nn.MLP
    decoder: eqx.nn.MLP
    codebook: Float[Array, "v d"]
    log_sharpness: Float[Array, ""]
    chunk_size: int = eqx.field(static=True)
    tokens_per_chunk: int = eqx.field(static=True)
    code_dim: int = eqx.field(static=True)
    per_weight: bool = eqx.field(static=True)

    def __init__(
        self,
        chunk_size: int,
        *,
        tokens_per_chunk: int = 4,
        codebook_size: int = 256,
        code_dim: int = 16,
        hidden: int = 128,
        depth: int = 2,
        per_weight: bool = False,
        dtype=None,
        key: PRNGKeyArray,
    ):
        for name, value in (("chunk_size", chunk_size), ("tokens_per_chunk", tokens_per_chunk),
                            ("codebook_size", codebook_size), ("code_dim", code_dim)):
            if int(value) < 1:
                raise ValueError(f"{name} must be a positive integer, got {value}")
        _check_per_weight(per_weight, chunk_size, tokens_per_chunk)
        k_enc, k_dec, k_code = jax.random.split(key, 3)
        width, latent = (1, code_dim) if per_weight else (chunk_size, tokens_per_chunk * code_dim)
        self.encoder = eqx.nn.MLP(width, latent, hidden, depth, jax.nn.gelu, key=k_enc, dtype=dtype)
        self.decoder = eqx.nn.MLP(latent, width, hidden, depth, jax.nn.gelu, key=k_dec, dtype=dtype)
        self.codebook = jax.random.normal(k_code, (codebook_size, code_dim), dtype)
        # Learned inverse scale of the distance logits: against the O(1) Gumbel noise it sets
        # how far the mixture reaches while the temperature is still near 1.
        self.log_sharpness = jnp.asarray(math.log(4.0), self.codebook.dtype)
        self.chunk_size = int(chunk_size)
        self.tokens_per_chunk = int(tokens_per_chunk)
        self.code_dim = int(code_dim)
        self.per_weight = bool(per_weight)

    @property
    def codebook_size(self) -> int:
        return int(self.codebook.shape[0])

    def encode(self, chunk: Float[Array, " k"]) -> Float[Array, "l d"]:
        chunk = chunk.astype(self.codebook.dtype)
        if self.per_weight:
            return jax.vmap(self.encoder)(chunk[:, None])
        return self.encoder(chunk).reshape(self.tokens_per_chunk, self.code_dim)

    def decode_codes(self, codes: Float[Array, "l d"]) -> Float[Array, " k"]:
        if self.per_weight:
            return jax.vmap(self.decoder)(codes)[:, 0]
        return self.decoder(jnp.ravel(codes))

    def logits(self, z_e: Float[Array, "l d"]) -> Float[Array, "l v"]:
        return -jnp.exp(self.log_sharpness) * jnp.sum((z_e[:, None, :] - self.codebook[None]) ** 2, axis=-1)

    def tokens(self, chunk: Float[Array, " k"]) -> Int[Array, " l"]:
        """The chunk's l token ids (argmax of the distance logits: the nearest code)."""
        return jnp.argmax(self.logits(self.encode(chunk)), axis=-1).astype(jnp.int32)

    def decode_tokens(self, tokens: Int[Array, " l"]) -> Float[Array, " k"]:
        return self.decode_codes(self.codebook[tokens])

    def __call__(self, chunk: Float[Array, " k"], *, temperature: float | Array, key: PRNGKeyArray):
        """Soft Gumbel-softmax pass: ``(reconstruction, z_e, q)``."""
        z_e = self.encode(chunk)
        gumbel = jax.random.gumbel(key, (self.tokens_per_chunk, self.codebook_size), z_e.dtype)
        weights = jax.nn.softmax(self.logits(z_e) / temperature + gumbel, axis=-1)
        q = weights @ self.codebook
        return self.decode_codes(z_e + jax.lax.stop_gradient(q - z_e)), z_e, q


def vq_loss(model: VQVAE, chunks, masks, temperature, key, beta: float = 0.25):
    """Masked reconstruction MSE + codebook + β·commitment, over a batch ``[B, K]``; returns (loss, parts)."""
    keys = jax.random.split(key, chunks.shape[0])
    recon, z_e, q = jax.vmap(lambda c, k: model(c, temperature=temperature, key=k))(chunks, keys)
    masks = masks.astype(recon.dtype)
    rec = jnp.sum(masks * (recon - chunks.astype(recon.dtype)) ** 2) / jnp.maximum(jnp.sum(masks), 1.0)
    codebook = jnp.mean((jax.lax.stop_gradient(z_e) - q) ** 2)
    commit = jnp.mean((z_e - jax.lax.stop_gradient(q)) ** 2)
    return rec + codebook + beta * commit, {"reconstruction": rec, "codebook": codebook, "commitment": commit}


def temperature_at(step, steps: int, start: float = 1.0, end: float = 1e-3):
    """Exponential annealing from ``start`` (step 0) to ``end`` (last step)."""
    frac = jnp.minimum(step / max(steps - 1, 1), 1.0)
    return start * (end / start) ** frac


@dataclasses.dataclass(frozen=True)
class TokeniserConfig:
    """Sizes and training schedule of the VQ-VAE (defaults: the paper's codebook of 256, one token per weight)."""

    chunk_size: int = 16
    tokens_per_chunk: int = 16
    codebook_size: int = 256
    code_dim: int = 1
    hidden: int = 256
    depth: int = 2
    per_weight: bool = False
    steps: int = 2000
    batch_size: int = 256
    lr: float = 1e-3
    beta: float = 0.25
    temperature: tuple[float, float] = (1.0, 1e-3)

    def __post_init__(self):
        object.__setattr__(self, "temperature", tuple(float(t) for t in self.temperature))
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("steps and batch_size must be >= 1")
        _check_per_weight(self.per_weight, self.chunk_size, self.tokens_per_chunk)
        if not 0 < self.temperature[1] <= self.temperature[0]:
            raise ValueError(f"temperature must anneal downwards from start > 0, got {self.temperature}")


def train_vqvae(
    chunks: Float[np.ndarray, "n k"],
    masks: np.ndarray,
    config: TokeniserConfig,
    *,
    key: PRNGKeyArray,
    dtype=None,
    progress: bool = True,
    checkpoint: str | Path | None = None,
    checkpoint_seconds: float = 60.0,
) -> tuple[VQVAE, dict[str, np.ndarray]]:
    """Fit a VQ-VAE on a pool of (normalised) chunks with Adam; returns the model and loss history.

    With ``checkpoint`` (a file) the fit saves its state there every ``checkpoint_seconds``
    and resumes from it, ending bit for bit where an uninterrupted fit does (``fit_scanned``).
    """
    from tqdm.auto import tqdm

    chunks = np.asarray(chunks)
    masks = np.asarray(masks)
    if chunks.ndim != 2 or chunks.shape[1] != config.chunk_size or masks.shape != chunks.shape:
        raise ValueError(
            f"expected chunks and masks of shape [n, {config.chunk_size}], got {chunks.shape} and {masks.shape}"
        )
    init_key, key = jax.random.split(key)
    model = VQVAE(
        config.chunk_size, tokens_per_chunk=config.tokens_per_chunk, codebook_size=config.codebook_size,
        code_dim=config.code_dim, hidden=config.hidden, depth=config.depth, per_weight=config.per_weight, dtype=dtype,
        key=init_key,
    )
    dtype = model.codebook.dtype
    t_start, t_end = config.temperature
    loss_fn = lambda m, x, mask, tau, k: vq_loss(m, x, mask, tau, k, config.beta)
    data = (jnp.asarray(chunks, dtype), jnp.asarray(masks))
    model, history = fit_scanned(
        model, loss_fn, data, steps=config.steps, batch_size=config.batch_size, lr=config.lr, key=key,
        temperature=lambda t: temperature_at(t, config.steps, t_start, t_end), desc="tokeniser", progress=progress,
        checkpoint=checkpoint, settings=dataclasses.asdict(config), checkpoint_seconds=checkpoint_seconds,
    )
    return model, history
