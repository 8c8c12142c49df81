"""Architecture descriptions: ``cnn conv3x3-16 conv3x3-16 gap dense-10 relu`` ⇄ ``symm.WeightSpace``.

Grammar (words separated by spaces)::

    cnn  conv{k}x{k}-{c} ...  gap  dense-{n} ...  ACTIVATION
    mlp  dense-{n} ...                            ACTIVATION

The input width is not part of the description: it is the task's (image channels for a
CNN, pixels for an MLP). The activation is any name ``symm.get_activation`` knows. The
learned encoder reads the words as numbers (kind, log-width, kernel size, position), so an
architecture never seen in training (other widths, depths) still gets a meaningful embedding.
"""

from __future__ import annotations

import dataclasses
import math
import re

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

import symm

EXAMPLE = "cnn conv3x3-16 conv3x3-16 conv3x3-16 gap dense-10 relu"
_CONV = re.compile(r"conv(\d+)x(\d+)-(\d+)$")
_DENSE = re.compile(r"dense-(\d+)$")
MAX_WORDS = 16
# Per-word features: one-hot kind of word (cnn, mlp, conv, gap, dense, activation), log2 width,
# kernel size, relative position; the activation word adds a one-hot over ACTIVATION_VOCAB.
ACTIVATION_VOCAB = ("relu", "tanh", "sigmoid", "gelu", "silu", "sin", "leaky_relu", "elu")
WORD_FEATURES = 6 + 3 + len(ACTIVATION_VOCAB)


class ArchitectureError(ValueError):
    """A description that does not parse: one line naming the word and the grammar."""


