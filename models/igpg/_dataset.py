"""Dataset embeddings: per-class means of a frozen encoder's features over 5 images per class.

The frozen encoder is a fixed random-feature CNN (two 3x3 random convolutions with ReLU,
2x2 average pooling between them, global average pooling), drawn once from seed 0 and never
trained. Why random features: they cost nothing to build, are identical in every process
(no pretraining run to reproduce or ship), and random ReLU features of this kind separate
digit classes well enough to tell tasks apart. A task is summarised by its class
prototypes *in label order*, so a label-permuted task has the same images but a different
embedding; the learned part (``DatasetEncoder``) reads each prototype with its label index.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

MAX_CLASSES = 10
FEATURES = 64
IMAGES_PER_CLASS = 5


def _frozen_filters():
    rng = np.random.default_rng(0)
    w1 = rng.standard_normal((32, 1, 3, 3)) / 3.0
    w2 = rng.standard_normal((FEATURES, 32, 3, 3)) / np.sqrt(32 * 9)
    return w1, w2


def frozen_features(images: Float[np.ndarray, "n h w c"]) -> Float[np.ndarray, "n f"]:
    """Features of the frozen random CNN for images ``[N, H, W, C]`` in [0, 1] (colour is averaged to grey)."""
    images = np.asarray(images, np.float64)
    if images.ndim != 4:
        raise ValueError(f"images must be [N, H, W, C], got shape {images.shape}")
    w1, w2 = _frozen_filters()
    x = jnp.asarray(images.mean(-1, keepdims=True).transpose(0, 3, 1, 2) - 0.5, jnp.float32)
    conv = lambda h, w: jax.lax.conv_general_dilated(h, jnp.asarray(w, jnp.float32), (1, 1), "SAME")
    h = jax.nn.relu(conv(x, w1))
    if min(h.shape[2:]) >= 2:
        h = jax.lax.reduce_window(h, 0.0, jax.lax.add, (1, 1, 2, 2), (1, 1, 2, 2), "VALID") / 4.0
    h = jax.nn.relu(conv(h, w2))
    return np.asarray(jnp.mean(h, axis=(2, 3)), np.float64)


def class_prototypes(
    images: np.ndarray, labels: np.ndarray, n_classes: int, *, per_class: int = IMAGES_PER_CLASS, seed: int = 0
) -> tuple[Float[np.ndarray, "c f"], np.ndarray]:
    """``[MAX_CLASSES, FEATURES]`` mean frozen features of ``per_class`` images of each class, and the class mask.

    A class with no images at all (a subset task) is masked out; one with some, but fewer
    than ``per_class``, is an error."""
    labels = np.asarray(labels)
    if not 1 <= n_classes <= MAX_CLASSES:
        raise ValueError(f"a task has 1..{MAX_CLASSES} classes, got {n_classes}")
    rng = np.random.default_rng(seed)
    protos = np.zeros((MAX_CLASSES, FEATURES))
    present = np.zeros(MAX_CLASSES, bool)
    for c in range(n_classes):
        members = np.flatnonzero(labels == c)
        if len(members) == 0:
            continue
        present[c] = True
        if len(members) < per_class:
            raise ValueError(f"class {c} has {len(members)} images; the dataset embedding needs {per_class} per class")
        protos[c] = frozen_features(np.asarray(images)[rng.choice(members, per_class, replace=False)]).mean(0)
    return protos, present


class DatasetEncoder(eqx.Module):
    """Learned: an MLP on (prototype, one-hot label, present) per class, then a projection.

    ``class_tokens`` keeps one vector per class (absent classes included, marked by the
    presence bit), so a prior can attend to the class a weight belongs to; ``__call__``
    pools the present classes' vectors into one task embedding."""

    class_mlp: eqx.nn.MLP
    out: eqx.nn.Linear

    def __init__(self, width: int, out_size: int, *, dtype=None, key: PRNGKeyArray):
        k1, k2 = jax.random.split(key)
        self.class_mlp = eqx.nn.MLP(FEATURES + MAX_CLASSES + 1, width, width, 2, jax.nn.gelu, key=k1, dtype=dtype)
        self.out = eqx.nn.Linear(width, out_size, key=k2, dtype=dtype)

    def class_tokens(self, prototypes: Float[Array, "c f"], mask: Array) -> Float[Array, "c d"]:
        dtype = self.out.weight.dtype
        present = mask.astype(dtype)[:, None]
        x = jnp.concatenate([prototypes.astype(dtype), jnp.eye(MAX_CLASSES, dtype=dtype), present], axis=-1)
        return jax.vmap(lambda v: self.out(self.class_mlp(v)))(x)

    @staticmethod
    def pool(tokens: Float[Array, "c d"], mask: Array) -> Float[Array, " d"]:
        """The mean of the present classes' tokens."""
        m = mask.astype(tokens.dtype)[:, None]
        return jnp.sum(tokens * m, 0) / jnp.maximum(jnp.sum(m), 1.0)

    def __call__(self, prototypes: Float[Array, "c f"], mask: Array) -> Float[Array, " d"]:
        return self.pool(self.class_tokens(prototypes, mask), mask)
