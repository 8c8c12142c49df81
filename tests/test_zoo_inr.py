"""The SIREN INR zoo: fitting quality, records, splits, determinism, storage errors."""

import importlib.util
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models.inr import siren_apply, siren_init
from models.zoo._sources import select_images
from models.zoo import InrZooConfig, Zoo, ZooFormatError, build_inr_zoo, load_source, load_zoo, pixel_grid, reconstruct

# Shared with tests/test_zoo_resume.py so both reuse one compilation.
CONFIG = InrZooConfig(steps=60, limit=12, augment=2, shard_size=2, split=(0.5, 0.25, 0.25))


@pytest.fixture(scope="module")
def digits():
    return load_source("digits")


@pytest.fixture(scope="module")
def zoo(digits, tmp_path_factory) -> Zoo:
    return build_inr_zoo(digits, tmp_path_factory.mktemp("inr") / "zoo", CONFIG, progress=False)


def _psnr01(params, image):
    """PSNR of one INR against its [0, 1] image, computed independently of the zoo code."""
    h, w, _ = image.shape
    coords = pixel_grid(h, w)
    out = jax.vmap(lambda c: siren_apply(params, c, omega0=30.0))(coords).reshape(h, w, -1)
    mse01 = jnp.mean(((out + 1.0) / 2.0 - image) ** 2)
    return 10.0 * jnp.log10(1.0 / mse01)


@jax.jit
def _fitted_and_initial_psnr(params, seeds, images):
    initial = jax.vmap(lambda s: siren_init(jax.random.key(s), (2, 32, 32, 1), dtype=jnp.float32))(seeds)
    return jax.vmap(_psnr01)(params, images), jax.vmap(_psnr01)(initial, images)


def test_fitted_inrs_reconstruct_better_than_initialisation(zoo, digits):
    assert len(zoo) == 24
    images = jnp.asarray(digits.images[zoo["source_index"]])
    fitted_psnr, initial_psnr = map(np.asarray, _fitted_and_initial_psnr(zoo.params, zoo["seed"], images))
    assert np.all(fitted_psnr > initial_psnr + 20.0)
    # The recorded PSNRs are the real ones of the stored weights and of the seed's initialisation.
    np.testing.assert_allclose(zoo["psnr"], fitted_psnr, rtol=1e-3)
    np.testing.assert_allclose(zoo["psnr_init"], initial_psnr, rtol=1e-4)


def test_inr_of_another_image_reconstructs_worse(zoo, digits):
    # Negative check: the PSNR measure separates the right image from a different digit.
    own = digits.images[zoo["source_index"]]
    other = digits.images[(zoo["source_index"] + 1) % len(digits)]  # each INR against the next image
    psnr_own, _ = _fitted_and_initial_psnr(zoo.params, zoo["seed"], jnp.asarray(own))
    psnr_other, _ = _fitted_and_initial_psnr(zoo.params, zoo["seed"], jnp.asarray(other))
    assert np.all(np.asarray(psnr_own) > np.asarray(psnr_other) + 20.0)


def test_records_follow_the_source(zoo, digits):
    chosen = select_images(digits, CONFIG.limit, CONFIG.split_seed)[0]  # the stratified subset of 12 images
    np.testing.assert_array_equal(zoo["source_index"], np.repeat(chosen, 2))
    assert zoo.generator["images"]["n"] == 12
    np.testing.assert_array_equal(zoo["copy"], np.tile([0, 1], 12))
    np.testing.assert_array_equal(zoo["label"], digits.labels[zoo["source_index"]])
    # Augmented refits start from different seeds and land on different weights.
    assert len(set(zoo["seed"].tolist())) == 24
    assert not np.array_equal(zoo.arrays["W0"][0], zoo.arrays["W0"][1])


