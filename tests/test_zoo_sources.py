"""Image sources: bundled data, user arrays and folders, and clear errors for bad ones."""

import numpy as np
import pytest
from PIL import Image

from models.zoo import SourceError, load_source


def test_bundled_sources_have_their_documented_shapes():
    mnist = load_source("mnist5k")
    assert mnist.images.shape == (5000, 28, 28, 1) and mnist.images.dtype == np.float32
    assert np.bincount(mnist.labels).tolist() == [500] * 10
    assert mnist.images.min() == 0.0 and mnist.images.max() == 1.0
    digits = load_source("digits")
    assert digits.images.shape == (1797, 8, 8, 1) and digits.images.max() == 1.0
    assert digits.fingerprint() != mnist.fingerprint()


def test_npy_and_npz_arrays(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (6, 5, 4), dtype=np.uint8)
    np.save(tmp_path / "a.npy", pixels)
    source = load_source(tmp_path / "a.npy")
    np.testing.assert_array_equal(source.images[..., 0], pixels.astype(np.float32) / 255.0)
    assert (source.labels == -1).all()
    # The Keras layout of (Fashion-)MNIST: train then test, labels kept.
    np.savez(tmp_path / "k.npz", x_train=pixels[:4], y_train=np.arange(4), x_test=pixels[4:], y_test=np.array([7, 8]))
    keras = load_source(tmp_path / "k.npz")
    np.testing.assert_array_equal(keras.images, source.images)
    assert keras.labels.tolist() == [0, 1, 2, 3, 7, 8]
    np.savez(tmp_path / "rgb.npz", images=rng.uniform(size=(3, 4, 4, 3)).astype(np.float32), labels=[1, 2, 3])
    assert load_source(tmp_path / "rgb.npz").shape == (4, 4, 3)


def test_bad_arrays_are_refused_with_the_file_name(tmp_path):
    np.save(tmp_path / "big.npy", np.full((2, 4, 4), 200.0))
    with pytest.raises(SourceError, match=r"big.npy: float images range over \[200, 200\]; scale them"):
        load_source(tmp_path / "big.npy")
    np.save(tmp_path / "shape.npy", np.zeros((2, 4, 4, 7), np.uint8))
    with pytest.raises(SourceError, match="shape.npy: expected images of shape"):
        load_source(tmp_path / "shape.npy")
    np.savez(tmp_path / "keys.npz", foo=np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(SourceError, match=r"keys.npz: no image array found.*\['foo'\]"):
        load_source(tmp_path / "keys.npz")
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(SourceError, match="junk.npy: cannot read it"):
        load_source(tmp_path / "junk.npy")
    with pytest.raises(SourceError, match="unknown source 'mnist'"):
        load_source("mnist")


def test_image_folder_with_class_subfolders(tmp_path):
    rng = np.random.default_rng(1)
    pictures = {}
    for label in ("cat", "dog"):
        (tmp_path / label).mkdir()
        for i in range(2):
            pixels = rng.integers(0, 256, (5, 6), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / label / f"{i}.png")
            pictures[(label, i)] = pixels
    source = load_source(tmp_path)
    assert source.images.shape == (4, 5, 6, 1)
    assert source.labels.tolist() == [0, 0, 1, 1]  # sorted class folders, sorted files
    np.testing.assert_array_equal(source.images[2, ..., 0], pictures[("dog", 0)] / np.float32(255.0))
    Image.fromarray(np.zeros((3, 3), np.uint8)).save(tmp_path / "dog" / "small.png")
    with pytest.raises(SourceError, match="images differ in size"):
        load_source(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="empty: no image files"):
        load_source(tmp_path / "empty")
