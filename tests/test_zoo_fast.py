"""The zoo's fast SIREN path: polynomial sine, hand-written gradient, batched fits."""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from models.inr import siren_apply, siren_init
from models.inr._siren import siren_batch_value_and_grad
from models.inr._trig import sin, sincos
from models.zoo import fit_sirens, load_source, pixel_grid
from models.zoo._inr_zoo import fit_sirens_reference, network_seeds


@settings(deadline=None, max_examples=20)
@given(hnp.arrays(np.float32, (64,), elements=st.floats(-2000, 2000, width=32)))
def test_polynomial_sincos_matches_float64_sine_and_cosine(x):
    s, c = map(np.asarray, jax.jit(sincos)(jnp.asarray(x)))
    assert s.dtype == np.float32 and c.dtype == np.float32
    x64 = x.astype(np.float64)
    # float32 rounding of the result (6e-8) plus a reduction error that grows with |x|.
    bound = 1.2e-7 + 6e-11 * np.abs(x64)
    assert np.all(np.abs(s - np.sin(x64)) <= bound)
    assert np.all(np.abs(c - np.cos(x64)) <= bound)
    # Negative check: sine and cosine are not swapped in any quadrant.
    far = np.abs(np.sin(x64) - np.cos(x64)) > 1e-3
    assert not np.any(np.abs(s - np.cos(x64))[far] <= bound[far])


def test_sine_derivative_is_the_cosine():
    x = jnp.linspace(-50.0, 50.0, 1001, dtype=jnp.float32)
    derivative = jax.vmap(jax.grad(sin))(x)
    np.testing.assert_allclose(np.asarray(derivative), np.cos(np.asarray(x, np.float64)), atol=2e-7)


def _batch(key, sizes=(2, 32, 32, 1), b=3, p=37):
    keys = jax.random.split(key, b + 2)
    params = jax.vmap(lambda k: siren_init(k, sizes, dtype=jnp.float32))(keys[:b])
    coords = jax.random.uniform(keys[b], (p, sizes[0]), jnp.float32, -1.0, 1.0)
    targets = jax.random.uniform(keys[b + 1], (b, p, sizes[-1]), jnp.float32, -1.0, 1.0)
    return params, coords, targets


def _reference_loss(params, coords, targets, omega0=30.0):
    out = jax.vmap(lambda c: siren_apply(params, c, omega0=omega0))(coords)
    return jnp.mean((out - targets) ** 2)


_reference = jax.jit(jax.vmap(jax.value_and_grad(_reference_loss), (0, None, 0)))


def test_hand_written_gradient_equals_autodiff(key):
    for sizes in ((2, 32, 32, 1),):  # the zoo's shape
        params, coords, targets = _batch(key, sizes)
        loss, grads = jax.jit(siren_batch_value_and_grad)(params, coords, targets)
        ref_loss, ref_grads = _reference(params, coords, targets)
        np.testing.assert_allclose(np.asarray(loss), np.asarray(ref_loss), rtol=2e-5)
        for ours, theirs in zip(jax.tree.leaves(grads), jax.tree.leaves(ref_grads)):
            scale = float(jnp.max(jnp.abs(theirs)))
            assert scale > 0
            np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), atol=2e-4 * scale, rtol=0)
    # Negative check: the same comparison separates the gradient at other targets.
    params, coords, targets = _batch(key)
    _, grads = siren_batch_value_and_grad(params, coords, targets)
    _, other = _reference(params, coords, -targets)
    assert not np.allclose(np.asarray(grads[1][0]), np.asarray(other[1][0]), atol=1e-3)


def test_fast_zoo_fit_reaches_the_reference_psnr():
    digits = load_source("digits")
    images = digits.images[:4]
    seeds = network_seeds(0, range(4))
    kwargs = dict(sizes=(2, 32, 32, 1), omega0=30.0, steps=60, lr=5e-3, schedule="cosine")
    params, start, end = fit_sirens(seeds, images, **kwargs)
    ref_params, ref_start, ref_end = fit_sirens_reference(seeds, images, **kwargs)
    np.testing.assert_allclose(np.asarray(start), np.asarray(ref_start), atol=1e-3)  # same initialisation
    assert np.all(np.asarray(end) > np.asarray(start) + 20.0)
    np.testing.assert_allclose(np.asarray(end), np.asarray(ref_end), atol=0.1)
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(params))
    # The recorded PSNR is the stored weights' own, rendered independently.
    coords = pixel_grid(8, 8)
    one = jax.tree.map(lambda a: a[1], params)
    out = jax.vmap(lambda c: siren_apply(one, c, omega0=30.0))(coords).reshape(8, 8, 1)
    own = 10 * np.log10(1.0 / np.mean((np.asarray((out + 1) / 2, np.float64) - images[1]) ** 2))
    np.testing.assert_allclose(own, float(end[1]), atol=0.05)
    # Bit-for-bit reproducible for a fixed seed.
    again = fit_sirens(seeds, images, **kwargs)
    for a, b in zip(jax.tree.leaves(again[0]), jax.tree.leaves(params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_shard_is_never_larger_than_the_zoo(tmp_path):
    import json

    from models.zoo import InrZooConfig, build_inr_zoo

    config = InrZooConfig(steps=5, limit=3, shard_size=1024)
    zoo = build_inr_zoo(load_source("digits"), tmp_path / "z", config, progress=False)
    assert len(zoo) == 3
    assert json.loads((tmp_path / "z" / "manifest.json").read_text())["shard_size"] == 3
    # Negative check: a shard size below the work is kept as given.
    small = build_inr_zoo(load_source("digits"), tmp_path / "s", InrZooConfig(steps=5, limit=3, shard_size=2),
                          progress=False)
    assert len(small) == 3 and json.loads((tmp_path / "s" / "manifest.json").read_text())["shard_size"] == 2


def test_fit_in_many_chunks_is_bit_identical_to_one_chunk():
    digits = load_source("digits")
    seeds, images = network_seeds(0, range(3)), digits.images[:3]
    kwargs = dict(sizes=(2, 16, 1), omega0=30.0, steps=7, lr=5e-3, schedule="cosine")
    chunks_many, chunks_few = [], []
    many = fit_sirens(seeds, images, **kwargs, on_steps=lambda k, total: chunks_many.append((k, total)),
                      seconds_per_update=1e-12)
    few = fit_sirens(seeds, images, **kwargs, on_steps=lambda k, total: chunks_few.append((k, total)),
                     seconds_per_update=1e12)
    assert chunks_many == [(1, 7)] * 7 and chunks_few == [(1, 7), (6, 7)]  # the first chunk compiles, then as long as allowed
    for a, b in zip(jax.tree.leaves(many), jax.tree.leaves(few)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # Negative check: one step fewer is a different fit, so the comparison can see a lost chunk.
    short = fit_sirens(seeds, images, **{**kwargs, "steps": 6})
    assert not np.array_equal(np.asarray(short[2]), np.asarray(few[2]))
