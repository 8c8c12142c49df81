"""One-file training checkpoints, written atomically.

A checkpoint is a JSON header line (the run's configuration, epoch, metric history and
best-so-far) followed by ``eqx.tree_serialise_leaves`` of the model, the best model, the
optimiser state and the RNG key. Both parts go to ``checkpoint.eqx.tmp``, are flushed to
disk, and are moved into place with ``os.replace``: the file on disk is always one whole
checkpoint, never a mix of two epochs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import equinox as eqx

from models.zoo._storage import _atomic_write_bytes

FORMAT = "symm-train-checkpoint"
NAME = "checkpoint.eqx"


class CheckpointMismatch(ValueError):
    """A run folder holds a checkpoint from another configuration (or not a checkpoint at all)."""


def atomic_write(path: Path, write) -> None:
    """``write(file)`` into ``path.tmp``, fsync, then rename over ``path`` (the zoo's atomic write)."""
    _atomic_write_bytes(Path(path), write)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode()))


def save_checkpoint(path: Path, header: dict, state: Any) -> None:
    line = json.dumps({"format": FORMAT, **header}, sort_keys=True).encode() + b"\n"

    def write(file):
        file.write(line)
        eqx.tree_serialise_leaves(file, state)

    atomic_write(path, write)


def _differences(old: dict, new: dict) -> str:
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return ", ".join(f"{k}: {old.get(k)!r} there vs {new.get(k)!r} now" for k in keys[:4])


def load_checkpoint(path: Path, config: dict, template: Any) -> tuple[dict, Any] | None:
    """``(header, state)`` from ``path``, or ``None`` if there is none; refuses another configuration."""
    path = Path(path)
    if not path.exists():
        return None
    with open(path, "rb") as file:
        try:
            header = json.loads(file.readline())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise CheckpointMismatch(f"{path}: not a symm training checkpoint; use a new --out folder") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise CheckpointMismatch(f"{path}: not a symm training checkpoint; use a new --out folder")
        saved = json.loads(json.dumps(header["config"]))
        if saved != json.loads(json.dumps(config)):
            raise CheckpointMismatch(
                f"{path}: checkpoint of another configuration ({_differences(saved, config)}); "
                "use a new --out folder, or the same settings to resume"
            )
        state = eqx.tree_deserialise_leaves(file, template)
    return header, state


__all__ = ["NAME", "CheckpointMismatch", "atomic_write", "atomic_write_text", "load_checkpoint", "save_checkpoint"]
