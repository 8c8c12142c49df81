"""pyproject.toml declares exactly what the library imports (no unused, no undeclared dependency)."""

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("symm", "models", "proofs", "examples", "benchmarks")
IMPORT_NAME = {"pillow": "PIL", "scikit-learn": "sklearn", "scikit-image": "skimage"}
OURS = set(PACKAGES) | {"tests", "_strategies"}


def _imported() -> set[str]:
    names = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names.add(node.module.split(".")[0])
    return names - OURS - set(sys.stdlib_module_names)


def test_declared_dependencies_are_imported_and_imports_are_declared():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    modules = {IMPORT_NAME.get(n, n) for n in (re.match(r"[A-Za-z0-9_.-]+", d)[0].lower() for d in declared)}
    imported = _imported()
    assert not modules - imported, f"declared but never imported: {sorted(modules - imported)}"
    assert not imported - modules, f"imported but not declared: {sorted(imported - modules)}"
