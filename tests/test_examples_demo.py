"""`make demo` end to end at tiny sizes: every stage runs and its checks hold."""

import math

import jax
import pytest

from examples import demo


@pytest.mark.slow  # `make demo` runs the same stages at full size
def test_demo_runs_and_finds_the_symmetries(tmp_path):
    with jax.numpy_dtype_promotion("standard"):  # optax's Adam mixes its int step count with floats
        result = demo.main(tmp_path, n_images=24, fit_steps=20, train_steps=4, width=8, batch=8)
    for name, (inside, outside) in result["confirmations"].items():
        assert inside <= 1e-10, name
        assert outside is None or outside > 1e-3, name
    scale_gmn, baseline = result["classifiers"]["ScaleGMN"], result["classifiers"]["GMN (permutation only)"]
    assert scale_gmn["invariant"] and not baseline["invariant"]
    assert all(math.isfinite(v) for v in scale_gmn["losses"])
    assert max(result["simulation"].values()) <= 1e-12
    assert (tmp_path / "summary.png").stat().st_size > 10_000
