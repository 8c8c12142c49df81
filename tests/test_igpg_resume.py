"""IGPG training killed with SIGKILL (in the tokeniser, then in the prior) resumes to the uninterrupted generator, bit for bit."""

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import symm.cli
from models.igpg import PriorConfig, TokeniserConfig
from models.igpg._pipeline import IgpgConfig, ZooEntry, train_igpg
from tests._resume import environment, kill_once

TOKENISER = dict(chunk_size=16, tokens_per_chunk=2, codebook_size=16, code_dim=4, hidden=16, batch_size=32, lr=3e-3)
PRIOR = dict(d_model=16, heads=2, layers=1, context=16, max_positions=128, batch_size=4, lr=3e-3)
CONFIG = IgpgConfig(TokeniserConfig(steps=600, **TOKENISER), PriorConfig(steps=400, **PRIOR), canonicalise=False)
ARCH = "mlp dense-4 dense-10 tanh"
MIX = ("cnn conv3x3-2 gap dense-10 relu", ARCH)  # one training set of both kinds


def _entries():
    from models.igpg import Architecture
    from models.igpg._tasks import identity_task
    from models.zoo import load_source

    task, entries = identity_task(load_source("digits")), []
    for i, text in enumerate(MIX):
        arch = Architecture.parse(text)
        nets = [arch.space(64 if arch.kind == "mlp" else 1).init(k) for k in jax.random.split(jax.random.key(i), 3)]
        entries.append(ZooEntry(task, arch, jax.tree.map(lambda *a: np.stack(a), *nets)))
    return entries


def run(out: str) -> None:
    """The run the test kills: train on tiny entries, checkpointing after every block, and save the result."""
    generator, info = train_igpg(_entries(), CONFIG, key=jax.random.key(0), progress=False,
                                 checkpoint_dir=Path(out) / "checkpoints", checkpoint_seconds=0.0)
    _save(Path(out), generator, info)


def _save(out: Path, generator, info) -> None:
    leaves = [np.asarray(a) for a in jax.tree_util.tree_leaves(generator) if hasattr(a, "dtype")]
    np.savez(out / "result.npz", *leaves, **{f"{part}.{name}": v for part in ("tokeniser", "prior")
                                             for name, v in info[f"{part}_history"].items()})


def _step(checkpoint: Path) -> int:
    with open(checkpoint, "rb") as file:  # the checkpoint on disk is whole: its header says how far it got
        return json.loads(file.readline())["step"]


def test_a_run_killed_in_the_tokeniser_then_in_the_prior_ends_as_an_uninterrupted_one(tmp_path):
    out = tmp_path / "killed"
    out.mkdir()
    command = [sys.executable, "-c", f"from tests.test_igpg_resume import run; run({str(out)!r})"]
    env = environment(Path(os.environ["JAX_COMPILATION_CACHE_DIR"]))  # conftest's: shared with this process
    checkpoints = out / "checkpoints"
    kill_once(command, env, checkpoints / "tokeniser.eqx", "tokeniser")
    assert 1 <= _step(checkpoints / "tokeniser.eqx") < 600, "the kill must land within the tokeniser's fit"
    assert not (checkpoints / "prior.eqx").exists()
    kill_once(command, env, checkpoints / "prior.eqx", "prior")
    assert _step(checkpoints / "tokeniser.eqx") == 600
    assert 1 <= _step(checkpoints / "prior.eqx") < 400, "the kill must land within the prior's fit"
    finished = subprocess.run(command, env=env, capture_output=True, timeout=300)
    assert finished.returncode == 0, finished.stderr.decode()[-2000:]
    assert not list(checkpoints.glob("*.tmp"))

    reference = tmp_path / "reference"
    reference.mkdir()
    _save(reference, *train_igpg(_entries(), CONFIG, key=jax.random.key(0), progress=False))
    with np.load(out / "result.npz") as got, np.load(reference / "result.npz") as want:
        assert sorted(got.files) == sorted(want.files) and len(want.files) > 20
        for name in want.files:
            np.testing.assert_array_equal(got[name], want[name], err_msg=name)
        assert len(want["prior.loss"]) == 400 and want["tokeniser.loss"][0] != want["tokeniser.loss"][-1]


