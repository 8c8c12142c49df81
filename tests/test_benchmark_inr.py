"""benchmarks/inr.py at --scale tiny: every model and milestone lands in the summary, the
figures are written, a second run resumes without training, bad input is one line, and the
README carries the tables the script renders from its committed small-scale summary."""

import json
import re
from pathlib import Path

import pytest

import benchmarks.inr as inr
import models.inr._fit as fit_module
from models.inr._strainer import METHODS

KODAK = (inr.ROOT / ".." / "shared" / "data" / "kodak").resolve()
needs_kodak = pytest.mark.skipif(not any(KODAK.glob("kodim*.png")), reason=f"no Kodak images in {KODAK}")
RESULTS = inr.ROOT / "benchmarks" / "results" / "inr-small.json"
README_BLOCK = re.compile(r"<!-- inr-benchmark: (\S+) -->\n(.*?)<!-- /inr-benchmark -->", re.S)


def _no_training(*args, **kwargs):
    raise AssertionError("a resumed run trained a step")


@pytest.fixture(scope="module")
def strainer_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("inr-strainer")
    return out, inr.main(["--scale", "tiny", "--skip-ne", "--out", str(out)])


@pytest.fixture(scope="module")
def ne_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("inr-ne")
    return out, inr.main(["--scale", "tiny", "--skip-strainer", "--kodak", str(KODAK), "--out", str(out)])


def test_strainer_tiny_has_every_method_and_milestone(strainer_run):
    out, summary = strainer_run
    s = json.loads((out / "summary.json").read_text())["strainer"]
    assert s["milestones"] == [50, 60]  # the report steps the tiny fit reaches, then its last step
    assert set(s["psnr_01"]) == set(METHODS) and all(len(v) == 2 for v in s["psnr_01"].values())
    assert len(s["steps"]) == len(s["curve_mean"]["siren"]) == 7
    assert (out / "strainer_psnr.png").stat().st_size > 0
    assert inr.strainer_markdown(summary["strainer"]) in (out / "tables.md").read_text()


def test_strainer_rerun_resumes_from_its_checkpoints(strainer_run, monkeypatch):
    out, summary = strainer_run
    for path in out.glob("strainer_*.json"):  # the summary is gone: every fit must come back from its checkpoint
        path.unlink()
    monkeypatch.setattr(fit_module, "_run_chunk", _no_training)
    again = inr.main(["--scale", "tiny", "--skip-ne", "--out", str(out)])
    assert again["strainer"]["psnr_01"] == summary["strainer"]["psnr_01"]


@needs_kodak
def test_neural_experts_tiny_has_every_model_and_resumes(ne_run, monkeypatch):
    out, summary = ne_run
    table = summary["neural_experts"]
    assert list(table) == list(inr.SMALL_MODELS)
    for m, row in table.items():
        assert row["n_images"] == 1 and row["ms_per_step"] > 0 and len(row["load_at_timing"]) == 3
        assert row["psnr_01_mean"] > row["psnr_pm1_mean"]  # peak 1 of 1 vs max(gt) of 2: [0,1] reads higher
    rows = [json.loads(p.read_text()) for p in (out / "neural_experts").glob("kodim01_*.json")]
    assert {r["model"] for r in rows} == set(inr.SMALL_MODELS)
    assert all(r["steps"] == list(range(0, 21, 2)) for r in rows)
    assert all((out / f).stat().st_size > 0 for f in ("neural_experts_psnr.png", "neural_experts_kodim01.png"))
    assert inr.ranking(table) in (out / "tables.md").read_text()
    monkeypatch.setattr(fit_module, "_run_chunk", _no_training)
    again = inr.main(["--scale", "tiny", "--skip-strainer", "--kodak", str(KODAK), "--out", str(out)])
    assert again["neural_experts"] == table


def test_a_flag_overrides_its_preset():
    args = inr.parse(["--scale", "tiny", "--steps", "40", "--strainer-width", "8"])
    assert (args.steps, args.size, args.strainer_width) == (40, inr.SCALES["tiny"]["size"], 8)
    assert args.models == list(inr.SMALL_MODELS)


@pytest.mark.parametrize("argv, says", [
    (["--scale", "nonsense"], "unknown --scale 'nonsense'; choose one of tiny, small, paper"),
    (["--scale", "tiny", "--models", "siren_base,siren_widest"], "unknown model 'siren_widest'"),
    (["--scale", "tiny", "--steps", "25"], "must be multiples of --record-every 2"),
])
def test_bad_options_are_one_line(argv, says, capsys):
    with pytest.raises(SystemExit) as exit_:
        inr.main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and says in err and err.count("\n") == 1


def test_a_kodak_folder_without_images_is_one_line(tmp_path, capsys):
    (tmp_path / "kodak").mkdir()
    with pytest.raises(SystemExit) as exit_:
        inr.main(["--scale", "tiny", "--skip-strainer", "--kodak", str(tmp_path / "kodak"), "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "no Kodak images (kodim*.png)" in err and err.count("\n") == 1


def test_the_readme_carries_the_tables_the_script_renders():
    """Every <!-- inr-benchmark: SUMMARY --> block is what ``inr.markdown`` renders from that run's summary."""
    readme = (inr.ROOT / "README.md").read_text(encoding="utf-8")
    blocks = dict(README_BLOCK.findall(readme))
    assert "benchmarks/results/inr-small.json" in blocks, "README lost its <!-- inr-benchmark: ... --> block"
    for source, block in blocks.items():
        assert block == inr.markdown(json.loads((inr.ROOT / source).read_text())), (
            f"the README's tables from {source} are stale; paste that run's tables.md")


def test_the_committed_small_run_has_every_model_and_milestone():
    summary = json.loads(RESULTS.read_text())
    assert list(summary["neural_experts"]) == list(inr.SMALL_MODELS)
    assert all(r["n_images"] == 6 for r in summary["neural_experts"].values())
    assert set(summary["strainer"]["psnr_01"]) == set(METHODS)
    assert summary["strainer"]["milestones"] == [50, 100, 200, 500, 1000]
