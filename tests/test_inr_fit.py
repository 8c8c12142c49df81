"""The fitting routine: in-graph PSNR trajectory, chunking, resuming, and input checks."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from models.inr import fit, psnr_01, psnr_pm1, siren


def _data(n=6):
    g = jnp.linspace(-1.0, 1.0, n)
    X, Y = jnp.meshgrid(g, g, indexing="ij")
    coords = jnp.stack([X.ravel(), Y.ravel()], -1)
    return coords, jnp.stack([jnp.sin(2 * X + Y)], -1).reshape(-1, 1)


def test_trajectory_recorded_in_graph(key):
    coords, y = _data()
    model = siren((2, 16, 1), key=key)
    out = fit(model, coords, y, optimizer=optax.adam(1e-3), steps=40, record_every=10, progress=False)
    np.testing.assert_array_equal(out.trajectory.steps, [0, 10, 20, 30, 40])
    final = float(psnr_pm1(jax.vmap(out.model)(coords), y))
    assert out.trajectory.metric[-1] == pytest.approx(final, rel=1e-12)
    assert out.trajectory.loss[0] == pytest.approx(float(jnp.mean((jax.vmap(model)(coords) - y) ** 2)), rel=1e-12)
    # the other convention is used when asked for
    out01 = fit(model, coords, y, optimizer=optax.adam(1e-3), steps=10, record_every=10, metric=psnr_01, progress=False)
    assert out01.trajectory.metric[0] == pytest.approx(float(psnr_01(jax.vmap(model)(coords), y)), rel=1e-12)


def test_chunking_does_not_change_the_fit(key):
    coords, y = _data()
    model = siren((2, 16, 1), key=key)
    a = fit(model, coords, y, optimizer=optax.adam(1e-3), steps=40, record_every=10, steps_per_chunk=40, progress=False)
    b = fit(model, coords, y, optimizer=optax.adam(1e-3), steps=40, record_every=10, steps_per_chunk=10, progress=False)
    np.testing.assert_allclose(a.trajectory.metric, b.trajectory.metric, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(a.model.layers[0].weight), np.asarray(b.model.layers[0].weight), rtol=1e-10)


def test_resume_from_checkpoint(key, tmp_path):
    coords, y = _data()
    model = siren((2, 16, 1), key=key)
    opt = optax.adam(1e-3)
    full = fit(model, coords, y, optimizer=opt, steps=40, record_every=10, steps_per_chunk=20, progress=False)
    ckpt = tmp_path / "fit.eqx"
    first = fit(model, coords, y, optimizer=opt, steps=20, record_every=10, checkpoint=ckpt, progress=False)
    assert ckpt.exists() and first.trajectory.steps[-1] == 20
    # One atomic unit: the checkpoint is a single file, with no sibling or leftover temporary.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit.eqx"]
    resumed = fit(model, coords, y, optimizer=opt, steps=40, record_every=10, steps_per_chunk=20,
                  checkpoint=ckpt, progress=False)
    np.testing.assert_array_equal(resumed.trajectory.steps, full.trajectory.steps)
    np.testing.assert_allclose(resumed.trajectory.metric, full.trajectory.metric, rtol=1e-10)
    # negative: starting again from the initial model (no checkpoint) does not continue the first fit
    again = fit(model, coords, y, optimizer=opt, steps=20, record_every=10, progress=False)
    assert again.trajectory.metric[-1] != pytest.approx(full.trajectory.metric[-1], rel=1e-6)


def test_bad_input(key):
    coords, y = _data()
    model = siren((2, 8, 1), key=key)
    with pytest.raises(ValueError, match="multiple"):
        fit(model, coords, y, optimizer=optax.adam(1e-3), steps=15, record_every=10, progress=False)
    with pytest.raises(ValueError, match="target values"):
        fit(model, coords, y[:-1], optimizer=optax.adam(1e-3), steps=10, record_every=10, progress=False)
    with pytest.raises(ValueError, match="convert"):
        fit(model, coords.astype(jnp.float32), y, optimizer=optax.adam(1e-3), steps=10, record_every=10,
            progress=False)
