"""Smoke test of the learned-simulation example (tiny sizes)."""

import json
import math

import pytest

from examples.learned_simulation import main, table


@pytest.mark.slow  # trains several GMNs; the learned-simulation figures come from this example
def test_learned_simulation_example_runs_and_writes_results(tmp_path):
    kw = dict(sizes=(2, 3, 1), depths=(1,), widths=(4,), depth_at=1, width_at=4, out=tmp_path / "fig" / "r2.png",
              progress=False)
    res = main(activations=("tanh", "relu"), n_train=8, n_test=4, n_probes=2, steps=2, batch=4, **kw)
    assert set(res) == {"tanh/depth=1/width=4", "relu/depth=1/width=4"}
    assert all(math.isfinite(v) and v <= 1.0 for v in res.values())
    assert json.loads((tmp_path / "fig" / "r2.json").read_text()) == res
    assert (tmp_path / "fig" / "r2.png").stat().st_size > 0
    assert "relu/depth=1/width=4" in table(res)
    # resumes: a second call trains nothing new and returns the stored figures
    assert main(activations=("tanh", "relu"), steps=0, **kw) == res