def test_the_command_trains_on_an_mlp_zoo_resumes_and_refuses_other_settings(tmp_path, monkeypatch, capsys):
    # The command's own sizes are the paper's; the tiny ones keep this test in seconds.
    monkeypatch.setattr("models.igpg._vqvae.TokeniserConfig", functools.partial(TokeniserConfig, **TOKENISER))
    monkeypatch.setattr("models.igpg._prior.PriorConfig", functools.partial(PriorConfig, **PRIOR))
    out = tmp_path / "run"
    argv = ["igpg", "train", "--out", str(out), "--arch", ARCH, "--permutations", "1", "--networks", "2",
            "--zoo-steps", "5", "--tokeniser-steps", "60", "--prior-steps", "60"]
    assert symm.cli.main(argv) == 0
    assert [p.name for p in (out / "zoos").iterdir()] == ["digits~perm0__mlp_dense-4_dense-10_tanh"]
    assert symm.cli.main(["igpg", "generate", str(out), "--arch", ARCH, "--permutation", "5"]) == 0
    assert "test accuracy" in capsys.readouterr().out
    checkpoints = {name: out / "checkpoints" / f"{name}.eqx" for name in ("tokeniser", "prior")}
    assert all(_step(path) == 60 for path in checkpoints.values())
    saved = {name: path.read_bytes() for name, path in checkpoints.items()}
    generator = (out / "generator.eqx").read_bytes()
    assert symm.cli.main(argv) == 0  # finished fits are read back, not redone
    assert {name: path.read_bytes() for name, path in checkpoints.items()} == saved
    assert (out / "generator.eqx").read_bytes() == generator
    capsys.readouterr()
    at = argv.index("--tokeniser-steps") + 1
    assert symm.cli.main([*argv[:at], "61", *argv[at + 1 :]]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]  # after the zoo's progress bar
    assert error.startswith("symm igpg: error:") and "checkpoint of another configuration (steps: 60 there vs 61 now)" in error


def test_a_checkpoint_of_other_data_or_another_key_is_refused(tmp_path):
    from models.igpg import train_vqvae
    from models.train import CheckpointMismatch

    chunks = np.random.default_rng(0).standard_normal((40, 16))
    masks = np.ones_like(chunks, bool)
    config = TokeniserConfig(steps=10, **TOKENISER)
    path = tmp_path / "tokeniser.eqx"
    train_vqvae(chunks, masks, config, key=jax.random.key(0), progress=False, checkpoint=path)
    with pytest.raises(CheckpointMismatch, match="data: "):
        train_vqvae(chunks + 1.0, masks, config, key=jax.random.key(0), progress=False, checkpoint=path)
    with pytest.raises(CheckpointMismatch, match="key: "):
        train_vqvae(chunks, masks, config, key=jax.random.key(1), progress=False, checkpoint=path)


def test_a_finished_fit_read_back_reports_the_training_time_of_the_run_that_did_it(tmp_path):
    from models.igpg import train_vqvae

    rng = np.random.default_rng(0)
    chunks, masks = rng.normal(size=(32, 4)), np.ones((32, 4), bool)
    config = TokeniserConfig(steps=20, **{**TOKENISER, "chunk_size": 4})
    fit = functools.partial(train_vqvae, chunks, masks, config, key=jax.random.key(0), progress=False,
                            checkpoint=tmp_path / "tokeniser.eqx")
    _, first = fit()
    _, again = fit()  # read back, not trained again
    assert first["seconds"] > 0 and again["seconds"] == first["seconds"]
    np.testing.assert_array_equal(again["loss"], first["loss"])
