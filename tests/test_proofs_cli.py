"""``symm simulate`` prints per-layer errors; bad input is one clear line and exit code 2."""

import pytest

from symm.cli import main


def test_simulate_command_prints_small_per_layer_errors(capsys):
    assert main(["simulate", "--activation", "relu", "--layers", "1,2,1", "--probes", "2", "--backward"]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = out[3:]
    assert [r.split()[0] for r in rows] == ["0", "1", "2"]
    numbers = [float(tok) for r in rows for tok in r.split() if "e" in tok and tok[0].isdigit()]
    assert len(numbers) >= 9 and max(numbers) <= 1e-12


def test_simulate_command_rejects_bad_input(capsys):
    assert main(["simulate", "--activation", "sigmoid"]) == 2
    assert "affine" in capsys.readouterr().err
    assert main(["simulate", "--layers", "2,x"]) == 2
    assert "--layers" in capsys.readouterr().err


@pytest.mark.slow  # compiles a CNN simulation; tests/test_proofs_cnn.py checks the same construction
def test_simulate_command_runs_a_cnn(capsys):
    assert main(["simulate", "--conv", "1,2", "--layers", "2", "--kernel", "3", "--image", "3", "--probes", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "CNN" in out[0]
    rows = out[3:]
    kinds = {"input", "conv", "pool+dense", "dense"}
    assert [next(w for w in r.split() if w in kinds) for r in rows] == ["input", "conv", "pool+dense"]
    assert max(float(r.split()[-1]) for r in rows) <= 1e-12


def test_simulate_command_rejects_bad_cnn_input(capsys):
    assert main(["simulate", "--conv", "1,2", "--backward"]) == 2
    assert "MLPs only" in capsys.readouterr().err
    assert main(["simulate", "--conv", "1,2", "--image", "0"]) == 2
    assert "--image" in capsys.readouterr().err


def test_python_m_proofs_help_prints_help_and_writes_nothing(tmp_path, monkeypatch, capsys):
    import proofs._symbolic
    from proofs.__main__ import main as proofs_main

    def refuse(*args, **kwargs):
        raise AssertionError("--help regenerated the certificates")

    monkeypatch.setattr(proofs._symbolic, "write_certificates", refuse)
    with pytest.raises(SystemExit) as exit_info:
        proofs_main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m proofs") and "--out" in out and "(default:" in out
    with pytest.raises(SystemExit) as exit_info:
        proofs_main(["--bogus"])
    assert exit_info.value.code == 2
    (tmp_path / "file").write_text("x")
    with pytest.raises(SystemExit) as exit_info:
        proofs_main(["--out", str(tmp_path / "file")])
    assert exit_info.value.code == 2 and "is a file" in capsys.readouterr().err
