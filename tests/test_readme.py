"""The README runs as written: every ```python block, and every table a command prints.

Python blocks run as a reader pasting ONE of them into a fresh session would: each in a
new namespace with jax's default settings restored (float32; not the test suite's float64,
strict promotion or NaN checks), so every block must carry its own imports. They share one
interpreter (to start jax once), in order, in an empty working directory. HTML comments on the lines just above a block adapt it, and each must say why:

    <!-- readme-test: replace `steps=1000` with `steps=100` (fast: the block fits for minutes) -->
    <!-- readme-test: setup symm zoo inr --source digits --limit 4 --out runs/mnist_inr (the zoo it loads) -->
    <!-- readme-test: skip (reason) -->

``replace`` edits the block (its text must occur in the block, so it cannot go stale),
``setup`` runs a ``symm`` command first, ``skip`` leaves the block out. A comment without a
reason in parentheses fails the test.

Command output: a block between ``<!-- generated: symm ARGS -->`` and ``<!-- /generated -->``
is exactly the fenced output of ``symm ARGS`` (with its ``$ symm ARGS`` line). The tables of
``REQUIRED`` must be present: a test fails, rather than skips, when their markers vanish.
Regenerate them with ``.venv/bin/python tests/test_readme.py --write``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MARKER = re.compile(r"<!--\s*readme-test:\s*(replace|setup|skip)\s*(.*?)\s*-->")
REPLACE = re.compile(r"^`(?P<old>[^`]+)`\s+with\s+`(?P<new>[^`]*)`\s+\((?P<why>.+)\)$")
SETUP = re.compile(r"^(?P<cmd>symm\s[^(]+?)\s+\((?P<why>.+)\)$")
SKIP = re.compile(r"^\((?P<why>.+)\)$")
GENERATED = re.compile(r"<!--\s*generated:\s*(symm\s.+?)\s*-->\n(.*?)<!--\s*/generated\s*-->", re.S)
#: Tables the README must carry (a vanished marker is a failure, not a skip).
REQUIRED = (
    "symm simulate --activation tanh --layers 2,16,16,1 --backward",
    "symm simulate --activation cube --layers 2,8,8,8,1",
    "symm simulate --conv 1,4,4 --layers 3,1 --kernel 3 --image 6",
)


@dataclasses.dataclass
class Block:
    line: int  # 1-based line of the opening fence
    code: str
    setup: list[list[str]]
    skip: str | None


class MarkerError(ValueError):
    pass


def python_blocks(text: str) -> list[Block]:
    """Every ```python block with the readme-test comments on the lines just above it."""
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].strip() != "```python":
            i += 1
            continue
        start = i
        j = i + 1
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        code = "\n".join(lines[start + 1 : j]) + "\n"
        setup, skip = [], None
        k = start - 1
        comments = []
        while k >= 0 and MARKER.search(lines[k]):
            comments.insert(0, (k + 1, lines[k]))
            k -= 1
        for number, comment in comments:
            kind, rest = MARKER.search(comment).groups()
            if kind == "replace":
                m = REPLACE.match(rest)
                if not m:
                    raise MarkerError(f"README.md:{number}: write `replace `OLD` with `NEW` (why)`, got {rest!r}")
                if m["old"] not in code:
                    raise MarkerError(f"README.md:{number}: `{m['old']}` is not in the block below it (stale marker)")
                code = code.replace(m["old"], m["new"])
            elif kind == "setup":
                m = SETUP.match(rest)
                if not m:
                    raise MarkerError(f"README.md:{number}: write `setup symm ARGS (why)`, got {rest!r}")
                setup.append(shlex.split(m["cmd"])[1:])
            else:
                m = SKIP.match(rest)
                if not m:
                    raise MarkerError(f"README.md:{number}: a skip needs its reason in parentheses, got {rest!r}")
                skip = m["why"]
        blocks.append(Block(start + 1, code, setup, skip))
        i = j + 1
    return blocks


_RUNNER = textwrap.dedent(
    """
    import json, sys, traceback
    import jax
    import symm.cli
    blocks = json.load(open(sys.argv[1]))
    for block in blocks:
        jax.config.update("jax_enable_x64", False)  # a fresh session's defaults
        jax.config.update("jax_numpy_dtype_promotion", "standard")
        jax.config.update("jax_debug_nans", False)
        namespace = {"__name__": "__readme__"}
        try:
            for argv in block["setup"]:
                if symm.cli.main(argv) != 0:
                    raise RuntimeError(f"setup command symm {' '.join(argv)} failed")
            exec(compile(block["code"], f"README.md (block at line {block['line']})", "exec"), namespace)
        except BaseException:
            print(json.dumps({"line": block["line"], "error": traceback.format_exc()}), flush=True)
            sys.exit(1)
        print(json.dumps({"line": block["line"], "ok": True}), flush=True)
    """
)


