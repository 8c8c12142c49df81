"""``fit``: the one training loop behind every task and every model.

Epochs over the training split in a seeded order, AdamW with warm-up and gradient
clipping (``warmup_adamw`` + ``make_train_step``), validation after every epoch, the
test score kept at the best validation epoch, optional early stopping. After each
epoch the whole state goes into one atomic checkpoint, so a killed run resumes at the
last finished epoch and ends exactly where an uninterrupted run ends.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from models._progress import warn_if_long
from models.gmn import make_train_step, warmup_adamw
from models.train._checkpoint import NAME, CheckpointMismatch, atomic_write_text, load_checkpoint, save_checkpoint
from models.train._parallel import data_mesh, replicate, shard_batch
from models.train._tasks import TaskData


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """Everything that determines a run's result (recorded in its folder and checkpoint)."""

    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-2
    warmup_steps: int | None = None  # None: a tenth of all steps, at most 1000
    patience: int | None = None  # stop after this many epochs without a better validation score
    augment: bool = False  # train on inputs moved by random elements of the derived group
    seed: int = 0

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be >= 1, got {self.epochs}, {self.batch_size}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be >= 1, got {self.patience}")


@dataclasses.dataclass
class FitResult:
    model: Any  # the model at the best validation epoch
    history: list[dict]
    best_epoch: int
    val: float
    test: float
    stopped_early: bool


def _take(tree, index):
    return jax.tree.map(lambda a: a[index], tree)


