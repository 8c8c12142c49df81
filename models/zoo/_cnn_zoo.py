"""The small-CNN zoo, for predicting generalisation from weights (Small-CNN-Zoo shape).

Every network is 3 conv layers (3x3, same padding, stride 1) with an activation, global
average pooling, and a dense layer to the classes. The hyperparameters, the vmapped
training, the checkpoints and the storage are those of every trained zoo
(``models.zoo._trained_zoo``); this module is the CNN's shapes and forward pass.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax.numpy as jnp

from models.zoo._sources import ImageSource
from models.zoo._storage import Zoo
from models.zoo._trained_zoo import (  # noqa: F401  (re-exported: the names this module always had)
    ACTIVATIONS,
    HYPERPARAMETERS,
    TrainedZooConfig,
    activate,
    build_trained_zoo,
    checkpoint_steps,
    draw_hyperparameters,
    drop,
    he_init,
    labelled_classes,
    split_train_test,
    train_networks,
)

cnn_init = he_init  # He-normal weights times init_scale, zero biases (fan-in: in-channels · k · k)


@dataclasses.dataclass(frozen=True)
class CnnZooConfig(TrainedZooConfig):
    """``channels``: the convolutions' widths; every other field is ``TrainedZooConfig``'s."""

    channels: tuple[int, ...] = (16, 16, 16)

    def __post_init__(self):
        super().__post_init__()
        self._check_widths("channels")


def cnn_shapes(in_channels: int, channels, n_classes: int, kernel_size: int = 3):
    widths = (in_channels, *channels)
    convs = [((o, i, kernel_size, kernel_size), (o,)) for i, o in zip(widths[:-1], widths[1:])]
    return [*convs, ((n_classes, widths[-1]), (n_classes,))]


def _conv_same(images, W):
    """Same-padding, stride-1 cross-correlation of NHWC ``images`` with an OIHW kernel, as one matmul.

    The k*k shifted views of the padded images are concatenated along channels and
    multiplied by the kernel laid out to match. Under vmap over networks this is a batched
    matmul with the channels innermost: about 2x faster on CPU than
    ``conv_general_dilated_patches`` (a convolution with a one-hot kernel, k*k times the
    work) and than the grouped convolution a vmapped ``conv_general_dilated`` lowers to.
    """
    kh, kw = W.shape[-2:]
    height, width = images.shape[1:3]
    padded = jnp.pad(images, ((0, 0), (kh // 2, (kh - 1) // 2), (kw // 2, (kw - 1) // 2), (0, 0)))
    views = [padded[:, i : i + height, j : j + width, :] for i in range(kh) for j in range(kw)]
    kernel = jnp.transpose(W, (2, 3, 1, 0)).reshape(-1, W.shape[0])  # rows (i, j, c), as the views
    return jnp.concatenate(views, axis=-1) @ kernel


def cnn_logits(params, images, activation, *, dropout=None, key=None):
    """Logits ``[N, classes]`` of NHWC images ``[N, H, W, C]``; dropout (rate, key) on conv features if given."""
    h = images
    for layer, (W, b) in enumerate(params[:-1]):
        h = drop(activate(_conv_same(h, W) + b, activation), layer, dropout, key)
    W, b = params[-1]
    return jnp.mean(h, axis=(1, 2)) @ W.T + b


def cnn_apply(params, image, activation: str):
    """One image ``[C, H, W]`` to logits: the forward pass of ``symm.WeightSpace.cnn``."""
    return cnn_logits(params, jnp.transpose(image, (1, 2, 0))[None], ACTIVATIONS.index(activation))[0]


def train_cnns(seeds, hyper, train_x, train_y, test_x, test_y, **options):
    """``train_networks`` with the CNN forward pass, on NHWC images (see there for ``options``)."""
    return train_networks(cnn_logits, seeds, hyper, train_x, train_y, test_x, test_y, **options)


def cnn_architecture(config: CnnZooConfig, source: ImageSource, n_classes: int) -> dict:
    return {"type": "cnn", "channels": [source.shape[2], *config.channels], "dense": [n_classes], "kernel_size": 3,
            "activations": list(config.activations), "dropout": "channel"}


def build_cnn_zoo(
    source: ImageSource, out: str | Path, config: CnnZooConfig = CnnZooConfig(), *, progress: bool = True
) -> Zoo:
    """Train the zoo into ``out`` (resuming whatever is already there) and load it.

    The networks are split 50% test, then 80/20 train/val (the Small-CNN-Zoo protocol
    ScaleGMN uses), by ``split_seed``; ``train_accuracy`` is measured on the whole
    training pool, of which each network saw only its ``train_fraction``.

    Records: the hyperparameters (``lr``, ``weight_decay``, ``init_scale``, ``dropout``,
    ``train_fraction``, ``steps``, ``activation`` as an index into the manifest's list),
    ``seed``, ``test_accuracy`` / ``train_accuracy`` (final), their values at every
    checkpoint (``*_accuracy_ckpt`` ``[K]``), ``checkpoint_step`` ``[K]``, and
    ``zoo.checkpoints`` (weights ``[N, K, ...]``).
    """
    n_classes = labelled_classes(source, "CNN")
    return build_trained_zoo(
        source, out, config, kind="cnn", unit="CNN", architecture=cnn_architecture(config, source, n_classes),
        shapes=cnn_shapes(source.shape[2], config.channels, n_classes), logits=cnn_logits,
        inputs=lambda images: images, progress=progress,  # NHWC, as sources hold them
    )
