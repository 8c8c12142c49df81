"""Loaders: the coordinate grid matches the image layout; Kodak and audio follow the protocols."""

import jax.numpy as jnp
import numpy as np
import pytest

from models.inr import as_targets, digits, grid, lfw_faces, load_audio, load_kodak, skimage_photos, to_pm1


def test_grid_layout():
    g = np.asarray(grid(2, 3))
    # row-major: x runs along a row, y down the rows, both in [-1, 1]
    np.testing.assert_array_equal(g, [[-1, -1], [0, -1], [1, -1], [-1, 1], [0, 1], [1, 1]])
    img = np.arange(2 * 3 * 1, dtype=float).reshape(1, 2, 3, 1)
    coords, t = as_targets(img)
    assert t.shape == (1, 6, 1) and t.dtype == coords.dtype
    assert float(t[0, 4, 0]) == img[0, 1, 1, 0]  # pixel (row 1, col 1) sits at coords (0, 1)
    np.testing.assert_array_equal(np.asarray(coords[4]), [0.0, 1.0])


def test_packaged_images():
    f = lfw_faces(2, 32)
    assert f.shape == (2, 32, 32, 1) and f.min() == 0.0 and f.max() == 1.0
    d = digits(3, 16)
    assert d.shape == (3, 16, 16, 1) and 0.0 <= d.min() and d.max() <= 1.0
    p = skimage_photos(24, names=("astronaut",))
    assert p.shape == (1, 24, 24, 3)
    assert to_pm1(np.array([0.0, 1.0])).tolist() == [-1.0, 1.0]
    with pytest.raises(ValueError, match="faces"):
        lfw_faces(10, 8, start=95)


def test_missing_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_kodak(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no Kodak images"):
        load_kodak(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_audio(tmp_path / "x.wav")


@pytest.mark.data
def test_kodak_protocol(shared_data):
    imgs = load_kodak(shared_data / "kodak", names=["kodim01", "kodim04"])
    assert imgs.shape == (2, 128, 128, 3)  # landscape and portrait both end as 128² centre crops
    assert 0.0 <= imgs.min() and imgs.max() <= 1.0


@pytest.mark.data
def test_audio_protocol(shared_data):
    coords, amp = load_audio(shared_data / "audio" / "gt_bach.wav")
    assert coords.shape == amp.shape and coords.shape[1] == 1
    assert coords[0, 0] == -100.0 and coords[-1, 0] == 100.0
    assert np.max(np.abs(amp)) == 1.0


@pytest.mark.parametrize("x64", [False, True])
def test_loaders_return_the_dtype_of_the_grid(x64):
    """A loaded image and `grid` fit together as they come, with or without jax_enable_x64
    (before, photos were float64 and the grid float32 for every user)."""
    import jax

    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", x64)
    try:
        want = grid(2, 2).dtype
        assert want == (jnp.float64 if x64 else jnp.float32)
        for images in (skimage_photos(8, names=("astronaut",)), lfw_faces(1, 8), digits(1, 8)):
            assert images.dtype == want
        assert skimage_photos(8, names=("astronaut",), dtype=np.float64).dtype == np.float64
    finally:
        jax.config.update("jax_enable_x64", before)