def predict(model, params, *, batch_size: int, mesh=None) -> np.ndarray:
    """``model`` on every network of ``params`` (numpy leaves), in fixed-size sharded batches."""
    mesh = data_mesh() if mesh is None else mesh
    n = len(jax.tree.leaves(params)[0])
    batch_size = -(-batch_size // mesh.size) * mesh.size
    outputs = []
    for start in range(0, n, batch_size):
        index = np.arange(start, start + batch_size) % n  # the last batch wraps around: one compilation
        out = _apply(model, shard_batch(mesh, _take(params, index)))
        outputs.append(np.asarray(out)[: min(batch_size, n - start)])
    return np.concatenate(outputs)


@eqx.filter_jit
def _apply(model, params):
    return jax.vmap(lambda p: model(p))(params)


def _augmenter(space):
    @eqx.filter_jit
    def augment(params, key):
        keys = jax.random.split(key, len(jax.tree.leaves(params)[0]))
        dtype = jax.tree.leaves(params)[0].dtype
        return jax.vmap(lambda p, k: space.act(space.sample(k, dtype=dtype), p))(params, keys)

    return augment


def _steps_per_epoch(data: TaskData, config: FitConfig, n_devices: int) -> int:
    if config.batch_size % n_devices:
        raise ValueError(f"batch_size {config.batch_size} must be a multiple of the {n_devices} devices")
    n = data.size("train")
    if n < config.batch_size:
        raise ValueError(f"the training split has {n} networks, fewer than one batch of {config.batch_size}")
    return n // config.batch_size


def fit(data: TaskData, model, config: FitConfig = FitConfig(), *, run_dir: str | Path | None = None,
        identity: dict | None = None, progress: bool = True) -> FitResult:
    """Train ``model`` on ``data``; with ``run_dir``, checkpoint there each epoch and resume from it.

    ``identity`` is what else names the run (task, zoo, model name and size); it is
    stored with ``config`` and a checkpoint written under any other values is refused.
    """
    from tqdm.auto import tqdm

    mesh = data_mesh()
    steps = _steps_per_epoch(data, config, mesh.size)
    warmup = config.warmup_steps if config.warmup_steps is not None else min(1000, steps * config.epochs // 10)
    optimizer = warmup_adamw(config.lr, weight_decay=config.weight_decay, warmup_steps=warmup)
    step = make_train_step(optimizer, data.loss)
    augment = _augmenter(data.space) if config.augment else None
    run_config = {**(identity or {}), **dataclasses.asdict(config)}

    key = jax.random.key(config.seed)
    opt_state = optimizer.init(eqx.filter(model, eqx.is_inexact_array))
    state = {"model": model, "best": model, "opt_state": opt_state, "key": jax.random.key_data(key)}
    header = {"config": run_config, "epoch": 0, "history": [], "best_epoch": -1, "best_val": None,
              "best_test": None, "stale": 0, "done": False}
    ckpt = None
    if run_dir is not None:
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        ckpt = run_dir / NAME
        config_path = run_dir / "config.json"
        if config_path.exists() and not ckpt.exists() and json.loads(config_path.read_text()) != json.loads(
                json.dumps(run_config)):
            raise CheckpointMismatch(f"{config_path}: this folder holds a run of another configuration; "
                                     "use a new --out folder")
        atomic_write_text(config_path, json.dumps(run_config, indent=2, sort_keys=True) + "\n")
        for stale in run_dir.glob("*.tmp"):
            stale.unlink()  # a run killed mid-write leaves only this, never a partial checkpoint
        loaded = load_checkpoint(ckpt, run_config, state)
        if loaded is not None:
            header, state = loaded
    model, opt_state = replicate(mesh, state["model"]), replicate(mesh, state["opt_state"])
    best = state["best"]
    key = jax.random.wrap_key_data(jnp.asarray(state["key"]))
    train_params, train_targets = data.splits["train"]

    def evaluate(m, split):
        params, targets = data.splits[split]
        out = predict(m, params, batch_size=config.batch_size, mesh=mesh)
        loss = float(data.loss(jnp.asarray(out), jnp.asarray(targets)))
        return loss, data.metric(out, targets)

    total = config.epochs * steps
    name = str(run_config.get("model", "fit"))
    done_steps = header["epoch"] * steps
    with tqdm(total=total, initial=done_steps, unit="step", disable=not progress or header["done"],
              desc=name) as bar:
        while not header["done"] and header["epoch"] < config.epochs:
            epoch = header["epoch"]
            start = time.perf_counter()
            key, epoch_key = jax.random.split(key)
            order = np.random.default_rng([config.seed, epoch]).permutation(data.size("train"))
            losses = []
            for i in range(steps):
                index = order[i * config.batch_size : (i + 1) * config.batch_size]
                k_step, k_aug = jax.random.split(jax.random.fold_in(epoch_key, i))
                batch = shard_batch(mesh, _take(train_params, index))
                if augment is not None:
                    batch = augment(batch, k_aug)
                targets = shard_batch(mesh, train_targets[index])
                model, opt_state, loss = step(model, opt_state, batch, targets, k_step)
                losses.append(float(loss))
                bar.update(1)
                bar.set_postfix(loss=f"{losses[-1]:.4f}", val=f"{header['best_val'] or float('nan'):.4f}")
            val_loss, val_metric = evaluate(model, "val")
            test_loss, test_metric = evaluate(model, "test")
            improved = data.better(val_metric, header["best_val"])
            if improved:
                header.update(best_epoch=epoch, best_val=val_metric, best_test=test_metric, stale=0)
                best = model
            else:
                header["stale"] += 1
            header["history"].append({
                "epoch": epoch, "train_loss": float(np.mean(losses)), "val_loss": val_loss, "val": val_metric,
                "test_loss": test_loss, "test": test_metric, "seconds": time.perf_counter() - start,
                "step_losses": losses,
            })
            header["epoch"] = epoch + 1
            header["done"] = header["epoch"] >= config.epochs or (
                config.patience is not None and header["stale"] >= config.patience)
            bar.set_postfix(loss=f"{np.mean(losses):.4f}", val=f"{header['best_val']:.4f}")
            if progress and epoch == done_steps // steps and not header["done"]:  # the first epoch of this run
                warn_if_long(name, (time.perf_counter() - start) * (config.epochs - header["epoch"]),
                             advice="fewer epochs, a smaller zoo or a GPU make it shorter"
                             + ("; stopped, it resumes from its last epoch" if ckpt is not None else ""))
            if ckpt is not None:
                state = {"model": model, "best": best, "opt_state": opt_state, "key": jax.random.key_data(key)}
                save_checkpoint(ckpt, header, state)
                _write_metrics(run_dir, header["history"])
    if ckpt is not None:
        _write_metrics(run_dir, header["history"])
    return FitResult(best, header["history"], header["best_epoch"], header["best_val"], header["best_test"],
                     header["epoch"] < config.epochs)


def _write_metrics(run_dir: Path, history: list[dict]) -> None:
    lines = "".join(json.dumps({k: v for k, v in h.items() if k != "step_losses"}) + "\n" for h in history)
    atomic_write_text(run_dir / "metrics.jsonl", lines)


__all__ = ["FitConfig", "FitResult", "fit", "predict"]
