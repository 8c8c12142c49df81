"""Progress a person can trust: bars that move every few seconds, and a warning up front when
a run will take hours on this machine.

Compiled loops run in chunks; ``ChunkPlanner`` picks each chunk's length from the speed
measured so far, so a slow CPU still sees its bar move and a fast GPU is not held back by
host round-trips. ``warn_if_long`` turns the measured speed into one line at the start.
"""

from __future__ import annotations

import math
import sys

from tqdm.auto import tqdm

LONG_RUN_SECONDS = 3600.0


def format_duration(seconds: float) -> str:
    """``"42 s"``, ``"7 min"``, ``"3.5 hours"``: the unit a person would say."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} hours"


def warn_if_long(what: str, seconds: float, *, advice: str, file=None) -> bool:
    """Print one line when ``seconds`` (the estimate for the rest of a run) is an hour or more."""
    if not math.isfinite(seconds) or seconds < LONG_RUN_SECONDS:
        return False
    tqdm.write(f"{what}: about {format_duration(seconds)} on this machine at the speed measured so far; {advice}",
               file=sys.stderr if file is None else file)
    return True


class ChunkPlanner:
    """How many units (steps, blocks, networks) the next compiled chunk should run.

    The first chunk is a single unit, because it also compiles; after that each chunk is
    sized to take about ``seconds``, between 1 and ``cap`` units. ``seconds_per_unit`` is the
    steady-state speed (compile excluded) once a second chunk has been timed, else ``None``.
    """

    def __init__(self, seconds: float = 2.0, cap: int = 64):
        if seconds <= 0 or cap < 1:
            raise ValueError(f"seconds ({seconds}) must be positive and cap ({cap}) at least 1")
        self.seconds, self.cap = seconds, cap
        self.chunks = 0
        self._per_unit: float | None = None  # the last chunk's time per unit (the first one includes compile)

    @property
    def seconds_per_unit(self) -> float | None:
        return self._per_unit if self.chunks >= 2 else None

    def next(self, remaining: int) -> int:
        if remaining < 1:
            raise ValueError("nothing left to run")
        if self._per_unit is None:
            return 1
        wanted = int(self.seconds / max(self._per_unit, 1e-9))
        return max(1, min(self.cap, remaining, wanted))

    def record(self, units: int, elapsed: float) -> None:
        self._per_unit = elapsed / units
        self.chunks += 1


# Bars whose count moves in fractions (a shard of networks advancing step by step) print it whole.
WHOLE_COUNT_BAR = "{l_bar}{bar}| {n:.0f}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"


def advance_by_steps(bar, units: int):
    """An ``on_steps(k, total)`` callback that moves ``bar`` by ``units`` over ``total`` steps.

    A shard of ``units`` networks trained for ``total`` steps in chunks moves the bar by its
    share after every chunk of ``k`` steps, so the bar and its time estimate move while a
    shard trains, and it lands on the whole count when the shard ends.
    """
    start, done = bar.n, 0

    def on_steps(k: int, total: int) -> None:
        nonlocal done
        done += k
        bar.update(start + units * done / total - bar.n)
        if done >= total:
            bar.n = round(bar.n)

    return on_steps
