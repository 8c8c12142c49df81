"""examples/igpg.py at tiny size: zoos, training, generation for a held-out task, fine-tuning, plots."""

import math

from examples import igpg


def test_igpg_example_generates_for_a_held_out_task(tmp_path):
    result = igpg.main(tmp_path, arch="cnn conv3x3-2 gap dense-10 relu", train_tasks=2, networks=2, zoo_steps=5,
                       tokeniser_steps=20, prior_steps=10, epochs=1, samples=1, tiny=True, progress=False)
    assert set(result["curves"]) == {"generated", "random", "zoo mean"}
    assert all(len(c) == 2 and all(0.0 <= a <= 1.0 for a in c) for c in result["curves"].values())
    space = result["space"]
    space.validate(result["generated"][0])
    # The ensemble average is not a training network; a noisy copy is close to one, not on it.
    d = result["distances"]
    assert d["ensemble average"][0] > 0 and all(0 < v < 1 for v in d["training net + noise"])
    assert all(math.isfinite(v) for v in d["generated"])
    assert result["info"]["codebook_usage"].sum() > 0
    assert (tmp_path / "igpg.png").stat().st_size > 10_000
