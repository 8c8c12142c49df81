"""The `symm derive` command and the error paths of the Python API and the CLI."""

import re
from pathlib import Path

import pytest
import sympy

import symm
from symm._cli_derive import registry_table
from symm.cli import main

BAD_INPUT = [
    ("x*y", "2 free symbols"),
    ("I*x", "not real"),
    ("sqrt(x)", "not real"),
    ("Matrix([x, x])", "not a scalar"),
    ("x+*", "could not parse"),
    ("rleu", "did you mean 'relu'"),
    ("tahn(x)", "did you mean .*'tanh'"),
    ("3", "does not depend on a variable"),
    ("1/x", "not defined at x = 0"),
    ("sin(x)/x", "not defined at x = 0"),
    ("x.func", "could not parse"),
]


@pytest.mark.parametrize("spec, message", BAD_INPUT)
def test_bad_input_python_api(spec, message):
    with pytest.raises(symm.DeriveError, match=message) as info:
        symm.derive(spec)
    assert isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "obj, message",
    [
        (sympy.Matrix([symm.x]), "not a scalar"),
        (sympy.I * symm.x, "not real"),
        (symm.x * sympy.Symbol("y"), "2 free symbols"),
        (sympy.Eq(symm.x, 1), "not a scalar"),
    ],
)
def test_bad_sympy_objects(obj, message):
    with pytest.raises(symm.DeriveError, match=message):
        symm.derive(obj)


def test_bad_parameters():
    with pytest.raises(symm.DeriveError, match="no parameter 'slop'"):
        symm.derive("leaky_relu", slop=0.2)
    with pytest.raises(symm.DeriveError, match="takes 1 parameter"):
        symm.get_activation("leaky_relu(0.1, 3)")
    with pytest.raises(symm.DeriveError, match="must be a real number"):
        symm.get_activation("leaky_relu", slope="abc")


@pytest.mark.parametrize("spec, message", BAD_INPUT)
def test_bad_input_cli_is_one_line(spec, message, capsys):
    assert main(["derive", spec]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("symm derive: error:") and re.search(message, lines[0])
    assert "Traceback" not in captured.err and captured.out == ""


def test_cli_usage_errors(capsys):
    assert main(["derive"]) == 2
    assert main(["derive", "relu", "--all"]) == 2
    assert main(["derive", "relu", "--markdown"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 3


def test_cli_prints_group_phi_offset_and_proof(capsys):
    assert main(["derive", "1/(1+exp(-x))"]) == 0
    out = capsys.readouterr().out
    assert "\ngroup:       sign\n" in out
    assert "\nphi(a):      a\n" in out
    assert "\noffset c(a): 1/2 - a/2\n" in out
    assert "For a = −1" in out and "The positive group is too large" in out
    assert "\ntranslation: t ∈ {0}: only t = 0\n" in out and "Only t = 0." in out


def test_cli_all_lists_every_activation(capsys):
    assert main(["derive", "--all"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert set(rows) == set(symm.registry_names())
    assert rows["relu"][-6:] == ["positive", "a", "0", "{0}", "1", "0"]
    assert rows["signed_square"][-6:] == ["nonzero", "a*Abs(a)", "0", "{0}", "1", "0"]
    assert rows["sin"][-6:] == ["sign", "a", "0", "pi/30·ℤ", "(-1)**k", "0"]
    assert rows["identity"][-6:] == ["nonzero", "a", "0", "ℝ", "1", "t"]


def test_markdown_table(capsys):
    assert main(["derive", "--all", "--markdown"]) == 0
    out = capsys.readouterr().out.strip()
    assert out == registry_table(markdown=True)
    lines = out.splitlines()
    assert lines[0] == "| name | σ(x) | group | φ(a) | c(a) | t ∈ | β | γ |"
    assert "| sigmoid | `1/(1 + exp(-x))` | sign | `a` | `1/2 - a/2` | {0} | `1` | `0` |" in lines
    assert "| cos | `cos(x)` | sign | `1` | `0` | pi·ℤ | `(-1)**k` | `0` |" in lines
    assert len(lines) == 2 + len(symm.registry_names())


def test_readme_table_matches_the_code():
    readme = Path(__file__).resolve().parents[1] / "README.md"
    start, end = "<!-- derive-table -->", "<!-- /derive-table -->"
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    if start not in text or end not in text:
        pytest.skip("README has no derive-table markers")
    block = text.split(start, 1)[1].split(end, 1)[0].strip()
    assert block == registry_table(markdown=True, names=symm.registry_names(builtin_only=True))