def test_splits_are_disjoint_cover_all_and_keep_refits_together(zoo, digits):
    sources = {name: set(zoo.split(name)["source_index"].tolist()) for name in ("train", "val", "test")}
    assert sources["train"].isdisjoint(sources["val"]) and sources["train"].isdisjoint(sources["test"])
    assert sources["val"].isdisjoint(sources["test"])
    assert set().union(*sources.values()) == set(select_images(digits, 12, CONFIG.split_seed)[0].tolist())
    assert [len(sources[s]) for s in ("train", "val", "test")] == [6, 3, 3]
    assert sum(len(zoo.split(s)) for s in ("train", "val", "test")) == len(zoo)
    with pytest.raises(ValueError, match="split must be one of"):
        zoo.split("validation")


def test_same_seed_is_bit_identical_and_another_seed_is_not(zoo, digits, tmp_path):
    again = build_inr_zoo(digits, tmp_path / "again", CONFIG, progress=False)
    assert set(again.arrays) == set(zoo.arrays)
    for name in zoo.arrays:
        np.testing.assert_array_equal(again.arrays[name], zoo.arrays[name], err_msg=name)
    other = build_inr_zoo(digits, tmp_path / "other", InrZooConfig(**{**CONFIG.__dict__, "seed": 1}), progress=False)
    assert not np.array_equal(other.arrays["W1"], zoo.arrays["W1"])
    # Splits are fixed by split_seed, not by the fitting seed.
    np.testing.assert_array_equal(other["split"], zoo["split"])


def test_loader_round_trips_into_the_weight_space(zoo, digits):
    loaded = load_zoo(zoo.directory)
    for name in zoo.arrays:
        np.testing.assert_array_equal(loaded.arrays[name], zoo.arrays[name])
    assert [tuple(w.shape) for w, _ in loaded.params] == [(24, 32, 2), (24, 32, 32), (24, 1, 32)]
    assert all(w.dtype == jnp.float32 for w, _ in loaded.params)
    space = loaded.weight_space()
    one = jax.tree.map(lambda a: a[3], loaded.params)
    space.validate(one)
    coords = pixel_grid(8, 8)
    ours = jax.vmap(lambda c: siren_apply(one, c, omega0=30.0))(coords)
    theirs = jax.vmap(lambda c: space.apply(one, c))(coords)
    np.testing.assert_allclose(np.asarray(theirs), np.asarray(ours), rtol=1e-5, atol=1e-5)
    images = reconstruct(loaded, [3], 8, 8)
    np.testing.assert_allclose(images[0], np.clip((np.asarray(ours).reshape(8, 8, 1) + 1) / 2, 0, 1), atol=1e-6)


