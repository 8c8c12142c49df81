"""Instruction-guided parameter generation (IGPG): tokenise weights, generate them from a task and an architecture.

``ChunkLayout`` + ``VQVAE`` (``Tokeniser``) turn a network of a ``symm.WeightSpace`` into
tokens and back; ``Prior`` is a causal transformer over those tokens behind a dataset prefix
(``class_prototypes`` of a frozen random-feature CNN) and an architecture prefix (a parsed
``Architecture`` description); ``Generator`` samples a network for a task.
"""

from models.igpg._architecture import Architecture, ArchitectureEncoder, ArchitectureError, parse_architecture
from models.igpg._dataset import DatasetEncoder, class_prototypes, frozen_features
from models.igpg._generator import Generator, conditioning, input_width
from models.igpg._layout import ChunkLayout
from models.igpg._prior import Conditioning, Prior, PriorConfig, generate_tokens, sample_logits, sequence_nll, window_loss
from models.igpg._tokeniser import Tokeniser, normalised_chunks, params_from_normalised
from models.igpg._train_prior import stack_conditioning, train_prior
from models.igpg._vqvae import VQVAE, TokeniserConfig, temperature_at, train_vqvae, vq_loss

__all__ = [
    "VQVAE",
    "Architecture",
    "ArchitectureEncoder",
    "ArchitectureError",
    "ChunkLayout",
    "Conditioning",
    "DatasetEncoder",
    "Generator",
    "Prior",
    "PriorConfig",
    "Tokeniser",
    "TokeniserConfig",
    "class_prototypes",
    "conditioning",
    "frozen_features",
    "generate_tokens",
    "input_width",
    "normalised_chunks",
    "params_from_normalised",
    "parse_architecture",
    "sample_logits",
    "sequence_nll",
    "stack_conditioning",
    "temperature_at",
    "train_prior",
    "train_vqvae",
    "vq_loss",
    "window_loss",
]
