"""A task run: train one model on one zoo for several seeds, stress-test it, record the result.

A run folder ``RUN`` holds ``seed-0/``, ``seed-1/``, ...; each has ``config.json``,
``metrics.jsonl`` (one JSON line per epoch), ``checkpoint.eqx`` and, once finished,
``result.json`` with the test score at the best validation epoch and the stress test,
and ``predictions.npz``: the best model's test outputs beside the targets (and, for
editing, the original images), for confusion matrices, scatter plots and edited images.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from models.train._checkpoint import atomic_write, atomic_write_text
from models.train._fit import FitConfig, fit, predict
from models.train._mixed import Routed, RoutedSpace
from models.train._models import AUGMENTED, build_model
from models.train._stress import stress_test
from models.train._tasks import TaskData, TaskError, load_task


PREDICTIONS = "predictions.npz"


@dataclasses.dataclass(frozen=True)
class ModelSize:
    """The same size for every method: ``width`` channels, ``n_layers`` message-passing / hidden layers."""

    width: int = 32
    n_layers: int = 2
    branches: int = 1


def train_seed(data: TaskData, model_name: str, seed: int, *, size: ModelSize, config: FitConfig, out: Path,
               zoo: str, dtype=jnp.float32, progress: bool = True) -> dict:
    """One seed: build, ``fit`` (resumable in ``out``), stress-test; writes and returns ``result.json``."""
    if data.canonical and model_name in AUGMENTED:
        raise TaskError(f"{model_name} trains on inputs moved by random group elements, which undoes "
                        "canonicalisation; train it without --canonicalise, or use a model without augmentation")
    config = dataclasses.replace(config, seed=seed, augment=model_name in AUGMENTED)
    model = build_model(model_name, data, width=size.width, n_layers=size.n_layers, branches=size.branches,
                        key=jax.random.fold_in(jax.random.key(seed), 17), dtype=dtype)
    identity = {"task": data.task, "zoo": str(zoo), "model": model_name, **dataclasses.asdict(size),
                "dtype": str(jnp.dtype(dtype))}
    if data.canonical:  # only when set, so runs from before this option still resume
        identity["canonicalise"] = True
    start = time.perf_counter()
    result = fit(data, model, config, run_dir=out, identity=identity, progress=progress)
    outputs = predict(result.model, data.splits["test"][0], batch_size=config.batch_size)
    stress = stress_test(result.model, data, jax.random.fold_in(jax.random.key(seed), 29),
                         batch_size=config.batch_size, outputs=outputs)
    record = {
        **identity, "seed": seed, "metric": data.metric_name, "higher_is_better": data.higher_is_better,
        "val": result.val, "test": result.test, "best_epoch": result.best_epoch, "epochs": len(result.history),
        "stopped_early": result.stopped_early, "stress": stress, "seconds": time.perf_counter() - start,
        "n": {split: data.size(split) for split in ("train", "val", "test")}, "description": data.description,
        "zoo_label": data.label, "run_dir": str(out),
    }
    if isinstance(data.space, RoutedSpace):
        record["members"] = list(data.space.names)
    save_predictions(out, data, outputs)
    atomic_write_text(out / "result.json", json.dumps(record, indent=2, sort_keys=True) + "\n")
    return record


def save_predictions(out: Path, data: TaskData, outputs: np.ndarray) -> None:
    """``predictions.npz`` (atomic): test ``outputs``, ``targets``; for editing, ``originals`` and ``image_shape``;
    for a mixed zoo, ``members`` (each network's index into ``data.space.names``)."""
    arrays = {"outputs": np.asarray(outputs), "targets": np.asarray(data.splits["test"][1])}
    test_params = data.splits["test"][0]
    if isinstance(test_params, Routed):
        arrays["members"] = np.asarray(test_params.which)
    if data.images is not None:
        arrays["originals"] = data.images["test"]
        arrays["image_shape"] = np.asarray([data.render.height, data.render.width, data.render.channels])
    atomic_write(out / PREDICTIONS, lambda f: np.savez(f, **arrays))


def load_predictions(run_dir: str | Path) -> dict[str, np.ndarray]:
    """The arrays ``save_predictions`` wrote into ``run_dir``."""
    with np.load(Path(run_dir) / PREDICTIONS) as f:
        return dict(f)


def train_task(task: str, zoo: str | Path, model_name: str, out: str | Path, *, seeds: int = 3,
               size: ModelSize = ModelSize(), config: FitConfig = FitConfig(), subset: str | None = None,
               dtype=jnp.float32, progress: bool = True, data: TaskData | None = None,
               canonicalise: bool = False) -> list[dict]:
    """``seeds`` runs of ``model_name`` on ``task`` into ``out/seed-<s>``.

    ``canonicalise``: train and score on canonicalised networks (``load_task``); ignored
    when ``data`` is given (it says itself whether it is canonical).
    """
    if data is None:
        data = load_task(task, zoo, subset=subset, dtype=np.dtype(dtype), canonicalise=canonicalise)
    out = Path(out)
    return [train_seed(data, model_name, s, size=size, config=config, out=out / f"seed-{s}", zoo=str(zoo),
                       dtype=dtype, progress=progress) for s in range(seeds)]


__all__ = ["ModelSize", "load_predictions", "save_predictions", "train_seed", "train_task"]
