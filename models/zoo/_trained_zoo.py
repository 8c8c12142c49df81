"""Zoos of classifiers trained on labelled images (small CNNs, MLPs): what every such zoo shares.

Hyperparameters are drawn per network (learning rate, weight decay, initialisation scale,
dropout, training fraction, steps, activation) and all networks of a shard train at once
under ``vmap``. Each network records its test accuracy, its hyperparameters, and checkpoints
at evenly spaced fractions of its own training run (the first is the initialisation, the
last the end). An architecture plugs in only its forward pass (``logits``), its ``(W, b)``
shapes and how images become its inputs; the training, the storage and the progress bar are
this module's, so a CNN and an MLP zoo of the same settings are built by the same code.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from models._progress import WHOLE_COUNT_BAR, ChunkPlanner, advance_by_steps, warn_if_long
from models.zoo._sources import ImageSource
from models.zoo._storage import ShardWriter, Zoo, flatten_params, layout_entry, load_zoo, param_layout

ACTIVATIONS = ("relu", "tanh")
HYPERPARAMETERS = ("lr", "weight_decay", "init_scale", "dropout", "train_fraction", "steps", "activation")


@dataclasses.dataclass(frozen=True)
class TrainedZooConfig:
    """Ranges the per-network hyperparameters are drawn from (all recorded in the manifest).

    ``lr``, ``weight_decay`` and ``init_scale`` are log-uniform over their ranges;
    ``dropout`` and ``train_fraction`` uniform; ``steps`` uniform integers (inclusive);
    the activation uniform over ``activations``. The source's images are split once,
    by ``split_seed``, into a training pool and a ``test_fraction`` test set. Subclasses add
    the architecture's widths. ``shared_init`` starts every network from one initialisation
    (network 0's, before ``init_scale``), as fixed-seed model zoos do: networks then differ
    only by their data and hyperparameters, so their weights are comparable coordinate by
    coordinate; each keeps its own seed for its data order and dropout.
    """

    n: int = 1000
    activations: tuple[str, ...] = ACTIVATIONS
    lr: tuple[float, float] = (1e-4, 3e-2)
    weight_decay: tuple[float, float] = (1e-6, 1e-1)
    init_scale: tuple[float, float] = (0.2, 2.0)
    dropout: tuple[float, float] = (0.0, 0.5)
    train_fraction: tuple[float, float] = (0.05, 1.0)
    steps: tuple[int, int] = (100, 1000)
    batch_size: int = 32
    checkpoints: int = 5
    test_fraction: float = 0.2
    seed: int = 0
    split_seed: int = 0
    shard_size: int = 256
    shared_init: bool = False

    def __post_init__(self):
        for name in ("activations", "lr", "weight_decay", "init_scale", "dropout", "train_fraction", "steps"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "steps", tuple(int(s) for s in self.steps))
        if self.n < 1 or self.batch_size < 1 or self.shard_size < 1:
            raise ValueError("n, batch_size and shard_size must be >= 1")
        unknown = sorted(set(self.activations) - set(ACTIVATIONS))
        if not self.activations or unknown:
            raise ValueError(f"activations must be drawn from {ACTIVATIONS}, got {self.activations}")
        for name, lo_min in (("lr", 0.0), ("weight_decay", 0.0), ("init_scale", 0.0)):
            lo, hi = getattr(self, name)
            if not (lo > lo_min and hi >= lo):
                raise ValueError(f"{name} range must satisfy 0 < low <= high (log-uniform), got {(lo, hi)}")
        if not (0.0 <= self.dropout[0] <= self.dropout[1] < 1.0):
            raise ValueError(f"dropout range must lie in [0, 1), got {self.dropout}")
        if not (0.0 < self.train_fraction[0] <= self.train_fraction[1] <= 1.0):
            raise ValueError(f"train_fraction range must lie in (0, 1], got {self.train_fraction}")
        if not (1 <= self.steps[0] <= self.steps[1]):
            raise ValueError(f"steps range must satisfy 1 <= low <= high, got {self.steps}")
        if self.checkpoints < 2:
            raise ValueError("checkpoints must be >= 2 (the initialisation and the final weights)")
        if not (0.0 < self.test_fraction < 1.0):
            raise ValueError(f"test_fraction must lie in (0, 1), got {self.test_fraction}")

    def _check_widths(self, name: str) -> None:
        """Subclasses: the architecture field ``name`` is a non-empty tuple of positive widths."""
        object.__setattr__(self, name, tuple(getattr(self, name)))
        widths = getattr(self, name)
        if not widths or min(widths) < 1:
            raise ValueError(f"{name} must be positive widths, got {widths}")


def draw_hyperparameters(config: TrainedZooConfig) -> dict[str, np.ndarray]:
    """Every network's hyperparameters, fixed by ``config.seed`` (one draw for the whole zoo)."""
    rng = np.random.default_rng([config.seed, 1])
    n = config.n
    log_uniform = lambda lo, hi: np.exp(rng.uniform(np.log(lo), np.log(hi), n))
    return {
        "lr": log_uniform(*config.lr).astype(np.float32),
        "weight_decay": log_uniform(*config.weight_decay).astype(np.float32),
        "init_scale": log_uniform(*config.init_scale).astype(np.float32),
        "dropout": rng.uniform(*config.dropout, n).astype(np.float32),
        "train_fraction": rng.uniform(*config.train_fraction, n).astype(np.float32),
        "steps": rng.integers(config.steps[0], config.steps[1] + 1, n).astype(np.int64),
        "activation": rng.integers(0, len(config.activations), n).astype(np.int8),
    }


def activation_codes(config: TrainedZooConfig, drawn: np.ndarray) -> np.ndarray:
    """What ``activate`` reads (indices into ``ACTIVATIONS``) for networks whose stored
    ``activation`` indexes ``config.activations``, as the manifest and ``Zoo.activations`` do.
    A zoo of ``activations=("tanh",)`` stores 0 for tanh; training must not read that 0 as relu."""
    return np.array([ACTIVATIONS.index(name) for name in config.activations], np.int8)[np.asarray(drawn, np.int64)]


def split_train_test(n_images: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint index arrays (train pool, test set) of the source images."""
    order = np.random.default_rng(seed).permutation(n_images)
    n_test = max(1, int(round(n_images * test_fraction)))
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def checkpoint_steps(steps: np.ndarray, checkpoints: int) -> np.ndarray:
    """``[B, K]`` steps at which each network is saved: evenly spaced from 0 to its own ``steps``."""
    return (np.arange(checkpoints)[None] * np.asarray(steps, np.int64)[:, None]) // (checkpoints - 1)


def he_init(key, shapes, init_scale):
    """He-normal weights (fan-in: every axis of ``W`` but the first) times ``init_scale``, zero biases."""
    keys = jax.random.split(key, len(shapes))
    params = []
    for k, (w_shape, b_shape) in zip(keys, shapes):
        fan_in = int(np.prod(w_shape[1:]))
        W = jax.random.normal(k, w_shape, jnp.float32) * (init_scale * jnp.sqrt(jnp.float32(2.0 / fan_in)))
        params.append((W, jnp.zeros(b_shape, jnp.float32)))
    return tuple(params)


def shared_initialisation(shapes, seed: int = 0) -> tuple:
    """The one initialisation every network of a ``shared_init`` zoo of ``seed`` starts from.

    A function of the shapes and the seed alone, so a generator that reads it can be given
    the initialisation of an architecture it never saw a zoo of."""
    from models.zoo._inr_zoo import network_seeds

    return he_init(_keys(network_seeds(seed, [0])[0])[0], [tuple(map(tuple, s)) for s in shapes], 1.0)


def activate(z, activation: int):
    """``activation`` is 0 (relu) or 1 (tanh), a Python int: a vmapped group of networks shares
    one (``train_networks`` groups them so), and computes only that one."""
    return jax.nn.relu(z) if activation == 0 else jnp.tanh(z)


def drop(h, layer: int, dropout, key):
    """Inverted dropout of hidden features ``h`` (rate ``dropout``); no-op when ``key`` is None.

    Features ``[N, F]`` drop one by one; feature maps ``[N, H, W, C]`` drop whole channels
    (spatial dropout: neighbouring pixels are correlated, so dropping single pixels barely
    regularises, and drawing a mask per pixel was about a quarter of a CNN training step on CPU)."""
    if key is None:
        return h
    shape = (h.shape[0], *(1,) * (h.ndim - 2), h.shape[-1])
    keep = jax.random.bernoulli(jax.random.fold_in(key, layer), 1.0 - dropout, shape)
    return jnp.where(keep, h / (1.0 - dropout), jnp.zeros_like(h))


def labelled_classes(source: ImageSource, unit: str) -> int:
    """The number of classes of a labelled source; one line if it is unlabelled."""
    if source.labels.min() < 0:
        raise ValueError(f"source {source.name!r} has unlabelled images; {unit} zoos need class labels")
    return source.n_classes


def _accuracy(logits, params, images, labels, activation, chunk: int = 128):
    """Fraction classified correctly, evaluated ``chunk`` images at a time to bound memory."""
    n = images.shape[0]
    n_chunks = -(-n // chunk)
    pad = n_chunks * chunk - n
    images = jnp.concatenate([images, jnp.zeros((pad, *images.shape[1:]), images.dtype)])
    labels = jnp.concatenate([labels, jnp.full((pad,), -1, labels.dtype)])  # -1 never matches a prediction

    def count(total, batch):
        x, y = batch
        return total + jnp.sum(jnp.argmax(logits(params, x, activation), -1) == y).astype(jnp.int32), None

    batches = (images.reshape(n_chunks, chunk, *images.shape[1:]), labels.reshape(n_chunks, chunk))
    correct, _ = jax.lax.scan(count, jnp.zeros((), jnp.int32), batches)
    return correct.astype(jnp.float32) / n


def _keys(seed):
    return jax.random.split(jax.random.key(seed), 3)  # init, pool permutation, data


def _optimiser(h):
    return optax.adamw(h["lr"], weight_decay=h["weight_decay"])


@eqx.filter_jit
def _start(seeds, init_seeds, hyper, n_train, *, shapes, checkpoints):
    """Every network's initial params (drawn from ``init_seeds``), optimiser state, checkpoint buffer and pool."""

    def start_one(seed, init_seed, h):
        init_key = _keys(init_seed)[0]
        perm_key = _keys(seed)[1]
        params = he_init(init_key, shapes, h["init_scale"])
        # The network sees only the first train_fraction of its own permutation of the pool.
        pool = jax.random.permutation(perm_key, n_train)
        saved = jax.tree.map(lambda p: jnp.broadcast_to(p[None], (checkpoints, *p.shape)), params)
        return params, _optimiser(h).init(params), saved, pool

    return jax.vmap(start_one)(seeds, init_seeds, hyper)


@eqx.filter_jit
def _steps(logits, carry, seeds, hyper, train_x, train_y, start, n_steps, *, batch_size, activation: int):
    """Steps ``start .. start + n_steps`` (traced, so every chunk reuses one program) of every
    network of a group that shares ``activation``."""
    n_train = train_x.shape[0]

    def steps_one(carry, seed, h):
        data_key = _keys(seed)[2]
        optimiser = _optimiser(h)
        n_seen = jnp.maximum(1, jnp.floor(h["train_fraction"] * n_train).astype(jnp.int32))

        def loss(params, idx, key):
            out = logits(params, train_x[idx], activation, dropout=h["dropout"], key=key)
            return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(out, train_y[idx]))

        def step(t, carry):
            params, state, saved, pool = carry
            k = jax.random.fold_in(data_key, t)
            idx = pool[jax.random.randint(jax.random.fold_in(k, 0), (batch_size,), 0, n_seen)]
            grads = jax.grad(loss)(params, idx, jax.random.fold_in(k, 1))
            with jax.numpy_dtype_promotion("standard"):  # optax mixes python floats and int32 step counts
                updates, new_state = optimiser.update(grads, state, params)
            active = t < h["steps"].astype(jnp.int32)
            keep = lambda new, old: jnp.where(active, new, old)
            params = jax.tree.map(keep, optax.apply_updates(params, updates), params)
            state = jax.tree.map(keep, new_state, state)
            hit = h["marks"] == t + 1
            saved = jax.tree.map(lambda s, p: jnp.where(hit.reshape((-1,) + (1,) * p.ndim), p[None], s), saved, params)
            return params, state, saved, pool

        return jax.lax.fori_loop(start, start + n_steps, step, carry)

    return jax.vmap(steps_one)(carry, seeds, hyper)


@eqx.filter_jit
def _evaluate(logits, saved, train_x, train_y, test_x, test_y, activation: int):
    def evaluate_one(saved):
        evaluate = lambda x, y: jax.lax.map(lambda p: _accuracy(logits, p, x, y, activation), saved)
        return evaluate(train_x, train_y), evaluate(test_x, test_y)

    return jax.vmap(evaluate_one)(saved)


def default_group_size() -> int:
    """Networks per vmapped group: 4 on CPU, where larger vmapped batches of small matmuls ran
    slower (16-16-16 CNNs on digits, idle 2 cores, network-steps/s: 581 in groups of 1, 839 of 4,
    778 of 8, 590 of 16, 518 of 32); 32 on accelerators, which need the batch to fill."""
    return 4 if jax.default_backend() == "cpu" else 32


def train_networks(logits: Callable, seeds, hyper, train_x, train_y, test_x, test_y, *, shapes, max_steps, batch_size,
                   checkpoints, group_size: int | None = None, on_steps=None, seconds_per_update: float = 2.0,
                   init_seeds=None):
    """Train one network per row of ``hyper`` (dict of ``[B]`` arrays) with forward pass ``logits``.

    ``logits(params, inputs [N, ...], activation, dropout=, key=)`` is the architecture's
    forward pass on a batch of its inputs; ``shapes`` its ``(W, b)`` shapes.
    The networks train ``group_size`` (default: ``default_group_size()``) at a time under one
    vmap, grouped by activation (a group computes only its own) and then by their own ``steps``,
    so a group stops at its longest member instead of at ``max_steps`` (in groups larger than
    one, with steps drawn uniformly, this skips about a third of the work). Steps beyond a network's
    own ``steps`` leave it unchanged; ``hyper["marks"]`` ``[B, K]`` are the checkpoint steps and
    ``hyper["activation"]`` indices into ``ACTIVATIONS`` (``activation_codes``).
    ``init_seeds`` (default ``seeds``) draw the initialisations.
    Returns final params, checkpoint params ``[B, K, ...]`` and the train and test
    accuracies at every checkpoint ``[B, K]``, in the order of the rows.

    The steps run in chunks of about ``seconds_per_update`` (one compiled program whatever
    their length), and ``on_steps(n, total)`` is called after each chunk of ``n`` of the
    ``total`` group-steps, so a progress bar moves while a shard trains. The result does
    not depend on the chunks.
    """
    n = len(seeds)
    init_seeds = seeds if init_seeds is None else init_seeds
    size = max(1, min(default_group_size() if group_size is None else group_size, n))
    own = np.minimum(np.asarray(hyper["steps"], np.int64), max_steps)
    codes = np.asarray(hyper["activation"], np.int64)
    groups = []
    for code in np.unique(codes):
        order = np.flatnonzero(codes == code)
        order = order[np.argsort(own[order], kind="stable")]
        order = np.concatenate([order, np.full(-len(order) % size, order[-1])])  # padded with its longest
        groups.extend(order.reshape(-1, size))
    lengths = [int(own[group].max()) for group in groups]
    total, results = sum(lengths), []
    for group, length in zip(groups, lengths):
        part = {name: value[group] for name, value in hyper.items()}
        activation = int(codes[group[0]])
        carry = _start(seeds[group], init_seeds[group], part, train_x.shape[0], shapes=shapes, checkpoints=checkpoints)
        planner, done = ChunkPlanner(seconds_per_update, cap=max(length, 1)), 0
        while done < length:
            k = planner.next(length - done)
            clock = time.perf_counter()
            carry = jax.block_until_ready(_steps(logits, carry, seeds[group], part, train_x, train_y,
                                                 jnp.asarray(done, jnp.int32), jnp.asarray(k, jnp.int32),
                                                 batch_size=batch_size, activation=activation))
            planner.record(k, time.perf_counter() - clock)
            done += k
            if on_steps is not None:
                on_steps(k, total)
        params, _, saved, _ = carry
        results.append((params, saved, *_evaluate(logits, saved, train_x, train_y, test_x, test_y, activation)))
    _, rows = np.unique(np.concatenate(groups), return_index=True)  # each row's first place among the trained
    return jax.tree.map(lambda *parts: jnp.concatenate(parts)[rows], *results)


def zoo_generator(config: TrainedZooConfig, source: ImageSource, architecture: dict) -> dict:
    """What determines a zoo's content, as its manifest records it (resuming compares it)."""
    return {"config": dataclasses.asdict(config), "source": source.describe(), "architecture": architecture}


def build_trained_zoo(source: ImageSource, out: str | Path, config: TrainedZooConfig, *, kind: str, unit: str,
                      architecture: dict, shapes, logits: Callable, inputs: Callable, progress: bool = True) -> Zoo:
    """Train the zoo of ``kind`` into ``out`` (resuming whatever is already there) and load it.

    ``inputs(images NHWC)`` turns the source's images into the architecture's inputs;
    ``unit`` names one network on the progress bar ("CNN", "MLP"). The records and splits
    are those ``build_cnn_zoo`` documents.
    """
    from tqdm.auto import tqdm

    from models.zoo._inr_zoo import network_seeds, split_of_images

    labels = source.labels
    k = config.checkpoints
    layout = {
        **param_layout(shapes, np.float32),
        **param_layout(shapes, np.float32, prefix="ckpt.", extra=(k,)),
        **{name: layout_entry((), np.int8 if name == "activation" else np.int64 if name == "steps" else np.float32)
           for name in HYPERPARAMETERS},
        "seed": layout_entry((), np.uint32),
        "split": layout_entry((), np.int8),
        "checkpoint_step": layout_entry((k,), np.int64),
        "train_accuracy": layout_entry((), np.float32),
        "test_accuracy": layout_entry((), np.float32),
        "train_accuracy_ckpt": layout_entry((k,), np.float32),
        "test_accuracy_ckpt": layout_entry((k,), np.float32),
    }
    writer = ShardWriter(
        out, kind=kind, generator=zoo_generator(config, source, architecture), layout=layout, n=config.n,
        shard_size=min(config.shard_size, config.n),  # never train more networks than the zoo holds
    )
    hyper = draw_hyperparameters(config)
    network_split = split_of_images(config.n, (0.8 * 0.5, 0.2 * 0.5, 0.5), config.split_seed)
    train_idx, test_idx = split_train_test(len(source), config.test_fraction, config.split_seed)
    data = (jnp.asarray(inputs(source.images[train_idx])), jnp.asarray(labels[train_idx]),
            jnp.asarray(inputs(source.images[test_idx])), jnp.asarray(labels[test_idx]))
    todo = writer.pending()
    desc = f"{unit} zoo on {source.name}"
    with tqdm(total=config.n, initial=config.n - sum(len(writer.rows(i)) for i in todo), unit=unit,
              disable=not progress, desc=desc, bar_format=WHOLE_COUNT_BAR) as bar:
        for count, index in enumerate(todo):
            clock = time.perf_counter()
            rows = np.arange(writer.rows(index).start, writer.rows(index).stop)
            seeds = network_seeds(config.seed, rows)
            init_seeds = network_seeds(config.seed, np.zeros_like(rows)) if config.shared_init else seeds
            shard_hyper = {name: value[rows] for name, value in hyper.items()}
            marks = checkpoint_steps(shard_hyper["steps"], k)
            batch = {**shard_hyper, "activation": activation_codes(config, shard_hyper["activation"]),
                     "marks": marks.astype(np.int32)}
            result = train_networks(
                logits, seeds, {n: jnp.asarray(v) for n, v in batch.items()}, *data, shapes=shapes,
                max_steps=config.steps[1], batch_size=config.batch_size, checkpoints=k,
                on_steps=advance_by_steps(bar, len(rows)),  # the bar moves within a shard too
                init_seeds=init_seeds,
            )
            params, saved, train_acc, test_acc = jax.tree.map(np.asarray, result)
            writer.write(
                index,
                {
                    **flatten_params(params),
                    **flatten_params(saved, prefix="ckpt."),
                    **shard_hyper,
                    "seed": seeds,
                    "split": network_split[rows],
                    "checkpoint_step": marks,
                    "train_accuracy": train_acc[:, -1],
                    "test_accuracy": test_acc[:, -1],
                    "train_accuracy_ckpt": train_acc,
                    "test_accuracy_ckpt": test_acc,
                },
            )
            bar.set_postfix(acc=f"{float(np.mean(test_acc[:, -1])):.3f}")
            if count == 0 and progress:  # the first shard also compiles: an upper bound
                warn_if_long(desc, (time.perf_counter() - clock) * (len(todo) - 1),
                             advice="fewer networks (-n), fewer steps or a GPU make it shorter; "
                             "stopped, it resumes from its finished shards")
    return load_zoo(out)
