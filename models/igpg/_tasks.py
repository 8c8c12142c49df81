"""Tasks ("datasets") for IGPG: label-permuted and class-subset variants of a bundled image source.

Each task is its own labelled ``ImageSource`` with a name that says how it was made
(``digits``, ``digits~perm3``, ``digits~classes0-4``, ``digits~only0-2-5``), plus the split of its images into a
training pool and a test set (the same split ``models.zoo`` trains and scores with).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from models.zoo import ImageSource
from models.zoo._trained_zoo import split_train_test


@dataclasses.dataclass(frozen=True)
class Task:
    """A labelled image source and its fixed train/test split."""

    source: ImageSource
    test_fraction: float = 0.2
    split_seed: int = 0

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def n_classes(self) -> int:
        return self.source.n_classes

    def split(self) -> tuple[np.ndarray, np.ndarray]:
        return split_train_test(len(self.source), self.test_fraction, self.split_seed)

    def arrays(self, part: str) -> tuple[np.ndarray, np.ndarray]:
        """``(images [N, C, H, W], labels)`` of the ``"train"`` pool or the ``"test"`` set."""
        train, test = self.split()
        index = {"train": train, "test": test}[part]
        return np.transpose(self.source.images[index], (0, 3, 1, 2)), self.source.labels[index]

    def conditioning_images(self) -> tuple[np.ndarray, np.ndarray]:
        """NHWC images and labels of the training pool (what the dataset embedding may look at)."""
        train, _ = self.split()
        return self.source.images[train], self.source.labels[train]


def permuted(source: ImageSource, seed: int) -> Task:
    """The same images, labels relabelled by a fixed random permutation of the classes."""
    n = int(source.labels.max()) + 1
    perm = np.random.default_rng([seed, 7]).permutation(n)
    return Task(ImageSource(f"{source.name}~perm{seed}", source.images, perm[source.labels]))


def class_subset(source: ImageSource, classes: tuple[int, ...]) -> Task:
    """Only the images of ``classes``, relabelled ``0..len(classes)-1`` in the given order."""
    classes = tuple(int(c) for c in classes)
    if len(set(classes)) != len(classes) or len(classes) < 2:
        raise ValueError(f"a class subset needs at least two distinct classes, got {classes}")
    keep = np.isin(source.labels, classes)
    relabel = {c: i for i, c in enumerate(classes)}
    labels = np.array([relabel[int(c)] for c in source.labels[keep]], np.int64)
    name = f"{source.name}~classes{'-'.join(map(str, classes))}"
    return Task(ImageSource(name, source.images[keep], labels))


def classes_only(source: ImageSource, classes: tuple[int, ...]) -> Task:
    """Only the images of ``classes``, labels unchanged: a network keeps one output per class of the source.

    Tasks of this kind share what their labels mean, so a network for one subset partly
    solves another; a held-out subset asks a generator to combine what it saw.
    """
    classes = tuple(sorted({int(c) for c in classes}))
    n = source.n_classes
    if len(classes) < 2 or not all(0 <= c < n for c in classes):
        raise ValueError(f"a class subset needs at least two distinct classes in 0..{n - 1}, got {classes}")
    keep = np.isin(source.labels, classes)
    name = f"{source.name}~only{'-'.join(map(str, classes))}"
    return Task(ImageSource(name, source.images[keep], source.labels[keep], classes=n))


def subset_tasks(source: ImageSource, count: int, *, size: int, seed: int = 0) -> list[Task]:
    """``count`` distinct ``classes_only`` tasks of ``size`` classes each, drawn once from ``seed``."""
    n = source.n_classes
    if not 2 <= size <= n or count > math.comb(n, size):
        raise ValueError(f"cannot draw {count} distinct subsets of {size} of the {n} classes")
    rng, chosen = np.random.default_rng(seed), []
    while len(chosen) < count:
        classes = tuple(sorted(int(c) for c in rng.choice(n, size, replace=False)))
        if classes not in chosen:
            chosen.append(classes)
    return [classes_only(source, c) for c in chosen]


def identity_task(source: ImageSource) -> Task:
    return Task(source)
