"""`make demo` end to end in its smoke mode (default run): every stage runs the real loop and its checks hold."""

import math

import jax

from examples import demo


def test_demo_smoke_runs_every_stage_with_the_real_training_loop(tmp_path):
    with jax.numpy_dtype_promotion("standard"):  # optax's Adam mixes its int step count with floats
        result = demo.main(tmp_path, **demo.SMOKE)
    for name, (inside, outside) in result["confirmations"].items():
        assert inside <= 1e-10, name
        assert outside is None or outside > 1e-3, name
    assert set(result["confirmations"]) == set(demo.SMOKE["checked"])
    classifiers = result["classifiers"]
    assert classifiers["ScaleGMN"]["invariant"] and classifiers["ScaleGMN"]["derived"] == classifiers["ScaleGMN"][
        "accuracy"]
    assert all(math.isfinite(v) for v in classifiers["ScaleGMN"]["train_loss"])
    assert (tmp_path / "runs" / "scalegmn" / "metrics.jsonl").is_file()
    assert max(result["simulation"].values()) <= 1e-12
    assert (tmp_path / "summary.png").stat().st_size > 10_000
