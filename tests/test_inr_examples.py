"""Smoke tests: the INR examples and the `symm inr` command run end to end at tiny sizes.

The examples run in the default suite at the smallest sizes that exercise every model they
fit (4x4 images, width 4, a few steps); their full sizes are the examples' defaults."""

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


def test_inr_fit_example(tmp_path):
    final = inr_fit.main(size=4, steps=4, width=4, depth=1, record_every=2, out=tmp_path)
    assert set(final) == {"siren", "finer", "relu+ff", "softplus+ff"}
    assert (tmp_path / "psnr.png").exists() and (tmp_path / "reconstructions.png").exists()


def test_neural_experts_example(tmp_path):
    final = neural_experts.main(size=4, steps=10, pretrain_steps=2, models=("neural_experts_small",),
                                record_every=2, out=tmp_path)
    assert np.isfinite(final["neural_experts_small"])
    assert (tmp_path / "neural_experts_small_expert_map.png").exists()


def test_strainer_example(tmp_path):
    final = strainer.main(n_train=2, n_test=1, size=4, width=4, train_steps=2, test_steps=4, record_every=2,
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
    out = capsys.readouterr().out.strip().splitlines()[-1]  # says where its outputs went
    assert out == f"wrote img_siren.json, img_siren_psnr.png, img_siren_reconstruction.png to {tmp_path / 'o'}"


def test_cli_bad_input(tmp_path, capsys):
    assert symm_main(["inr", "fit", "--image", str(tmp_path / "missing.png"), "--steps", "10",
                      "--record-every", "10"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "does not exist" in err
    assert symm_main(["inr", "experts", "--kodak", str(tmp_path), "--steps", "100", "--record-every", "10"]) == 2
    assert "no Kodak images" in capsys.readouterr().err


# ---- bad input: one line naming the option and the fix, exit code 2 ---------------------------
def _png(path, shape=(12, 10, 3)):
    Image.fromarray((np.random.default_rng(0).random(shape) * 255).astype(np.uint8)).save(path)
    return path


FIT = ["inr", "fit", "--steps", "10", "--record-every", "10", "--size", "8", "--width", "8", "--depth", "1"]


@pytest.mark.parametrize("flags, message", [
    (["--lr", "-1"], "--lr must be positive, got -1.0"),
    (["--lr", "nan"], "--lr must be positive, got nan"),
    (["--depth", "0"], "--depth must be positive, got 0"),
    (["--size", "0"], "--size must be positive, got 0"),
    (["--size", "-4"], "--size must be positive, got -4"),
    (["--width", "0"], "--width must be positive, got 0"),
    (["--steps", "0"], "--steps must be positive, got 0"),
    (["--record-every", "0"], "--record-every must be positive, got 0"),
])
def test_cli_fit_refuses_useless_numbers(flags, message, tmp_path, capsys):
    img = _png(tmp_path / "img.png")
    assert symm_main(FIT + ["--image", str(img), "--out", str(tmp_path / "o")] + flags) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "o").exists()


def test_cli_fit_refuses_unreadable_images(tmp_path, capsys):
    (tmp_path / "notes.png").write_text("not an image")
    truncated = _png(tmp_path / "whole.png", (64, 64, 3))
    (tmp_path / "cut.png").write_bytes(truncated.read_bytes()[:300])
    for path, message in [(tmp_path / "notes.png", "cannot read"), (tmp_path / "cut.png", "cannot read"),
                          (tmp_path, "is a folder")]:
        assert symm_main(FIT + ["--image", str(path), "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err and str(path) in err, err


def test_cli_names_the_missing_kodak_image_and_those_there(tmp_path, capsys):
    for name in ("kodim01", "kodim02"):
        _png(tmp_path / f"{name}.png", (512, 768, 3))
    assert symm_main(FIT + ["--kodak", str(tmp_path), "--name", "kodim99"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no Kodak image kodim99" in err and "it has kodim01, kodim02" in err


def test_cli_other_inr_commands_refuse_useless_numbers(tmp_path, capsys):
    img = str(_png(tmp_path / "img.png"))
    cases = [
        (["inr", "experts", "--image", img, "--steps", "100", "--record-every", "10", "--lr", "0"], "--lr must be"),
        (["inr", "experts", "--image", img, "--steps", "100", "--record-every", "10", "--pretrain-steps", "-1"],
         "--pretrain-steps must be 0 or more"),
        (["inr", "experts", "--image", img, "--steps", "100", "--record-every", "0"], "--record-every must be"),
        (["inr", "strainer", "--n-train", "0"], "--n-train must be positive"),
        (["inr", "strainer", "--size", "-1"], "--size must be positive"),
        (["inr", "strainer", "--record-every", "0"], "--record-every must be positive"),
    ]
    for argv, message in cases:
        assert symm_main(argv + ["--out", str(tmp_path / "o")]) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, (argv, err)


def test_cli_help_shows_defaults_and_descriptions(capsys):
    import argparse

    from symm.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert sub.choices["inr"].description and sub.choices["zoo"].description
    inr = next(a for a in sub.choices["inr"]._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in inr.choices.items():
        text = command.format_help()
        for action in command._actions:
            if action.option_strings and action.default not in (None, argparse.SUPPRESS, False) and action.help:
                assert "(default:" in command.formatter_class(prog="x")._get_help_string(action), (name, action.dest)
        assert "default: 0" in text  # --seed
    assert "(default: 1e-05)" in inr.choices["experts"].format_help()


def test_strainer_table_prints_never_for_an_unreached_target():
    import json as _json

    from models.inr._cli import _finite_or_none, _steps_text

    assert _steps_text(_finite_or_none(float("nan"))) == "never" and _finite_or_none(float("nan")) is None
    assert _steps_text(_finite_or_none(120.0)) == "120"
    assert _json.loads(_json.dumps({"siren": _finite_or_none(float("nan"))})) == {"siren": None}  # valid JSON, not NaN


def test_cli_out_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "taken").write_text("x")
    img = str(_png(tmp_path / "img.png"))
    for argv in (FIT + ["--image", img], ["inr", "strainer"]):
        assert symm_main(argv + ["--out", str(tmp_path / "taken")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "is a file" in err
