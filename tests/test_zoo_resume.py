"""A zoo run killed with SIGKILL mid-way resumes to exactly the zoo an uninterrupted run makes."""

import json
import subprocess
import sys

import numpy as np

import symm.cli
from models.zoo import InrZooConfig, build_inr_zoo, load_source, load_zoo
from tests._resume import environment, kill_once

# The same settings as tests/test_zoo_inr.py's CONFIG (one compilation), as CLI flags.
CONFIG = InrZooConfig(steps=60, limit=12, augment=2, shard_size=2, split=(0.5, 0.25, 0.25))
FLAGS = ["--source", "digits", "--steps", "60", "--limit", "12", "--augment", "2", "--shard-size", "2",
         "--split", "0.5,0.25,0.25"]


def test_killed_run_resumes_bit_identical_to_an_uninterrupted_run(tmp_path):
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "symm", "zoo", "inr", *FLAGS, "--out", str(out)]
    env = environment(tmp_path / "jax-cache")
    kill_once(command, env, out / "shard-00000.npz", "zoo run")
    done = sorted(p.name for p in out.glob("shard-*.npz"))
    assert 1 <= len(done) < 12, f"the kill must land mid-run, found {done}"
    # Whatever was on disk at the kill is whole: every finished shard loads and checks out.
    partial = load_zoo(out, allow_partial=True)
    assert len(partial) == 2 * len(done)

    resumed = subprocess.run(command, env=env, capture_output=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    assert not list(out.glob("*.tmp"))

    reference = build_inr_zoo(load_source("digits"), tmp_path / "reference", CONFIG, progress=False)
    zoo = load_zoo(out)
    assert set(zoo.arrays) == set(reference.arrays)
    for name in reference.arrays:
        np.testing.assert_array_equal(zoo.arrays[name], reference.arrays[name], err_msg=name)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["generator"] == reference.manifest["generator"]


def test_cli_reports_bad_input_in_one_line(tmp_path, capsys):
    assert symm.cli.main(["zoo", "inr", "--source", str(tmp_path / "absent.npz"), "--out", str(tmp_path / "z")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "absent.npz" in err and "unknown source" in err
    assert symm.cli.main(["zoo", "show", str(tmp_path)]) == 2
    assert "no zoo manifest" in capsys.readouterr().err
