"""Test setup: float64, strict dtype promotion and NaN checks everywhere."""

import os
from pathlib import Path

import jax
import pytest

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_debug_nans", True)

SHARED_DATA = Path(os.environ.get("SYMM_SHARED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))


@pytest.fixture
def key():
    return jax.random.key(0)


@pytest.fixture
def shared_data() -> Path:
    """The ../shared/data folder; tests that need it skip cleanly where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is absent")
    return SHARED_DATA


# Opt-in marks: skipped by default with the reason shown, run when named in `-m` (e.g. `-m slow`).
_OPT_IN = {
    "slow": "slow (minutes on 2 CPU cores); run with `pytest -m slow`",
    "gpu": "needs an accelerator; run on the GPU machine with `pytest -m gpu`",
    "data": "needs ../shared/data (Kodak, audio); run with `pytest -m data`",
}


def pytest_collection_modifyitems(config, items):
    selected = config.getoption("-m") or ""
    for item in items:
        for mark, reason in _OPT_IN.items():
            if mark in item.keywords and mark not in selected:
                item.add_marker(pytest.mark.skip(reason=reason))
