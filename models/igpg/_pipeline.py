"""Training IGPG end to end on zoos, and the evaluation helpers (accuracy, fine-tuning).

A training set is a list of ``ZooEntry``: networks of one architecture trained on one task.
``train_igpg`` (optionally) canonicalises every network with ``symm.canonicalise_batch``,
(optionally, ``residual``) subtracts its architecture's mean network, fits the tokeniser on
all chunks of all entries, tokenises every network, and fits the prior on the token
sequences under each entry's (task, architecture) conditioning.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import PRNGKeyArray

import symm
from models.igpg._architecture import Architecture
from models.igpg._generator import Generator, conditioning, initialisation_tokens, input_width, subtract_base
from models.igpg._layout import ChunkLayout
from models.igpg._prior import PriorConfig
from models.igpg._tasks import Task
from models.igpg._tokeniser import Tokeniser, normalised_chunks
from models.igpg._train_prior import train_prior
from models.igpg._vqvae import TokeniserConfig, train_vqvae


class ZooShapeError(ValueError):
    """A zoo whose stored weights do not fit its architecture: one line naming the zoo, layer and shapes."""


@dataclasses.dataclass(frozen=True)
class ZooEntry:
    """Networks ``params`` (leading network axis) of ``architecture``, trained on ``task``.

    ``init``: the one initialisation they all started from (a fixed-seed zoo), or None."""

    task: Task
    architecture: Architecture
    params: tuple
    init: tuple | None = None

    def __post_init__(self):
        space = self.space
        try:
            space.validate(self.params, batched=True)
            if self.init is not None:
                space.validate(self.init)
        except ValueError as error:
            raise ZooShapeError(
                f"zoo for task {self.task.name!r} does not fit {str(self.architecture)!r}: {error}"
            ) from None
        if self.architecture.n_outputs != self.task.n_classes:
            raise ZooShapeError(
                f"zoo for task {self.task.name!r} ({self.task.n_classes} classes) has architecture "
                f"{str(self.architecture)!r} with {self.architecture.n_outputs} outputs"
            )

    @property
    def space(self) -> symm.WeightSpace:
        return self.architecture.space(input_width(self.architecture, self.task.source.shape))

    def __len__(self) -> int:
        return int(self.params[0][0].shape[0])


def zoo_entries(task: Task, zoo) -> list[ZooEntry]:
    """One ``ZooEntry`` per activation of a ``models.zoo`` CNN or MLP zoo trained on ``task``."""
    arch = zoo.generator["architecture"]
    if zoo.kind not in ("cnn", "mlp"):
        raise ZooShapeError(f"zoo {zoo.directory}: IGPG reads CNN and MLP zoos, this one is a {zoo.kind} zoo")
    if arch["type"] == "cnn":
        k = arch["kernel_size"]
        layers = ["cnn", *(f"conv{k}x{k}-{c}" for c in arch["channels"][1:]), "gap",
                  *(f"dense-{n}" for n in arch["dense"])]
    else:
        layers = ["mlp", *(f"dense-{n}" for n in arch["sizes"][1:])]
    entries = []
    for activation in sorted(set(zoo.activations)):
        part = zoo.where_activation(activation)
        entries.append(ZooEntry(task, Architecture.parse(" ".join([*layers, activation])), part.params,
                                _shared_start(part)))
    return entries


def _shared_start(zoo) -> tuple | None:
    """The zoo's initialisation when every network started from the same one (checkpoint 0 at step 0)."""
    if "ckpt.W0" not in zoo.arrays or not np.all(np.asarray(zoo["checkpoint_step"])[:, 0] == 0):
        return None
    start = jax.tree.map(lambda a: np.asarray(a[:, 0]), zoo.checkpoints)
    if not all(np.array_equal(a, np.broadcast_to(a[:1], a.shape)) for a in jax.tree_util.tree_leaves(start)):
        return None
    return jax.tree.map(lambda a: a[0], start)


