"""Test setup: float64, strict dtype promotion and NaN checks everywhere."""

import gc
import os
from pathlib import Path

# The suite compiles thousands of small XLA programs and runs most of them a few times, so
# LLVM's optimisation passes cost more than they save: at level 0 the suite needs ~40% less
# CPU time. Values differ from level 2 only in rounding (e.g. no fused multiply-adds), which
# every tolerance here allows; benchmarks and user code keep XLA's default level.
# SYMM_TEST_XLA_DEFAULT=1 runs the suite at the default level instead.
# Commands whose printed numbers the README shows run with SYMM_TEST_USER_XLA_FLAGS (tests/test_readme.py).
os.environ.setdefault("SYMM_TEST_USER_XLA_FLAGS", os.environ.get("XLA_FLAGS", ""))
# XLA's newer CPU fusion emitters compile the suite's many small fusions about twice as slowly
# as the classic ones (a bidirectional ScaleGMN's forward pass: 1.5 s against 0.6 s), so the
# suite uses the classic ones too.
_FAST_COMPILE = ("--xla_backend_optimization_level=0", "--xla_cpu_use_fusion_emitters=false")
if not os.environ.get("SYMM_TEST_XLA_DEFAULT"):
    _missing = [flag for flag in _FAST_COMPILE if flag not in os.environ.get("XLA_FLAGS", "")]
    os.environ["XLA_FLAGS"] = " ".join([os.environ.get("XLA_FLAGS", ""), *_missing]).strip()

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_debug_nans", True)
# One on-disk compilation cache, shared by both xdist workers and by the example scripts they
# start (through the environment): most of the suite's CPU time is XLA compiling ScaleGMN
# programs, and the workers (and each module, see below) compile many of the same ones.
# Programs are keyed by their HLO, flags and jax version, so a stale entry is never reused.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".jax-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.3")
jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
jax.config.update("jax_persistent_cache_min_compile_time_secs", float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]))

SHARED_DATA = Path(os.environ.get("SYMM_SHARED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Drop every compiled program after each test module.

    XLA's CPU backend maps memory pages for every executable it keeps (about three mappings
    each). One pytest worker compiles tens of thousands of shapes over the suite; without this
    it passes Linux's vm.max_map_count (65,530) after ~20 minutes and segfaults mid-test.
    """
    yield
    jax.clear_caches()
    gc.collect()


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