@dataclasses.dataclass(frozen=True)
class Architecture:
    """A parsed description: ``convs`` as (kernel, channels), ``dense`` widths, one activation."""

    kind: str
    convs: tuple[tuple[int, int], ...]
    dense: tuple[int, ...]
    activation: str

    @classmethod
    def parse(cls, text: str) -> "Architecture":
        if not isinstance(text, str):
            raise ArchitectureError(f"an architecture description is a string such as {EXAMPLE!r}, got {type(text).__name__}")
        words = text.split()
        hint = f"expected e.g. {EXAMPLE!r} or 'mlp dense-32 dense-10 tanh'"
        fail = lambda why: ArchitectureError(f"cannot parse architecture {text!r}: {why}; {hint}")
        if len(words) < 3:
            raise fail("it needs a kind (cnn or mlp), layers and an activation")
        kind, body, activation = words[0], words[1:-1], words[-1]
        if kind not in ("cnn", "mlp"):
            raise fail(f"the first word must be 'cnn' or 'mlp', not {kind!r}")
        if len(words) > MAX_WORDS:
            raise fail(f"{len(words)} words, at most {MAX_WORDS} are supported")
        try:
            symm.get_activation(activation)
        except ValueError:
            raise fail(f"the last word {activation!r} is not an activation symm knows") from None
        convs, dense, seen_gap = [], [], False
        for position, word in enumerate(body, start=2):
            conv, lin = _CONV.match(word), _DENSE.match(word)
            if conv and kind == "cnn" and not seen_gap:
                k1, k2, c = (int(g) for g in conv.groups())
                if k1 != k2 or k1 < 1 or k1 % 2 == 0 or c < 1:
                    raise fail(f"word {position} {word!r}: kernels are square and odd (same padding), channels >= 1")
                convs.append((k1, c))
            elif word == "gap" and kind == "cnn" and not seen_gap:
                seen_gap = True
            elif lin and (seen_gap or kind == "mlp"):
                if int(lin.group(1)) < 1:
                    raise fail(f"word {position} {word!r}: a dense layer needs at least one unit")
                dense.append(int(lin.group(1)))
            else:
                where = {"cnn": "convolutions, then 'gap', then dense layers", "mlp": "dense layers only"}[kind]
                raise fail(f"word {position} {word!r} is out of place ({kind}: {where})")
        if kind == "cnn" and (not convs or not seen_gap):
            raise fail("a cnn needs at least one conv layer followed by 'gap'")
        if not dense:
            raise fail("it needs at least one dense (output) layer")
        return cls(kind, tuple(convs), tuple(dense), activation)

    @classmethod
    def of(cls, architecture: Architecture | str) -> Architecture:
        """``architecture`` itself, or the parse of a description: what every API taking either reads."""
        return cls.parse(architecture) if isinstance(architecture, str) else architecture

    def __str__(self) -> str:
        layers = [f"conv{k}x{k}-{c}" for k, c in self.convs] + (["gap"] if self.kind == "cnn" else [])
        return " ".join([self.kind, *layers, *[f"dense-{n}" for n in self.dense], self.activation])

    @property
    def n_outputs(self) -> int:
        return self.dense[-1]

    def space(self, n_in: int) -> symm.WeightSpace:
        """The weight space of this architecture on inputs of ``n_in`` channels (CNN) or features (MLP)."""
        if self.kind == "cnn":
            return symm.WeightSpace.cnn(
                channels=(n_in, *(c for _, c in self.convs)), dense=self.dense,
                kernel_size=tuple(k for k, _ in self.convs), activations=self.activation,
            )
        return symm.WeightSpace.mlp((n_in, *self.dense), self.activation if len(self.dense) > 1 else ())

    def word_features(self) -> tuple[Float[np.ndarray, "w f"], np.ndarray]:
        """``[MAX_WORDS, WORD_FEATURES]`` numeric word features and the mask of real words."""
        words = str(self).split()
        feats = np.zeros((MAX_WORDS, WORD_FEATURES), np.float64)
        for i, word in enumerate(words):
            rel = i / max(len(words) - 1, 1)
            if i == 0:
                feats[i, 0 if word == "cnn" else 1] = 1.0
            elif i == len(words) - 1:
                feats[i, 5] = 1.0
                if word in ACTIVATION_VOCAB:
                    feats[i, 9 + ACTIVATION_VOCAB.index(word)] = 1.0
            elif word == "gap":
                feats[i, 3] = 1.0
            elif word.startswith("conv"):
                k, c = self.convs[i - 1]
                feats[i, 2], feats[i, 6], feats[i, 7] = 1.0, math.log2(c) / 4, k / 4
            else:
                feats[i, 4], feats[i, 6] = 1.0, math.log2(int(word.split("-")[1])) / 4
            feats[i, 8] = rel
        return feats, np.arange(MAX_WORDS) < len(words)


def parse_architecture(text: str) -> Architecture:
    """``Architecture.parse``: raises ``ArchitectureError`` with one line for anything that does not parse."""
    return Architecture.parse(text)


class ArchitectureEncoder(eqx.Module):
    """Small learned encoder: an MLP per word (features + word position), masked mean, projection."""

    word_mlp: eqx.nn.MLP
    position: Float[Array, "w e"]
    out: eqx.nn.Linear

    def __init__(self, width: int, out_size: int, *, dtype=None, key: PRNGKeyArray):
        k1, k2, k3 = jax.random.split(key, 3)
        self.word_mlp = eqx.nn.MLP(WORD_FEATURES, width, width, 2, jax.nn.gelu, key=k1, dtype=dtype)
        self.position = 0.02 * jax.random.normal(k2, (MAX_WORDS, width), dtype)
        self.out = eqx.nn.Linear(width, out_size, key=k3, dtype=dtype)

    def __call__(self, features: Float[Array, "w f"], mask: Array) -> Float[Array, " d"]:
        h = jax.vmap(self.word_mlp)(features.astype(self.position.dtype)) + self.position
        m = mask.astype(h.dtype)[:, None]
        return self.out(jnp.sum(h * m, 0) / jnp.maximum(jnp.sum(m), 1.0))
