"""On-disk zoos: ``.npz`` shards plus a JSON manifest, written atomically and resumable.

A zoo directory holds ``manifest.json`` (format, version, what generated it and the
shape of every stored array) and ``shard-00000.npz``, ``shard-00001.npz``, ... Each
shard is written to a temporary file and moved into place with ``os.replace``, so a
shard either exists whole or not at all; an interrupted run is resumed by computing
only the missing shards. The manifest records the SHA-256 of every shard's bytes
(``checksums``), recorded before the shard is moved into place and checked on every load,
so a shard altered after it was written (bytes flipped, weights overwritten) is reported. Because each shard depends only on the generator's parameters
and its own index range, a resumed zoo equals an uninterrupted one bit for bit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np

FORMAT = "symm-zoo"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SPLITS = ("train", "val", "test")


class ZooFormatError(ValueError):
    """A zoo file that is missing, corrupt, or does not match its manifest; names the file."""


def _shard_name(index: int) -> str:
    return f"shard-{index:05d}.npz"


def _atomic_write_bytes(path: Path, write) -> None:
    """Write through ``write(file)`` to ``path.tmp``, flush to disk, then rename into place."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as file:
        write(file)
        file.flush()
        os.fsync(file.fileno())
    os.replace(tmp, path)


def _read_manifest(directory: Path) -> dict:
    path = directory / MANIFEST
    if not path.is_file():
        raise ZooFormatError(f"{path}: no zoo manifest here; is {directory} a zoo directory?")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ZooFormatError(f"{path}: corrupt manifest ({error}); regenerate the zoo into a new directory") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ZooFormatError(f"{path}: not a {FORMAT} manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ZooFormatError(
            f"{path}: format version {manifest.get('format_version')} but this symm reads version {FORMAT_VERSION}"
        )
    return manifest


def _read_shard(path: Path, expected: dict, rows: int, checksum: str | None = None) -> dict[str, np.ndarray]:
    """Load one shard and check its bytes against ``checksum`` and every array against the layout.

    ``checksum=None`` only for zoos written before shards carried checksums."""
    if not path.is_file():
        raise ZooFormatError(f"{path}: shard missing; the zoo is incomplete, run the same command again to resume")
    raw = path.read_bytes()
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as error:
        raise ZooFormatError(f"{path}: corrupt shard ({error}); delete it and run the same command to rewrite it") from None
    if set(arrays) != set(expected):
        raise ZooFormatError(
            f"{path}: holds arrays {sorted(arrays)} but the manifest lists {sorted(expected)}; "
            "it belongs to a different zoo"
        )
    for name, spec in expected.items():
        want = (rows, *spec["shape"])
        if arrays[name].shape != want or str(arrays[name].dtype) != spec["dtype"]:
            raise ZooFormatError(
                f"{path}: array {name!r} is {arrays[name].dtype}{list(arrays[name].shape)}, "
                f"the manifest expects {spec['dtype']}{list(want)}"
            )
    if checksum is not None and hashlib.sha256(raw).hexdigest() != checksum:
        raise ZooFormatError(
            f"{path}: checksum mismatch, the shard was changed after it was written; delete it and run the same "
            "command to rewrite it"
        )
    return arrays


