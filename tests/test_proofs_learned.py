"""The learned-simulation example: a trained GMN predicts activations; its results cache never mixes settings."""

import json

import pytest

import examples.learned_simulation as ls

TINY = dict(sizes=(2, 3, 1), depths=(2,), widths=(8,), depth_at=2, width_at=8, n_probes=2, progress=False)
SMALLEST = dict(sizes=(2, 2, 1), depths=(1,), widths=(4,), depth_at=1, width_at=4, n_probes=2, progress=False)


def test_trained_gmn_predicts_activations_better_than_chance(tmp_path):
    """The smallest run of the example: 30 Adam steps on 32 tanh networks reach a held-out R²
    of about 0.76. 0.5 is a bar that a model not learning the simulation (the mean predictor
    scores 0; the untrained GMN about -2) cannot clear."""
    out = tmp_path / "fig" / "r2.png"
    res = ls.main(activations=("tanh",), n_train=32, n_test=8, steps=30, batch=8, lr=2e-2, out=out, **SMALLEST)
    assert set(res) == {"tanh/depth=1/width=4"}
    assert res["tanh/depth=1/width=4"] > 0.5, res
    assert out.stat().st_size > 0
    stored = json.loads(out.with_suffix(".json").read_text())
    assert list(stored.values()) == [res]


def test_cached_results_are_keyed_by_every_setting(tmp_path, monkeypatch):
    """A re-run with the same settings trains nothing; changing any setting that changes a result
    trains anew, and the older results stay in the file under their own settings."""
    calls = []

    def fake_train(space, depth, width, **kw):
        calls.append(kw)
        return float(len(calls)) / 100  # a distinct value per training

    monkeypatch.setattr(ls, "train_and_score", fake_train)
    base = dict(activations=("tanh",), n_train=8, n_test=4, steps=5, batch=4, lr=1e-2, seed=0,
                out=tmp_path / "r2.png", **TINY)
    first = ls.main(**base)
    assert len(calls) == 1
    assert ls.main(**base) == first and len(calls) == 1  # resumed
    changes = dict(steps=500, n_train=16, n_test=8, seed=1, lr=3e-3, batch=2, n_probes=3, sizes=(2, 4, 1))
    for i, (name, value) in enumerate(changes.items(), start=2):
        res = ls.main(**{**base, name: value})
        assert len(calls) == i, f"changing {name} reused a stored result"
        assert res != first
    stored = json.loads((tmp_path / "r2.png").with_suffix(".json").read_text())
    assert len(stored) == 1 + len(changes) and first in stored.values()


def test_an_older_flat_table_is_not_resumed(tmp_path, monkeypatch):
    monkeypatch.setattr(ls, "train_and_score", lambda *a, **kw: 0.5)
    (tmp_path / "r2.json").write_text(json.dumps({"tanh/depth=2/width=8": 0.08}))
    res = ls.main(activations=("tanh",), n_train=8, n_test=4, steps=5, batch=4, out=tmp_path / "r2.png", **TINY)
    assert res == {"tanh/depth=2/width=8": 0.5}


@pytest.mark.slow  # a deeper GMN; minutes on 2 cores
def test_two_step_gmn_predicts_activations_almost_exactly(tmp_path):
    """50 Adam steps on 64 tanh networks: held-out R² about 0.99 (untrained: about -2.4)."""
    res = ls.main(activations=("tanh",), n_train=64, n_test=16, steps=50, batch=16, lr=1e-2, out=tmp_path / "r2.png",
                  **TINY)
    assert res["tanh/depth=2/width=8"] > 0.9, res


@pytest.mark.slow  # the full grid at small sizes
def test_learned_simulation_grid_runs(tmp_path):
    kw = dict(sizes=(2, 3, 1), depths=(1, 2), widths=(4,), depth_at=1, width_at=4, out=tmp_path / "r2.png",
              progress=False)
    res = ls.main(activations=("tanh", "relu"), n_train=32, n_test=8, n_probes=2, steps=40, batch=8, lr=1e-2, **kw)
    assert set(res) == {"tanh/depth=1/width=4", "tanh/depth=2/width=4", "relu/depth=1/width=4", "relu/depth=2/width=4"}
    assert res["tanh/depth=2/width=4"] > 0.5, res