def run_blocks(blocks: list[Block], cwd: Path) -> list[dict]:
    """Run the blocks in one fresh interpreter; one result per block that ran (it stops at the first error)."""
    spec = cwd / "blocks.json"
    spec.write_text(json.dumps([dataclasses.asdict(b) for b in blocks]))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-c", _RUNNER, str(spec)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith('{"line"')]
    if proc.returncode != 0 and not any("error" in r for r in results):
        results.append({"line": None, "error": proc.stderr[-3000:]})
    return results


def _describe(results: list[dict]) -> str:
    return "\n".join(r["error"] if "error" in r else f"README.md:{r['line']} ok" for r in results)


def test_every_python_block_of_the_readme_runs(tmp_path):
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 5, "the README's python blocks were not found"
    to_run = [b for b in blocks if b.skip is None]
    results = run_blocks(to_run, tmp_path)
    failed = [r for r in results if "error" in r]
    assert not failed, _describe(results)
    assert [r["line"] for r in results] == [b.line for b in to_run]


def test_the_block_runner_reports_a_failing_block(tmp_path):
    """Negative check of the harness: a block that raises is reported with its README line."""
    text = ("x\n```python\nimport math\n```\n<!-- readme-test: replace `1` with `0` (log of zero) -->\n"
            "```python\nimport math\nmath.log(1)\n```\n")
    blocks = python_blocks(text)
    assert [b.line for b in blocks] == [2, 6] and blocks[1].code == "import math\nmath.log(0)\n"
    results = run_blocks(blocks, tmp_path)
    assert results[0] == {"line": 2, "ok": True}
    assert results[1]["line"] == 6 and "math domain error" in results[1]["error"]
    assert "README.md (block at line 6)" in results[1]["error"]


def test_markers_need_a_reason_and_must_match_their_block():
    with pytest.raises(MarkerError, match="reason"):
        python_blocks("<!-- readme-test: skip -->\n```python\npass\n```\n")
    with pytest.raises(MarkerError, match="stale marker"):
        python_blocks("<!-- readme-test: replace `steps=9` with `steps=1` (fast) -->\n```python\npass\n```\n")
    with pytest.raises(MarkerError, match="setup symm ARGS"):
        python_blocks("<!-- readme-test: setup make demo (why) -->\n```python\npass\n```\n")
    (block,) = python_blocks("<!-- readme-test: skip (needs a GPU) -->\n```python\npass\n```\n")
    assert block.skip == "needs a GPU"


# ------------------------------------------------------------------ generated command output
def command_output(command: str) -> str:
    """What ``command`` (``symm ARGS``) prints, as the README shows it.

    A fresh process with the user's XLA flags: the printed errors are rounding-level numbers,
    and the suite itself compiles at another XLA optimisation level (tests/conftest.py)."""
    env = dict(os.environ, XLA_FLAGS=os.environ.get("SYMM_TEST_USER_XLA_FLAGS", os.environ.get("XLA_FLAGS", "")))
    done = subprocess.run([sys.executable, "-m", "symm", *shlex.split(command)[1:]], env=env, capture_output=True,
                          text=True, timeout=600, cwd=README.parent)
    assert done.returncode == 0, f"{command} exited {done.returncode}: {done.stderr[-2000:]}"
    return f"```\n$ {command}\n{done.stdout.rstrip()}\n```\n"


def generated_blocks(text: str) -> dict[str, str]:
    return {m[1]: m[2] for m in GENERATED.finditer(text)}


def test_required_tables_are_in_the_readme():
    blocks = generated_blocks(README.read_text(encoding="utf-8"))
    missing = [c for c in REQUIRED if c not in blocks]
    assert not missing, f"README lost the generated output of {missing}; restore the <!-- generated: ... --> markers"


@pytest.mark.parametrize("command", REQUIRED)
def test_readme_tables_match_the_commands(command):
    blocks = generated_blocks(README.read_text(encoding="utf-8"))
    assert command in blocks, f"README has no <!-- generated: {command} --> block"
    assert blocks[command] == command_output(command), (
        f"the README's output of `{command}` is stale; run .venv/bin/python tests/test_readme.py --write"
    )


def write_readme() -> None:
    """Regenerate every generated block of the README from the commands."""
    import jax

    jax.config.update("jax_enable_x64", True)
    text = README.read_text(encoding="utf-8")

    def fill(m):
        return f"<!-- generated: {m[1]} -->\n{command_output(m[1])}<!-- /generated -->"

    README.write_text(GENERATED.sub(fill, text), encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write_readme()
    else:
        sys.exit("usage: tests/test_readme.py --write   (regenerates the README's generated blocks)")