class ShardWriter:
    """Creates or resumes a zoo directory and writes its shards atomically.

    ``generator`` is everything that determines the zoo's content (configuration,
    source fingerprint, architecture); resuming with a different one is refused.
    ``layout`` maps each stored array name to ``{"shape": per-network shape, "dtype": str}``.
    """

    def __init__(self, directory: str | Path, *, kind: str, generator: dict, layout: dict, n: int, shard_size: int):
        if n < 1 or shard_size < 1:
            raise ValueError(f"a zoo needs n >= 1 networks and shard_size >= 1, got n={n}, shard_size={shard_size}")
        self.directory = Path(directory)
        self.n = int(n)
        self.shard_size = int(shard_size)
        self.layout = layout
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "kind": kind,
            "n": self.n,
            "shard_size": self.shard_size,
            "n_shards": self.n_shards,
            "generator": generator,
            "layout": layout,
        }
        # Round-trip through JSON so that tuples and lists compare equal.
        manifest = json.loads(json.dumps(manifest))
        self.directory.mkdir(parents=True, exist_ok=True)
        self.checksums: dict[str, str] = {}
        self._legacy = False
        if (self.directory / MANIFEST).exists():
            existing = _read_manifest(self.directory)
            existing.pop("symm_version", None)
            recorded = _checksums(existing, self.directory)
            self._legacy = recorded is None  # written before shards carried checksums: adopt them on resume
            self.checksums = {} if recorded is None else recorded
            existing.pop("checksums", None)
            if existing != manifest:
                differences = _differences(existing, manifest)
                raise ZooFormatError(
                    f"{self.directory / MANIFEST}: this directory holds a different zoo ({differences}); "
                    "use a new output directory, or the same settings to resume"
                )
        else:
            _check_empty(self.directory)
        import symm

        self._manifest = {**manifest, "symm_version": symm.__version__}
        self._write_manifest()
        for stale in self.directory.glob("shard-*.npz.tmp"):
            stale.unlink()  # a run killed mid-write leaves only this, never a partial shard

    @property
    def n_shards(self) -> int:
        return -(-self.n // self.shard_size)

    def rows(self, index: int) -> range:
        """The network indices that shard ``index`` holds."""
        return range(index * self.shard_size, min(self.n, (index + 1) * self.shard_size))

    def path(self, index: int) -> Path:
        return self.directory / _shard_name(index)

    def _write_manifest(self) -> None:
        payload = json.dumps({**self._manifest, "checksums": self.checksums}, indent=2, sort_keys=True)
        _atomic_write_bytes(self.directory / MANIFEST, lambda f: f.write(payload.encode()))

    def pending(self) -> list[int]:
        """Shards still to compute; existing ones are checked, so a corrupt one is reported, not skipped."""
        todo = []
        for index in range(self.n_shards):
            if not self.path(index).exists():
                todo.append(index)
            elif self._legacy and _shard_name(index) not in self.checksums:
                _read_shard(self.path(index), self.layout, len(self.rows(index)))
                self.checksums[_shard_name(index)] = hashlib.sha256(self.path(index).read_bytes()).hexdigest()
                self._write_manifest()
            else:
                _read_shard(self.path(index), self.layout, len(self.rows(index)), self._checksum(index))
        return todo

    def write(self, index: int, arrays: dict[str, np.ndarray]) -> None:
        rows = len(self.rows(index))
        arrays = {name: np.asarray(value) for name, value in arrays.items()}
        if set(arrays) != set(self.layout):
            raise ValueError(f"shard arrays {sorted(arrays)} differ from the layout {sorted(self.layout)}")
        for name, spec in self.layout.items():
            want = (rows, *spec["shape"])
            if arrays[name].shape != want or str(arrays[name].dtype) != spec["dtype"]:
                raise ValueError(f"array {name!r} is {arrays[name].dtype}{arrays[name].shape}, expected {spec}")
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        raw = buffer.getvalue()
        # The checksum is recorded first: a run killed in between leaves the shard missing (recomputed
        # on resume, with a fresh checksum), never a shard without its checksum.
        self.checksums[_shard_name(index)] = hashlib.sha256(raw).hexdigest()
        self._write_manifest()
        _atomic_write_bytes(self.path(index), lambda f: f.write(raw))

    def _checksum(self, index: int) -> str | None:
        return _expected_checksum(self.checksums, self.directory, index)


def _checksums(manifest: dict, directory: Path) -> dict[str, str] | None:
    """The manifest's shard checksums; ``None`` for a zoo written before shards carried them."""
    checksums = manifest.get("checksums")
    if checksums is None:
        return None
    if not isinstance(checksums, dict):
        raise ZooFormatError(f"{directory / MANIFEST}: corrupt checksums entry; regenerate the zoo into a new directory")
    return checksums


def _expected_checksum(checksums: dict | None, directory: Path, index: int) -> str | None:
    if checksums is None:
        return None  # an older zoo: loadable, unverified
    name = _shard_name(index)
    if name not in checksums:
        raise ZooFormatError(
            f"{directory / name}: no checksum recorded for this shard in {MANIFEST}, so it was not written by this "
            "zoo's run; delete it and run the same command to rewrite it"
        )
    return checksums[name]


def _check_empty(directory: Path) -> None:
    """A new zoo goes into an empty (or new) directory, never among unrelated files."""
    others = sorted(p.name for p in directory.iterdir() if p.name != MANIFEST + ".tmp")
    if others:
        shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        raise ZooFormatError(
            f"{directory}: not empty and not a zoo (it holds {shown}); give --out a new or empty directory"
        )


def _differences(old: dict, new: dict, prefix: str = "") -> str:
    diffs = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            inner = _differences(a, b, f"{prefix}{key}.")
            if inner:
                diffs.append(inner)
        elif a != b:
            diffs.append(f"{prefix}{key}: {a!r} on disk vs {b!r} now")
    return "; ".join(diffs[:4])


def layout_entry(shape, dtype) -> dict:
    return {"shape": [int(s) for s in shape], "dtype": str(np.dtype(dtype))}


def param_layout(shapes: list[tuple[tuple[int, ...], tuple[int, ...]]], dtype, prefix: str = "", extra=()) -> dict:
    """Layout entries ``{prefix}W{l}`` / ``{prefix}b{l}`` for a tuple of ``(W, b)`` shapes."""
    layout = {}
    for layer, (w_shape, b_shape) in enumerate(shapes):
        layout[f"{prefix}W{layer}"] = layout_entry((*extra, *w_shape), dtype)
        layout[f"{prefix}b{layer}"] = layout_entry((*extra, *b_shape), dtype)
    return layout


def flatten_params(params, prefix: str = "") -> dict[str, np.ndarray]:
    return {f"{prefix}{n}{layer}": np.asarray(a) for layer, wb in enumerate(params) for n, a in zip("Wb", wb)}


@dataclasses.dataclass(frozen=True)
class Zoo:
    """A loaded zoo: stacked parameters (leading network axis) and per-network records.

    ``zoo.params`` is the project-wide tuple of ``(W, b)`` with a leading zoo axis, ready
    for ``symm.WeightSpace`` (``jax.vmap(space.apply, (0, None))``) and ``models.graph``;
    ``zoo["label"]``, ``zoo["psnr"]``, ``zoo["test_accuracy"]``... are the records.
    """

    directory: Path
    manifest: dict
    arrays: dict[str, np.ndarray]

    @property
    def kind(self) -> str:
        return self.manifest["kind"]

    @property
    def generator(self) -> dict:
        return self.manifest["generator"]

    @property
    def n_layers(self) -> int:
        return sum(1 for name in self.arrays if name.startswith("W"))

    def _params(self, prefix: str):
        import jax.numpy as jnp

        return tuple(
            (jnp.asarray(self.arrays[f"{prefix}W{l}"]), jnp.asarray(self.arrays[f"{prefix}b{l}"]))
            for l in range(self.n_layers)
        )

    @property
    def params(self):
        """Final weights: tuple of ``(W [N, n_out, n_in(, k, k)], b [N, n_out])``."""
        return self._params("")

    @property
    def checkpoints(self):
        """CNN and MLP zoos: weights at every checkpoint, ``W [N, K, ...]``; ``zoo["checkpoint_step"]`` says when."""
        if "ckpt.W0" not in self.arrays:
            raise ValueError(f"the {self.kind} zoo in {self.directory} stores no checkpoints")
        return self._params("ckpt.")

    def records(self) -> list[str]:
        """Names of the per-network records (everything but weights)."""
        return sorted(n for n in self.arrays if not (n[:1] in "Wb" and n[1:].isdigit()) and not n.startswith("ckpt."))

    def __len__(self) -> int:
        return int(self.arrays["split"].shape[0])

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.arrays:
            raise KeyError(f"zoo has no record {name!r}; it has {self.records()}")
        return self.arrays[name]

    def subset(self, index) -> Zoo:
        """The networks selected by a boolean mask or an index array."""
        index = np.asarray(index)
        return dataclasses.replace(self, arrays={k: v[index] for k, v in self.arrays.items()})

    def split(self, name: str) -> Zoo:
        """The ``"train"``, ``"val"`` or ``"test"`` networks (fixed by the generator's split seed)."""
        if name not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {name!r}")
        return self.subset(self.arrays["split"] == SPLITS.index(name))

    @property
    def activations(self) -> list[str]:
        """The activation of each network, by registry name."""
        names = self.generator["architecture"]["activations"]
        return [names[int(i)] for i in self.arrays["activation"]]

    def where_activation(self, name: str) -> Zoo:
        names = self.generator["architecture"]["activations"]
        if name not in names:
            raise ValueError(f"this zoo's activations are {names}, not {name!r}")
        return self.subset(self.arrays["activation"] == names.index(name))

    def weight_space(self):
        """The ``symm.WeightSpace`` these weights live in."""
        import symm

        if not hasattr(symm, "WeightSpace"):
            raise RuntimeError("symm.WeightSpace is not available in this installation")
        arch = self.generator["architecture"]
        used = sorted({arch["activations"][int(i)] for i in self.arrays["activation"]})
        if len(used) != 1:
            raise ValueError(
                f"this zoo mixes the activations {used}; pick one with zoo.where_activation({used[0]!r}) first"
            )
        if arch["type"] == "mlp":
            return symm.WeightSpace.mlp(tuple(arch["sizes"]), used[0])
        return symm.WeightSpace.cnn(
            channels=tuple(arch["channels"]), dense=tuple(arch["dense"]), kernel_size=arch["kernel_size"],
            activations=used[0],
        )


def load_zoo(directory: str | Path, *, allow_partial: bool = False) -> Zoo:
    """Read a zoo directory; every shard is checked against the manifest.

    A missing shard is an error (the run was interrupted) unless ``allow_partial``, which
    loads the finished shards only.
    """
    directory = Path(directory)
    manifest = _read_manifest(directory)
    layout = manifest["layout"]
    checksums = _checksums(manifest, directory)
    parts = []
    for index in range(manifest["n_shards"]):
        path = directory / _shard_name(index)
        rows = min(manifest["n"], (index + 1) * manifest["shard_size"]) - index * manifest["shard_size"]
        if allow_partial and not path.exists():
            continue
        checksum = _expected_checksum(checksums, directory, index) if path.exists() else None
        parts.append(_read_shard(path, layout, rows, checksum))
    if not parts:
        raise ZooFormatError(f"{directory}: no finished shards yet")
    arrays = {name: np.concatenate([p[name] for p in parts]) for name in layout}
    return Zoo(directory, manifest, arrays)
