"""The kill-and-resume harness: start a run in a subprocess, SIGKILL it once it has written something, resume."""

import os
import signal
import subprocess
import time
from pathlib import Path


def environment(cache: Path) -> dict:
    """The subprocess computes exactly as this test process does (conftest's jax settings)."""
    env = dict(os.environ)
    env.update(
        JAX_PLATFORMS="cpu", JAX_ENABLE_X64="1", JAX_NUMPY_DTYPE_PROMOTION="strict", JAX_DEBUG_NANS="1",
        JAX_COMPILATION_CACHE_DIR=str(cache), JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
        JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0",
    )
    return env


def kill_once(command: list[str], env: dict, written: Path, what: str, timeout: float = 300) -> None:
    """Run ``command`` and SIGKILL it as soon as ``written`` exists (it must appear while the run is alive)."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + timeout
        while not written.exists():
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, f"the {what} wrote no {written.name} in time"
            time.sleep(0.002)
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
