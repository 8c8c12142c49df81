"""Smoke tests: the INR examples and the `symm inr` command run end to end at tiny sizes.

The example runs compile a dozen fits between them (a minute or more of CPU), so they are
marked slow: `pytest -m slow tests/test_inr_examples.py` runs them."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from symm.cli import main as symm_main


def _example(name):
    path = Path(__file__).resolve().parents[1] / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"inr_example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


inr_fit, neural_experts, strainer = _example("inr_fit"), _example("neural_experts"), _example("strainer")


@pytest.mark.slow
def test_inr_fit_example(tmp_path):
    final = inr_fit.main(size=8, steps=20, width=16, depth=2, record_every=10, out=tmp_path)
    assert set(final) == {"siren", "finer", "relu+ff", "softplus+ff"}
    assert (tmp_path / "psnr.png").exists() and (tmp_path / "reconstructions.png").exists()


@pytest.mark.slow
def test_neural_experts_example(tmp_path):
    final = neural_experts.main(size=8, steps=20, pretrain_steps=10, models=("neural_experts_small",),
                                record_every=2, out=tmp_path)
    assert np.isfinite(final["neural_experts_small"])
    assert (tmp_path / "neural_experts_small_expert_map.png").exists()


@pytest.mark.slow
def test_strainer_example(tmp_path):
    final = strainer.main(n_train=2, n_test=1, size=8, width=16, train_steps=10, test_steps=20, record_every=10,
                          out=tmp_path)
    assert set(final) == {"siren", "siren_finetuned", "strainer_1", "strainer_10"}
    assert (tmp_path / "transfer.png").exists()


def test_cli_fit(tmp_path, capsys):
    img = tmp_path / "img.png"
    Image.fromarray((np.random.default_rng(0).random((12, 10, 3)) * 255).astype(np.uint8)).save(img)
    rc = symm_main(["inr", "fit", "--image", str(img), "--size", "8", "--width", "16", "--depth", "2",
                    "--steps", "20", "--record-every", "10", "--lr", "1e-3", "--out", str(tmp_path / "o")])
    assert rc == 0
    summary = json.loads((tmp_path / "o" / "img_siren.json").read_text())
    assert summary["trajectory_steps"] == [0, 10, 20]
    assert summary["psnr_01"] - summary["psnr_pm1"] == pytest.approx(6.0206, abs=1e-4)


def test_cli_bad_input(tmp_path, capsys):
    assert symm_main(["inr", "fit", "--image", str(tmp_path / "missing.png"), "--steps", "10",
                      "--record-every", "10"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "does not exist" in err
    assert symm_main(["inr", "experts", "--kodak", str(tmp_path), "--steps", "100", "--record-every", "10"]) == 2
    assert "no Kodak images" in capsys.readouterr().err
