"""benchmarks/igpg.py at tiny size: every table row is filled, and a second call resumes from the saved evaluations."""

import importlib.util
import json
from pathlib import Path

import jax


def _benchmark():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "igpg.py"
    spec = importlib.util.spec_from_file_location("igpg_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _digits():
    from models.zoo import load_source

    return load_source("digits")


def test_igpg_benchmark_tiny_fills_every_row_and_resumes(tmp_path, monkeypatch):
    bench = _benchmark()
    variants = ("IGPG", "no dataset embedding")  # the others differ only in their config
    with jax.numpy_dtype_promotion("standard"):
        first = bench.main("tiny", tmp_path, seeds=1, progress=False, variants=variants)
    assert set(first) == set(variants)
    full = first["IGPG"]
    for case in ("held-out task", *(f"held-out architecture {a}" for a in bench.SCALES["tiny"]["held_archs"])):
        for start in ("generated", bench.GENERATED_MEAN, bench.GENERATED_EXPECTED, "random", "zoo mean",
                      "best of another task"):
            for epoch in bench.EPOCHS:
                assert all(0.0 <= v <= 1.0 for v in full[f"{case} | {start} | epoch {epoch}"])
    assert full["tokeniser_s"][0] > 0 and full["prior_s"][0] > 0
    # The conditioning check: a prior without the dataset prefix scores every task's networks
    # alike under any task's conditioning, to rounding.
    ablated = first["no dataset embedding"]
    own, other = ablated[bench.OWN_NLL], ablated[bench.OTHER_NLL]
    assert own[0] > 0 and abs(own[0] - other[0]) < 1e-9 * own[0]
    assert full[bench.OWN_NLL][0] > 0
    assert len(full["memorisation | generated"]) == bench.SCALES["tiny"]["samples"]
    assert (tmp_path / "tiny" / "igpg.png").stat().st_size > 10_000  # curves and memorisation histogram
    cases = ["held-out task", *(f"held-out architecture {a}" for a in bench.SCALES["tiny"]["held_archs"])]
    tables = bench.readme_tables(first, cases, "IGPG")
    assert tables.count("| generated | ") == len(cases) and "| no dataset embedding | 1 | " in tables
    assert full["prior_loss"][0] > 0
    saved = sorted(tmp_path.glob("tiny/runs/*/seed-0/evaluation.json"))
    assert len(saved) == 2 and json.loads(saved[0].read_text())
    # The ablation tokenises the same networks with the same settings and key: it reads the
    # full model's tokeniser back (same file, same training time) instead of fitting another.
    tokenisers = [(tmp_path / "tiny" / "runs" / d / "seed-0" / "checkpoints" / "tokeniser.eqx").read_bytes()
                  for d in ("IGPG", "no_dataset_embedding")]
    assert tokenisers[0] == tokenisers[1]
    assert first["no dataset embedding"]["tokeniser_s"] == full["tokeniser_s"]
    assert first["no dataset embedding"]["prior_s"] != full["prior_s"]
    # Held-out tasks are class subsets never trained on, with the digit labels kept.
    from models.igpg._tasks import subset_tasks

    tasks = subset_tasks(_digits(), 3, size=6)
    assert len({t.name for t in tasks}) == 3 and all(t.n_classes == 10 for t in tasks)
    assert all(len(set(t.source.labels.tolist())) == 6 for t in tasks)

    def no_training(*args, **kwargs):
        raise AssertionError("a finished (variant, seed) was trained again")

    monkeypatch.setattr("models.igpg._pipeline.train_igpg", no_training)
    again = bench.main("tiny", tmp_path, seeds=1, progress=False, variants=variants)
    assert again == first  # the training times of the first call included
