"""Training the prior on token sequences of many networks (mixed lengths) with random windows."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PRNGKeyArray

from models.igpg._fit import fit_scanned
from models.igpg._prior import Conditioning, Prior, PriorConfig, window_loss


def stack_conditioning(conds: list[Conditioning]) -> Conditioning:
    return jax.tree.map(lambda *a: jnp.stack(a), *conds)


def train_prior(
    sequences: list[np.ndarray],
    conds: list[Conditioning],
    codebook_size: int,
    config: PriorConfig,
    *,
    key: PRNGKeyArray,
    dtype=None,
    progress: bool = True,
    checkpoint: str | Path | None = None,
    checkpoint_seconds: float = 60.0,
) -> tuple[Prior, dict[str, np.ndarray]]:
    """Fit a ``Prior`` to ``sequences[i]`` (int tokens of network ``i``) under ``conds[i]``.

    Each step draws networks and, for each, a window of ``context`` tokens at a uniform start
    (windows run past the end of short networks; those positions are masked from the loss),
    so the model learns to continue from any position, as staged generation needs.
    With ``checkpoint`` (a file) the fit saves its state there every ``checkpoint_seconds``
    and resumes from it, ending bit for bit where an uninterrupted fit does (``fit_scanned``).
    """
    if len(sequences) != len(conds) or not sequences:
        raise ValueError(f"need one conditioning per sequence, got {len(sequences)} sequences and {len(conds)}")
    context = config.context
    lengths = np.array([len(s) for s in sequences], np.int32)
    if lengths.max() > config.max_positions:
        raise ValueError(f"a network has {lengths.max()} tokens, more than max_positions={config.max_positions}")
    for s in sequences:
        if np.min(s) < 0 or np.max(s) >= codebook_size:
            raise ValueError(f"tokens must lie in [0, {codebook_size}), got [{np.min(s)}, {np.max(s)}]")
    padded = np.zeros((len(sequences), lengths.max() + context), np.int32)
    for i, s in enumerate(sequences):
        padded[i, : len(s)] = s
    init_key, key = jax.random.split(key)
    prior = Prior(codebook_size, config, dtype=dtype, key=init_key)

    def loss_fn(model, tokens, length, cond, _tau, k):
        top = jnp.maximum(length - context, 0) + 1
        u = jax.random.uniform(k, length.shape)
        starts = jnp.minimum(jnp.floor(u * top.astype(u.dtype)).astype(jnp.int32), top - 1)
        windows = jax.vmap(lambda row, s: jax.lax.dynamic_slice_in_dim(row, s, context))(tokens, starts)
        loss = window_loss(model, windows, starts, length, cond)
        return loss, {}

    # Initialisation tokens of networks of different lengths, padded with "none" to one length.
    width = max(c.init_tokens.shape[0] for c in conds)
    conds = [eqx.tree_at(lambda c: c.init_tokens, c, jnp.pad(c.init_tokens, (0, width - c.init_tokens.shape[0]),
                                                             constant_values=-1)) for c in conds]
    data = (jnp.asarray(padded), jnp.asarray(lengths), stack_conditioning(conds))
    return fit_scanned(
        prior, loss_fn, data, steps=config.steps, batch_size=config.batch_size, lr=config.lr, key=key,
        desc="prior", progress=progress, checkpoint=checkpoint,
        settings={**dataclasses.asdict(config), "codebook_size": codebook_size},
        checkpoint_seconds=checkpoint_seconds, schedule=config.schedule,
    )