def _copy(zoo, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(zoo.directory, target)
    return target


def test_truncated_shard_is_reported_by_name(zoo, tmp_path):
    directory = _copy(zoo, tmp_path)
    shard = directory / "shard-00003.npz"
    shard.write_bytes(shard.read_bytes()[:200])
    with pytest.raises(ZooFormatError, match="shard-00003.npz: corrupt shard"):
        load_zoo(directory)
    # Resuming refuses to skip over it too.
    with pytest.raises(ZooFormatError, match="shard-00003.npz"):
        build_inr_zoo(load_source("digits"), directory, CONFIG, progress=False)


def test_bit_flip_in_shard_is_detected(zoo, tmp_path):
    directory = _copy(zoo, tmp_path)
    shard = directory / "shard-00001.npz"
    data = bytearray(shard.read_bytes())
    data[len(data) // 3] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(ZooFormatError, match="shard-00001.npz"):
        load_zoo(directory)


def test_missing_shard_and_foreign_shard_are_reported(zoo, tmp_path):
    directory = _copy(zoo, tmp_path)
    (directory / "shard-00005.npz").unlink()
    with pytest.raises(ZooFormatError, match="shard-00005.npz: shard missing"):
        load_zoo(directory)
    assert len(load_zoo(directory, allow_partial=True)) == 22
    np.savez(directory / "shard-00005.npz", W0=np.zeros((2, 32, 2), np.float32))
    with pytest.raises(ZooFormatError, match="shard-00005.npz: holds arrays"):
        load_zoo(directory)


def test_resuming_with_other_settings_is_refused(zoo, digits, tmp_path):
    directory = _copy(zoo, tmp_path)
    with pytest.raises(ZooFormatError, match=r"steps: 60 on disk vs 61 now"):
        build_inr_zoo(digits, directory, InrZooConfig(**{**CONFIG.__dict__, "steps": 61}), progress=False)
    (directory / "manifest.json").write_text("{not json")
    with pytest.raises(ZooFormatError, match="manifest.json: corrupt manifest"):
        load_zoo(directory)


def test_bad_configurations_are_refused():
    with pytest.raises(ValueError, match="schedule must be one of"):
        InrZooConfig(schedule="linear")
    with pytest.raises(ValueError, match="summing to 1"):
        InrZooConfig(split=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="must all be >= 1"):
        InrZooConfig(steps=0)


def test_build_zoo_example_runs_and_plots(tmp_path):
    path = Path(__file__).resolve().parents[1] / "examples" / "build_zoo.py"
    spec = importlib.util.spec_from_file_location("zoo_example_build_zoo", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    # The sizes of CONFIG above, so the compiled fit is shared; the CNN part has its own tests.
    result = example.main(tmp_path, source="digits", images=12, steps=60, augment=2, shard_size=2, cnns=0)
    assert len(result["inr"]) == 24 and np.all(result["inr"]["psnr"] > result["inr"]["psnr_init"])
    assert (tmp_path / "inr.png").stat().st_size > 1000


def test_weight_space_activation_follows_omega0(digits, key):
    import symm

    from models.zoo._inr_zoo import inr_generator

    arch = inr_generator(InrZooConfig(omega0=15.0), digits)["architecture"]
    assert arch["activations"] == ["sin(15)"]
    space = symm.WeightSpace.mlp(tuple(arch["sizes"]), arch["activations"][0])
    params = siren_init(key, (2, 32, 32, 1), omega0=15.0)
    x = jnp.array([0.3, -0.7])
    np.testing.assert_allclose(np.asarray(space.apply(params, x)), np.asarray(siren_apply(params, x, omega0=15.0)),
                               rtol=1e-12, atol=1e-12)
    # Negative check: the default ω0 = 30 space is a different function.
    other = symm.WeightSpace.mlp(tuple(arch["sizes"]), "sin")
    assert not np.allclose(np.asarray(other.apply(params, x)), np.asarray(siren_apply(params, x, omega0=15.0)))


def test_a_zoo_that_will_take_hours_says_so_after_its_first_shard(digits, tmp_path, capsys, monkeypatch):
    from models import _progress

    build_inr_zoo(digits, tmp_path / "quick", CONFIG, progress=True)
    err = capsys.readouterr().err
    assert "INR zoo of digits" in err and "hours" not in err  # a named bar, and no warning for a quick zoo
    monkeypatch.setattr(_progress, "LONG_RUN_SECONDS", 1e-9)
    build_inr_zoo(digits, tmp_path / "slow", CONFIG, progress=True)
    assert "INR zoo of digits: about" in capsys.readouterr().err


def test_zoo_bar_moves_within_a_shard_and_lands_on_whole_counts(digits, tmp_path, monkeypatch):
    from models.zoo import _inr_zoo

    seen = []

    def recording(bar, units):
        advance = real(bar, units)

        def on_steps(k, total):
            advance(k, total)
            seen.append(bar.n)

        return on_steps

    real = _inr_zoo.advance_by_steps
    monkeypatch.setattr(_inr_zoo, "advance_by_steps", recording)
    config = InrZooConfig(steps=4, limit=6, shard_size=4, seed=3)
    build_inr_zoo(digits, tmp_path / "z", config, progress=True)
    # Each shard's first chunk is one step (it compiles); later chunks follow the measured speed.
    # Shard one (4 INRs) moves 1 of 4 after its first step and lands on 4; shard two (2 INRs) moves
    # to 4.5 and lands on 6.
    assert seen[0] == 1.0 and 4.5 in seen and seen == sorted(seen)
    assert seen[seen.index(4.5) - 1] == 4 and seen[-1] == 6
    assert all(isinstance(n, int) for n in (seen[seen.index(4.5) - 1], seen[-1]))
