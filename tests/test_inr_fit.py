"""The fitting routine: in-graph PSNR trajectory, chunking, named bars, resuming, and input checks."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from models import _progress
from models._progress import ChunkPlanner, format_duration
from models.inr import _fit as _fit_module
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
    # loss[k] is the loss the k-th record's last step descended: that of the model one step before it
    every = fit(model, coords, y, optimizer=optax.adam(1e-3), steps=4, record_every=1, progress=False)
    one_before = fit(model, coords, y, optimizer=optax.adam(1e-3), steps=2, record_every=1, progress=False).model
    assert every.trajectory.loss[3] == pytest.approx(float(jnp.mean((jax.vmap(one_before)(coords) - y) ** 2)), rel=1e-12)
    assert every.trajectory.loss[3] != pytest.approx(every.trajectory.loss[2], rel=1e-9)  # the steps do move it
    # the other convention is used when asked for
    out01 = fit(model, coords, y, optimizer=optax.adam(1e-3), steps=10, record_every=10, metric=psnr_01, progress=False)
    assert out01.trajectory.metric[0] == pytest.approx(float(psnr_01(jax.vmap(model)(coords), y)), rel=1e-12)


def test_chunking_does_not_change_the_fit(key):
    coords, y = _data()
    model = siren((2, 16, 1), key=key)
    kw = dict(optimizer=optax.adam(1e-3), steps=40, record_every=10, progress=False)
    a = fit(model, coords, y, steps_per_chunk=40, **kw)
    # chunks that end between two records, and chunks sized from the measured speed
    for other in (fit(model, coords, y, steps_per_chunk=7, **kw), fit(model, coords, y, **kw)):
        np.testing.assert_array_equal(other.trajectory.steps, a.trajectory.steps)
        np.testing.assert_allclose(other.trajectory.metric, a.trajectory.metric, rtol=1e-10)
        np.testing.assert_allclose(other.trajectory.loss, a.trajectory.loss, rtol=1e-10)
        np.testing.assert_allclose(other.model.layers[0].weight, a.model.layers[0].weight, rtol=1e-10)
    # negative: fewer steps is a different fit, so the comparison above can fail
    short = fit(model, coords, y, **{**kw, "steps": 30})
    assert not np.allclose(short.model.layers[0].weight, a.model.layers[0].weight, rtol=1e-10)


def test_chunk_planner_moves_the_bar_every_few_seconds():
    planner = ChunkPlanner(seconds=2.0, cap=1000)
    assert planner.next(500) == 1 and planner.seconds_per_unit is None  # the first chunk also compiles
    planner.record(1, 30.0)  # compile time: no speed yet
    assert planner.next(500) == 1 and planner.seconds_per_unit is None
    planner.record(1, 0.01)
    assert planner.seconds_per_unit == pytest.approx(0.01)
    assert planner.next(500) == 200  # 2 s at 10 ms a step
    assert planner.next(50) == 50  # never past the end
    planner.record(200, 400.0)  # a slow step: one at a time, never zero
    assert planner.next(500) == 1
    planner.record(1, 1e-6)
    assert planner.next(5000) == 1000  # capped
    with pytest.raises(ValueError):
        ChunkPlanner(seconds=0)


def test_a_named_bar_and_a_warning_when_the_fit_will_take_hours(key, capsys, monkeypatch):
    coords, y = _data()
    model = siren((2, 8, 1), key=key)
    kw = dict(optimizer=optax.adam(1e-3), steps=40, record_every=10, steps_per_chunk=10, desc="SIREN on sin(2x+y)")
    fit(model, coords, y, **kw)
    err = capsys.readouterr().err
    assert "SIREN on sin(2x+y)" in err and "hours" not in err  # a short fit: named bar, no warning
    monkeypatch.setattr(_progress, "LONG_RUN_SECONDS", 1e-9)
    fit(model, coords, y, **kw)
    err = capsys.readouterr().err
    assert "SIREN on sin(2x+y): about" in err and "on this machine" in err
    assert format_duration(4 * 3600) == "4.0 hours" and format_duration(600) == "10 min"


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


def test_an_interrupted_fit_resumes_between_two_records(key, tmp_path, monkeypatch):
    coords, y = _data()
    model = siren((2, 8, 1), key=key)
    kw = dict(optimizer=optax.adam(1e-3), steps=40, record_every=10, steps_per_chunk=7, progress=False)
    full = fit(model, coords, y, **kw)
    real_save, saves = _fit_module._save, []

    def save_then_stop(*args):
        real_save(*args)
        saves.append(args[-1])
        if len(saves) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(_fit_module, "_save", save_then_stop)
    ckpt = tmp_path / "fit.eqx"
    with pytest.raises(KeyboardInterrupt):
        fit(model, coords, y, checkpoint=ckpt, **kw)
    assert saves == [7, 14]  # stopped mid-record: 4 steps past the last score
    monkeypatch.setattr(_fit_module, "_save", real_save)
    resumed = fit(model, coords, y, checkpoint=ckpt, **kw)
    np.testing.assert_array_equal(resumed.trajectory.steps, full.trajectory.steps)
    np.testing.assert_allclose(resumed.trajectory.metric, full.trajectory.metric, rtol=1e-10)
    np.testing.assert_allclose(resumed.model.layers[0].weight, full.model.layers[0].weight, rtol=1e-10)


def test_bad_input(key):
    coords, y = _data()
    model = siren((2, 8, 1), key=key)
    with pytest.raises(ValueError, match="multiple"):
        fit(model, coords, y, optimizer=optax.adam(1e-3), steps=15, record_every=10, progress=False)
    with pytest.raises(ValueError, match="target values"):
        fit(model, coords, y[:-1], optimizer=optax.adam(1e-3), steps=10, record_every=10, progress=False)
    with pytest.raises(ValueError, match="steps_per_chunk"):
        fit(model, coords, y, optimizer=optax.adam(1e-3), steps=10, record_every=10, steps_per_chunk=0,
            progress=False)
    with pytest.raises(ValueError, match="convert"):
        fit(model, coords.astype(jnp.float32), y, optimizer=optax.adam(1e-3), steps=10, record_every=10,
            progress=False)
