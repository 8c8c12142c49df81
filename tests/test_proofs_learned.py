"""Smoke test of the learned-simulation example (tiny sizes)."""

import json
import math

import pytest

from examples.learned_simulation import main


@pytest.mark.slow  # trains several GMNs; the learned-simulation figures come from this example
def test_learned_simulation_example_runs_and_writes_results(tmp_path):
    res = main(activations=("tanh",), sizes=(2, 3, 1), depths=(1,), widths=(4,), n_train=8, n_test=4,
               n_probes=2, steps=2, batch=4, out_dir=tmp_path, progress=False)
    assert set(res) == {"tanh/depth=1/width=4"}
    assert all(math.isfinite(v) and v <= 1.0 for v in res.values())
    assert json.loads((tmp_path / "r2.json").read_text()) == res
    assert (tmp_path / "r2.png").stat().st_size > 0
    # resumes: a second call trains nothing new and returns the stored figures
    assert main(activations=("tanh",), sizes=(2, 3, 1), depths=(1,), widths=(4,), steps=0,
                out_dir=tmp_path, progress=False) == res