def build_zoo_entries(task: Task, architecture: Architecture | str, out, *, n: int, steps=(200, 400), seed: int = 0,
                      shared_init: bool = False, progress: bool = True) -> list[ZooEntry]:
    """Train (or resume) a ``models.zoo`` CNN or MLP zoo of ``architecture`` on ``task`` in ``out``.

    Both kinds draw their hyperparameters from the same ranges, so a training set that mixes
    CNNs and MLPs differs only in the architectures. ``shared_init``: a fixed-seed zoo, every
    network (of every task, for one ``seed``) starts from the same initialisation at scale 1.
    """
    from models.zoo import CnnZooConfig, MlpZooConfig, build_cnn_zoo, build_mlp_zoo

    arch = Architecture.of(architecture)
    if arch.kind == "cnn" and (len(arch.dense) != 1 or any(k != 3 for k, _ in arch.convs)):
        raise ValueError(
            f"models.zoo trains CNNs of 3x3 convolutions, pooling and one dense layer; {str(arch)!r} is not one"
        )
    if arch.kind == "mlp" and len(arch.dense) < 2:
        raise ValueError(f"models.zoo trains MLPs with at least one hidden layer; {str(arch)!r} has none")
    if arch.n_outputs != task.n_classes:
        raise ValueError(f"task {task.name!r} has {task.n_classes} classes; end the description with dense-{task.n_classes}")
    ranges = dict(
        n=n, activations=(arch.activation,), steps=tuple(steps), lr=(3e-3, 2e-2), weight_decay=(1e-6, 1e-3),
        init_scale=(1.0, 1.0) if shared_init else (0.5, 1.5), dropout=(0.0, 0.1), train_fraction=(0.5, 1.0),
        checkpoints=2, seed=seed, shard_size=min(n, 64), test_fraction=task.test_fraction, split_seed=task.split_seed,
        shared_init=shared_init,
    )
    if arch.kind == "cnn":
        zoo = build_cnn_zoo(task.source, out, CnnZooConfig(channels=tuple(c for _, c in arch.convs), **ranges),
                            progress=progress)
    else:
        zoo = build_mlp_zoo(task.source, out, MlpZooConfig(hidden=arch.dense[:-1], **ranges), progress=progress)
    return zoo_entries(task, zoo)


@dataclasses.dataclass(frozen=True)
class IgpgConfig:
    """The tokeniser, the prior, and whether to tokenise ``symm.canonicalise`` representatives.

    ``canonicalise`` (the symmetry-aware variant) is off by default: on fixed-seed zoos the
    raw weights are already aligned across networks, and sorting neurons breaks that
    alignment (benchmarks/igpg.py measures both).

    ``residual``: tokenise each network's difference from its architecture's mean network over
    the training zoo (kept in ``Generator.bases``), so the prior models how a task's networks
    differ from the average one rather than the average itself, which it would otherwise
    have to memorise weight by weight. It replaces ``read_init`` (the value per weight that
    the mean already holds)."""

    tokeniser: TokeniserConfig = TokeniserConfig()
    prior: PriorConfig = PriorConfig()
    canonicalise: bool = False
    residual: bool = False

    def __post_init__(self):
        for option in ("weight_coordinates", "read_init", "dataset_at_output_rows"):
            if getattr(self.prior, option) and not self.tokeniser.per_weight:
                raise ValueError(f"PriorConfig({option}=True) needs TokeniserConfig(per_weight=True): "
                                 "only then is token p the weight p whose coordinates, initialisation and class it reads")
        if self.residual and self.prior.read_init:
            raise ValueError("IgpgConfig(residual=True) replaces PriorConfig(read_init=True): the architecture's "
                             "mean network already holds each weight's value; set read_init=False")


def entry_conditioning(entry: ZooEntry, tokeniser: Tokeniser, config: IgpgConfig):
    """The prior's conditioning for the networks of ``entry`` (with their initialisation's tokens
    when the prior reads it)."""
    init_tokens = None
    if config.prior.read_init:
        if entry.init is None:
            raise ValueError(f"PriorConfig(read_init=True) needs fixed-seed zoos, and the zoo for task "
                             f"{entry.task.name!r} ({entry.architecture}) did not start from one initialisation: "
                             "build it with shared_init=True")
        # The raw initialisation, canonicalised variant or not: generation has only that.
        init_tokens = initialisation_tokens(tokeniser, entry.architecture, entry.space, entry.init)
    return conditioning(entry.architecture, *entry.task.conditioning_images(), n_classes=entry.task.n_classes,
                        init_tokens=init_tokens)


def prepare_params(entry: ZooEntry, canonicalise: bool, dtype):
    params = jax.tree.map(lambda a: jnp.asarray(a, dtype), entry.params)
    return symm.canonicalise_batch(entry.space, params) if canonicalise else params


def architecture_means(entries: list[ZooEntry], prepared: list[tuple]) -> dict[str, tuple]:
    """Each architecture's mean network over all its training networks (every task), by description."""
    groups: dict[str, list] = {}
    for entry, params in zip(entries, prepared):
        groups.setdefault(str(entry.architecture), []).append(params)
    return {arch: jax.tree.map(lambda *a: jnp.mean(jnp.concatenate(a), axis=0), *group) for arch, group in groups.items()}


