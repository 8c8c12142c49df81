"""Saving and loading a trained ``Generator``: leaves with ``eqx.tree_serialise_leaves``, structure as JSON."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp

from models.igpg._generator import Generator
from models.igpg._prior import Prior, PriorConfig
from models.igpg._tokeniser import Tokeniser
from models.igpg._vqvae import VQVAE, TokeniserConfig


def _skeleton(tok: TokeniserConfig, prior: PriorConfig, dtype, base_shapes: dict | None = None) -> Generator:
    """A generator of the saved structure to read the leaves into (a residual one's bases by their shapes)."""
    key = jax.random.key(0)
    bases = {arch: tuple(tuple(jnp.zeros(shape, dtype) for shape in layer) for layer in shapes)
             for arch, shapes in (base_shapes or {}).items()}
    vq = VQVAE(tok.chunk_size, tokens_per_chunk=tok.tokens_per_chunk, codebook_size=tok.codebook_size,
               code_dim=tok.code_dim, hidden=tok.hidden, depth=tok.depth, per_weight=tok.per_weight, dtype=dtype,
               key=key)
    return Generator(Tokeniser(vq), Prior(tok.codebook_size, prior, dtype=dtype, key=key), bases)


def save_generator(directory: str | Path, generator: Generator, tok: TokeniserConfig, prior: PriorConfig,
                   extra: dict | None = None) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    meta = {"tokeniser": dataclasses.asdict(tok), "prior": dataclasses.asdict(prior),
            "dtype": str(generator.tokeniser.vqvae.codebook.dtype),
            "base_shapes": {arch: [[list(a.shape) for a in layer] for layer in base]
                            for arch, base in generator.bases.items()}, **(extra or {})}
    tmp = directory / "generator.eqx.tmp"
    eqx.tree_serialise_leaves(tmp, generator)
    os.replace(tmp, directory / "generator.eqx")
    (directory / "generator.json").write_text(json.dumps(meta, indent=2))
    return directory


def load_generator(directory: str | Path) -> tuple[Generator, dict]:
    directory = Path(directory)
    if not (directory / "generator.json").is_file() or not (directory / "generator.eqx").is_file():
        raise FileNotFoundError(f"{directory}: no trained generator here (generator.json / generator.eqx); "
                                "run `symm igpg train --out DIR` first")
    meta = json.loads((directory / "generator.json").read_text())
    tok = TokeniserConfig(**meta["tokeniser"])
    prior = PriorConfig(**meta["prior"])
    skeleton = _skeleton(tok, prior, jnp.dtype(meta["dtype"]), meta.get("base_shapes"))
    return eqx.tree_deserialise_leaves(directory / "generator.eqx", skeleton), meta
