"""A training run killed with SIGKILL resumes to exactly the result of an uninterrupted run; bad input is one line."""

import json
import subprocess
import sys

import pytest

import symm.cli
from tests._train_zoos import tiny_cnn_zoo, tiny_inr_zoo
from tests._resume import environment, kill_once

EPOCHS = 30


def _flags(zoo, out, epochs=EPOCHS, lr="0.003"):
    return ["train", "classify", "--zoo", str(zoo), "--model", "mlp", "--seeds", "1", "--epochs", str(epochs),
            "--batch-size", "4", "--lr", lr, "--width", "8", "--layers", "1", "--no-progress", "--out", str(out)]


def _metrics(run):
    lines = [json.loads(line) for line in (run / "seed-0" / "metrics.jsonl").read_text().splitlines()]
    for line in lines:
        line.pop("seconds")
    return lines


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    return tiny_inr_zoo(tmp_path_factory.mktemp("resume") / "inr")


def test_killed_training_resumes_to_the_uninterrupted_result(zoo, tmp_path):
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "symm", *_flags(zoo, out)]
    env = environment(tmp_path / "jax-cache")
    checkpoint = out / "seed-0" / "checkpoint.eqx"
    kill_once(command, env, checkpoint, "training run")
    with open(checkpoint, "rb") as file:  # the checkpoint on disk is whole: its header says how far it got
        epochs_done = json.loads(file.readline())["epoch"]
    assert 1 <= epochs_done < EPOCHS, "the kill must land mid-run"
    assert not (out / "seed-0" / "result.json").exists()

    resumed = subprocess.run(command, env=env, capture_output=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    assert not list((out / "seed-0").glob("*.tmp"))
    reference = tmp_path / "reference"
    uninterrupted = subprocess.run([sys.executable, "-m", "symm", *_flags(zoo, reference)], env=env,
                                   capture_output=True, timeout=300)
    assert uninterrupted.returncode == 0, uninterrupted.stderr.decode()[-2000:]
    assert _metrics(out) == _metrics(reference)
    got, want = (json.loads((run / "seed-0" / "result.json").read_text()) for run in (out, reference))
    for name in ("val", "test", "best_epoch", "stress", "epochs"):
        assert got[name] == want[name], name
    assert resumed.stdout.decode().startswith("| task |")


def test_cli_refuses_bad_input_in_one_line(zoo, tmp_path, capsys):
    def error(argv):
        assert symm.cli.main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        return err

    assert "unknown model 'resnet'" in error(["train", "classify", "--zoo", str(zoo), "--model", "resnet",
                                              "--out", str(tmp_path / "r")])
    assert "no such zoo" in error(_flags(tmp_path / "absent", tmp_path / "r"))
    cnn = tiny_cnn_zoo(tmp_path / "cnn")
    assert "is a cnn zoo but the classify task needs a inr zoo" in error(_flags(cnn, tmp_path / "r"))
    run = tmp_path / "run"
    assert symm.cli.main(_flags(zoo, run, epochs=1)) == 0
    capsys.readouterr()
    assert "checkpoint of another configuration (lr: 0.003 there vs 0.01 now)" in error(
        _flags(zoo, run, epochs=1, lr="0.01"))
    # Canonicalised and raw inputs are different runs: neither resumes the other's checkpoint.
    assert "checkpoint of another configuration (canonicalise: None there vs True now)" in error(
        _flags(zoo, run, epochs=1) + ["--canonicalise"])
    canonical = tmp_path / "canonical"
    assert symm.cli.main(_flags(zoo, canonical, epochs=1) + ["--canonicalise"]) == 0
    assert "| classify (accuracy) | inr, canonical | mlp | 1 |" in capsys.readouterr().out
    assert "checkpoint of another configuration (canonicalise: True there vs None now)" in error(
        _flags(zoo, canonical, epochs=1))
    assert symm.cli.main(_flags(zoo, canonical, epochs=1) + ["--canonicalise"]) == 0  # same settings: resumes
    capsys.readouterr()
    assert "no finished run here" in error(["results", str(tmp_path / "cnn")])
    assert symm.cli.main(["results", str(run)]) == 0
    table = capsys.readouterr().out
    assert "| classify (accuracy) | inr | mlp | 1 |" in table
    other_lr = tmp_path / "run-lr"
    assert symm.cli.main(_flags(zoo, other_lr, epochs=1, lr="0.01")) == 0
    capsys.readouterr()
    assert "are both seed 0 of mlp on classify (inr)" in error(["results", str(run), str(other_lr)])