def train_igpg(entries: list[ZooEntry], config: IgpgConfig = IgpgConfig(), *, key: PRNGKeyArray, dtype=None,
               progress: bool = True, checkpoint_dir: str | Path | None = None,
               checkpoint_seconds: float = 60.0) -> tuple[Generator, dict]:
    """Fit tokeniser then prior on ``entries``; returns the generator and timings / loss histories.

    With ``checkpoint_dir``, each fit checkpoints into its own file there (``tokeniser.eqx``,
    ``prior.eqx``) every ``checkpoint_seconds``, and a run started again with the same
    settings resumes where it stopped, to the same generator bit for bit (a finished fit is
    read back, not redone).
    """
    if not entries:
        raise ValueError("train_igpg needs at least one zoo entry")
    dtype = jnp.result_type(float) if dtype is None else dtype
    k_tok, k_prior = jax.random.split(key)
    t0 = time.perf_counter()
    K = config.tokeniser.chunk_size
    prepared = [prepare_params(e, config.canonicalise, dtype) for e in entries]
    bases = architecture_means(entries, prepared) if config.residual else {}
    prepared = [subtract_base(p, bases.get(str(e.architecture)), batched=True) for e, p in zip(entries, prepared)]
    layouts = [ChunkLayout(e.space, K) for e in entries]
    chunks = np.concatenate([np.asarray(normalised_chunks(l, p, batched=True)).reshape(-1, K) for l, p in zip(layouts, prepared)])
    masks = np.concatenate([np.tile(l.mask(), (len(e), 1)) for l, e in zip(layouts, entries)])
    files = {name: None if checkpoint_dir is None else Path(checkpoint_dir) / f"{name}.eqx"
             for name in ("tokeniser", "prior")}
    vqvae, tok_history = train_vqvae(chunks, masks, config.tokeniser, key=k_tok, dtype=dtype, progress=progress,
                                     checkpoint=files["tokeniser"], checkpoint_seconds=checkpoint_seconds)
    tokeniser = Tokeniser(vqvae)
    sequences, conds = [], []
    for entry, layout, params in zip(entries, layouts, prepared):
        tokens = np.asarray(tokeniser.encode_batch(layout, params))
        cond = entry_conditioning(entry, tokeniser, config)
        sequences.extend(tokens)
        conds.extend([cond] * len(tokens))
    prior, prior_history = train_prior(sequences, conds, tokeniser.codebook_size, config.prior, key=k_prior,
                                       dtype=dtype, progress=progress, checkpoint=files["prior"],
                                       checkpoint_seconds=checkpoint_seconds)
    t2 = time.perf_counter()
    # Each fit's own training time, summed over resumed runs (this call's wall time is not
    # the training time when a checkpoint was read back).
    info = {"tokeniser_seconds": tok_history.pop("seconds"), "prior_seconds": prior_history.pop("seconds"),
            "wall_seconds": t2 - t0, "tokeniser_history": tok_history,
            "prior_history": prior_history, "codebook_usage": np.bincount(np.concatenate(sequences),
                                                                         minlength=tokeniser.codebook_size)}
    return Generator(tokeniser, prior, bases), info


@eqx.filter_jit
def _logits(space, params, images):
    return jax.vmap(lambda x: space.apply(params, x))(images)


def accuracy(space: symm.WeightSpace, params, images: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of ``images`` (``[N, C, H, W]``) classified correctly (an MLP reads them flattened)."""
    dtype = jax.tree_util.tree_leaves(params)[0].dtype
    x = jnp.asarray(images, dtype)
    if not space.is_cnn:
        x = x.reshape(x.shape[0], -1)
    return float(jnp.mean(jnp.argmax(_logits(space, params, x), -1) == jnp.asarray(labels)))


def finetune(space: symm.WeightSpace, params, task: Task, *, epochs: int, lr: float = 3e-3, batch_size: int = 32,
             key: PRNGKeyArray) -> list:
    """Adam on the task's training pool; returns the params after each epoch (index 0: the start)."""
    images, labels = task.arrays("train")
    dtype = jax.tree_util.tree_leaves(params)[0].dtype
    x = jnp.asarray(images, dtype)
    if not space.is_cnn:
        x = x.reshape(x.shape[0], -1)
    y = jnp.asarray(labels)
    lr = jnp.asarray(lr, dtype)
    state = optax.adam(lr).init(params)
    out = [params]
    for e in range(epochs):
        params, state = _finetune_epoch(space, params, state, x, y, jax.random.fold_in(key, e), lr, batch_size)
        out.append(params)
    return out


@eqx.filter_jit
def _finetune_epoch(space, params, state, x, y, key, lr, batch_size: int):
    """One shuffled epoch of Adam; module-level so that every start of one shape shares one compilation."""
    optimiser = optax.adam(lr)
    n_batches = max(1, x.shape[0] // batch_size)
    order = jax.random.permutation(key, x.shape[0])[: n_batches * batch_size].reshape(n_batches, batch_size)

    def step(carry, idx):
        params, state = carry
        loss = lambda p: jnp.mean(optax.softmax_cross_entropy_with_integer_labels(
            jax.vmap(lambda v: space.apply(p, v))(x[idx]), y[idx]))
        grads = jax.grad(loss)(params)
        with jax.numpy_dtype_promotion("standard"):
            updates, state = optimiser.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), None

    (params, state), _ = jax.lax.scan(step, (params, state), order)
    return params, state
