"""The small-MLP zoo: dense networks on flattened images (e.g. digits 8x8 → 32 → 10).

The hyperparameters, the vmapped training, the checkpoints and the storage are those of
every trained zoo (``models.zoo._trained_zoo``, shared with the CNN zoo); this module is
the MLP's shapes and forward pass. Images ``[H, W, C]`` are flattened in ``[C, H, W]``
order, the order ``symm.WeightSpace.mlp`` networks read an image in throughout ``models``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from models.zoo._sources import ImageSource
from models.zoo._storage import Zoo
from models.zoo._trained_zoo import (
    ACTIVATIONS,
    TrainedZooConfig,
    activate,
    build_trained_zoo,
    drop,
    labelled_classes,
    train_networks,
)


@dataclasses.dataclass(frozen=True)
class MlpZooConfig(TrainedZooConfig):
    """``hidden``: the hidden layers' widths (at least one); every other field is ``TrainedZooConfig``'s."""

    hidden: tuple[int, ...] = (32,)

    def __post_init__(self):
        super().__post_init__()
        self._check_widths("hidden")


def flatten_images(images: Float[np.ndarray, "n h w c"]) -> Float[np.ndarray, "n d"]:
    """NHWC images to MLP inputs ``[N, C·H·W]``, in ``[C, H, W]`` order."""
    images = np.asarray(images)
    return np.transpose(images, (0, 3, 1, 2)).reshape(images.shape[0], -1)


def mlp_shapes(sizes) -> list:
    return [((o, i), (o,)) for i, o in zip(sizes[:-1], sizes[1:])]


def mlp_logits(params, x, activation, *, dropout=None, key=None):
    """Logits ``[N, classes]`` of inputs ``[N, D]``; dropout (rate, key) on hidden features if given."""
    h = x
    for layer, (W, b) in enumerate(params[:-1]):
        h = drop(activate(h @ W.T + b, activation), layer, dropout, key)
    W, b = params[-1]
    return h @ W.T + b


def mlp_apply(params, x: Float[Array, "..."], activation: str) -> Float[Array, " classes"]:
    """One input (flat ``[D]``, or an image ``[C, H, W]``) to logits: the forward pass of ``symm.WeightSpace.mlp``."""
    return mlp_logits(params, jnp.ravel(x)[None], ACTIVATIONS.index(activation))[0]


def train_mlps(seeds, hyper, train_x, train_y, test_x, test_y, **options):
    """``train_networks`` with the MLP forward pass, on flat inputs ``[N, D]`` (see there for ``options``)."""
    return train_networks(mlp_logits, seeds, hyper, train_x, train_y, test_x, test_y, **options)


def build_mlp_zoo(
    source: ImageSource, out: str | Path, config: MlpZooConfig = MlpZooConfig(), *, progress: bool = True
) -> Zoo:
    """Train the zoo into ``out`` (resuming whatever is already there) and load it.

    Splits and records are those of ``build_cnn_zoo``; ``zoo.weight_space()`` is
    ``symm.WeightSpace.mlp((C·H·W, *hidden, classes), activation)``.
    """
    n_classes = labelled_classes(source, "MLP")
    h, w, c = source.shape
    sizes = [h * w * c, *config.hidden, n_classes]
    return build_trained_zoo(
        source, out, config, kind="mlp", unit="MLP",
        architecture={"type": "mlp", "sizes": sizes, "activations": list(config.activations)},
        shapes=mlp_shapes(sizes), logits=mlp_logits, inputs=flatten_images, progress=progress,
    )
