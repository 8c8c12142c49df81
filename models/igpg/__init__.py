"""Instruction-guided parameter generation (IGPG): tokenise weights, generate them from a task and an architecture."""

from models.igpg._layout import ChunkLayout
from models.igpg._tokeniser import Tokeniser, normalised_chunks, params_from_normalised
from models.igpg._vqvae import VQVAE, TokeniserConfig, temperature_at, train_vqvae, vq_loss

__all__ = [
    "VQVAE",
    "ChunkLayout",
    "Tokeniser",
    "TokeniserConfig",
    "normalised_chunks",
    "params_from_normalised",
    "temperature_at",
    "train_vqvae",
    "vq_loss",
]
