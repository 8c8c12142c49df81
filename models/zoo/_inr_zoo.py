"""The SIREN INR zoo: one SIREN per image, all images of a shard fitted at once.

Defaults are those of the MNIST-INR dataset (DWSNets): SIREN 2-32-32-1, ω0 = 30, SIREN
initialisation, coordinates on a [-1, 1]² grid. Pixels are fitted as values in [-1, 1]
(the usual (x - 0.5) / 0.5 normalisation); the PSNR reported is the standard one of the
[0, 1] image, 10·log10(1 / MSE₀₁).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import equinox as eqx
import jax
import numpy as np

from models._progress import WHOLE_COUNT_BAR, ChunkPlanner, advance_by_steps, warn_if_long
from models.inr import siren_apply, siren_init
from models.zoo._sources import ImageSource, select_images
from models.zoo._storage import SPLITS, ShardWriter, Zoo, flatten_params, layout_entry, load_zoo, param_layout

SCHEDULES = ("constant", "cosine")


@dataclasses.dataclass(frozen=True)
class InrZooConfig:
    """How each INR is fitted; every field is recorded in the manifest.

    ``augment`` fits each image that many times from different seeds (the "augmented"
    variant); ``limit`` keeps a stratified subset of that many images (``select_images``,
    seeded by ``split_seed``; recorded in the manifest as ``images``). ``shared_init`` starts
    every INR from the same initialisation (as the MNIST-INR zoo does), so that weights of
    different INRs are comparable coordinate by coordinate. ``split`` gives the
    train/val/test fractions of *images* (all refits of an image share its split),
    drawn with ``split_seed`` so that changing ``seed`` keeps the splits.
    """

    hidden: tuple[int, ...] = (32, 32)
    omega0: float = 30.0
    steps: int = 200
    lr: float = 5e-3
    schedule: str = "cosine"
    seed: int = 0
    augment: int = 1
    limit: int | None = None
    split: tuple[float, float, float] = (55 / 70, 5 / 70, 10 / 70)
    split_seed: int = 0
    shard_size: int = 1024
    shared_init: bool = False

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        object.__setattr__(self, "split", tuple(float(f) for f in self.split))
        if not self.hidden or min(self.hidden) < 1:
            raise ValueError(f"hidden widths must be positive, got {self.hidden}")
        if self.steps < 1 or self.augment < 1 or self.shard_size < 1:
            raise ValueError("steps, augment and shard_size must all be >= 1")
        if not self.lr > 0 or not self.omega0 > 0:
            raise ValueError(f"lr and omega0 must be positive, got lr={self.lr}, omega0={self.omega0}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be >= 1, got {self.limit}")
        if len(self.split) != 3 or min(self.split) < 0 or abs(sum(self.split) - 1.0) > 1e-9:
            raise ValueError(f"split must be three non-negative fractions summing to 1, got {self.split}")


def pixel_grid(height: int, width: int):
    """Coordinates ``[H*W, 2]`` (row, column) on [-1, 1]², row-major like the image."""
    import jax.numpy as jnp

    rows = jnp.linspace(-1.0, 1.0, height, dtype=jnp.float32)
    cols = jnp.linspace(-1.0, 1.0, width, dtype=jnp.float32)
    grid = jnp.stack(jnp.meshgrid(rows, cols, indexing="ij"), axis=-1)
    return grid.reshape(height * width, 2)


def split_of_images(n_images: int, fractions, seed: int) -> np.ndarray:
    """``[n_images]`` split codes (0 train, 1 val, 2 test) from a seeded permutation."""
    n_val = int(round(n_images * fractions[1]))
    n_test = int(round(n_images * fractions[2]))
    order = np.random.default_rng(seed).permutation(n_images)
    codes = np.zeros(n_images, np.int8)
    codes[order[n_images - n_val - n_test : n_images - n_test]] = 1
    codes[order[n_images - n_test :]] = 2
    return codes


def network_seeds(seed: int, indices) -> np.ndarray:
    """One 32-bit seed per network; ``jax.random.key(seed_i)`` reproduces that network alone."""
    return np.array([np.random.SeedSequence([seed, int(i)]).generate_state(1)[0] for i in indices], np.uint32)


def _adam(lr: float, steps: int, schedule: str):
    """Adam whose learning rate is computed in float32 whatever jax's default float is, so a
    fit is the same under ``jax_enable_x64`` (the tests) as without it (every user)."""
    import jax.numpy as jnp
    import optax

    def rate(count):
        if schedule == "constant":
            return jnp.float32(lr)
        t = jnp.minimum(count, steps).astype(jnp.float32) / jnp.float32(steps)
        return jnp.float32(lr) * jnp.float32(0.5) * (jnp.float32(1.0) + jnp.cos(jnp.float32(np.pi) * t))

    return optax.adam(rate)


def _targets(images):
    _, height, width, channels = images.shape
    return pixel_grid(height, width), images.reshape(images.shape[0], height * width, channels) * 2.0 - 1.0


def _to_psnr(mse):
    import jax.numpy as jnp

    return 10.0 * jnp.log10(jnp.float32(4.0) / mse)  # MSE on [-1, 1] is 4x the MSE on [0, 1]


@eqx.filter_jit
def _siren_fit_start(seeds, images, *, sizes, omega0, steps, lr, schedule):
    """The initial params, optimiser state and loss of :func:`fit_sirens`."""
    import jax
    import jax.numpy as jnp

    from models.inr._siren import siren_batch_value_and_grad

    coords, targets = _targets(images.astype(jnp.float32))
    params = jax.vmap(lambda s: siren_init(jax.random.key(s), sizes, omega0=omega0, dtype=jnp.float32))(seeds)
    loss, _ = siren_batch_value_and_grad(params, coords, targets, omega0=omega0)
    return params, _adam(lr, steps, schedule).init(params), loss


@eqx.filter_jit
def _siren_fit_steps(params, state, images, n_steps, *, omega0, steps, lr, schedule):
    """``n_steps`` (a traced count, so every chunk reuses one program) Adam steps of every fit."""
    import jax
    import jax.numpy as jnp
    import optax

    from models.inr._siren import siren_batch_value_and_grad

    coords, targets = _targets(images.astype(jnp.float32))
    optimiser = _adam(lr, steps, schedule)

    def step(_, carry):
        params, state = carry
        _, grads = siren_batch_value_and_grad(params, coords, targets, omega0=omega0)
        with jax.numpy_dtype_promotion("standard"):  # optax mixes python floats and int32 step counts
            updates, state = optimiser.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return jax.lax.fori_loop(0, n_steps, step, (params, state))


@eqx.filter_jit
def _siren_fit_loss(params, images, *, omega0):
    import jax.numpy as jnp

    from models.inr._siren import siren_batch_value_and_grad

    coords, targets = _targets(images.astype(jnp.float32))
    return siren_batch_value_and_grad(params, coords, targets, omega0=omega0)[0]


def fit_sirens(seeds, images, *, sizes, omega0, steps, lr, schedule, on_steps=None, seconds_per_update: float = 2.0):
    """Fit one SIREN per image, all at once (the fast path).

    ``seeds`` ``[B]`` uint32, ``images`` ``[B, H, W, C]`` float32 in [0, 1]. Returns the
    fitted params (leading axis B), and the PSNR (dB, [0, 1] convention) before and after.

    The B fits run as one: every step is a few ``[B, P, 32] @ [B, 32, 32]`` matmuls and a
    hand-written backward pass (``siren_batch_value_and_grad``) in float32, in a compiled
    loop with no host round-trip. Same initialisation and optimiser as
    :func:`fit_sirens_reference`, which it matches to float32 rounding.

    The steps run in chunks of about ``seconds_per_update`` (one compiled program whatever
    their length), and ``on_steps(n, steps)`` is called after each chunk of ``n`` steps, so a
    progress bar moves while a large batch fits. The result does not depend on the chunks.
    """
    import jax
    import jax.numpy as jnp

    hyper = dict(omega0=omega0, steps=steps, lr=lr, schedule=schedule)
    params, state, start = _siren_fit_start(seeds, images, sizes=sizes, **hyper)
    planner, done = ChunkPlanner(seconds_per_update, cap=max(steps, 1)), 0
    while done < steps:
        n = planner.next(steps - done)
        clock = time.perf_counter()
        params, state = jax.block_until_ready(_siren_fit_steps(params, state, images, jnp.asarray(n, jnp.int32), **hyper))
        planner.record(n, time.perf_counter() - clock)
        done += n
        if on_steps is not None:
            on_steps(n, steps)
    return params, _to_psnr(start), _to_psnr(_siren_fit_loss(params, images, omega0=omega0))


@eqx.filter_jit
def fit_sirens_reference(seeds, images, *, sizes, omega0, steps, lr, schedule):
    """:func:`fit_sirens` written plainly: ``jax.grad`` of :func:`siren_apply` vmapped over
    pixels and then over fits, with ``jnp.sin``. Slow on CPU; kept to check the fast path."""
    import jax
    import jax.numpy as jnp
    import optax

    coords, targets = _targets(images.astype(jnp.float32))
    optimiser = _adam(lr, steps, schedule)

    def mse(params, target):
        out = jax.vmap(lambda c: siren_apply(params, c, omega0=omega0))(coords)
        return jnp.mean((out - target) ** 2)

    def fit_one(seed, target):
        params = siren_init(jax.random.key(seed), sizes, omega0=omega0, dtype=jnp.float32)

        def step(carry, _):
            params, state = carry
            with jax.numpy_dtype_promotion("standard"):
                updates, state = optimiser.update(jax.grad(mse)(params, target), state, params)
            return (optax.apply_updates(params, updates), state), None

        (fitted, _), _ = jax.lax.scan(step, (params, optimiser.init(params)), length=steps)
        return fitted, mse(params, target), mse(fitted, target)

    params, start, end = jax.vmap(fit_one)(seeds, targets)
    return params, _to_psnr(start), _to_psnr(end)


def _sizes(config: InrZooConfig, source: ImageSource) -> tuple[int, ...]:
    return (2, *config.hidden, source.shape[2])


def inr_generator(config: InrZooConfig, source: ImageSource) -> dict:
    sizes = _sizes(config, source)
    return {
        "config": dataclasses.asdict(config),
        "source": source.describe(),
        "images": select_images(source, config.limit, config.split_seed)[1],
        # The activation is stored as its registry spec, σ(x) = sin(ω0 x), e.g. "sin(30)".
        "architecture": {
            "type": "mlp", "sizes": list(sizes), "activations": [f"sin({config.omega0:g})"], "omega0": config.omega0,
        },
    }


def build_inr_zoo(
    source: ImageSource, out: str | Path, config: InrZooConfig = InrZooConfig(), *, progress: bool = True
) -> Zoo:
    """Fit the zoo into ``out`` (resuming whatever is already there) and load it.

    Network ``i`` fits image ``i // augment`` of the source; its record holds the
    weights, ``label``, ``source_index``, ``copy`` (0..augment-1), ``seed``, ``split``
    (0/1/2 for train/val/test), ``psnr_init`` and ``psnr``.
    """
    from tqdm.auto import tqdm

    if source.shape[2] not in (1, 3, 4):
        raise ValueError(f"source images must have 1, 3 or 4 channels, got {source.shape[2]}")
    chosen = select_images(source, config.limit, config.split_seed)[0]
    n_images = len(chosen)
    sizes = _sizes(config, source)
    n = n_images * config.augment
    shapes = [((o, i), (o,)) for i, o in zip(sizes[:-1], sizes[1:])]
    layout = {
        **param_layout(shapes, np.float32),
        "label": layout_entry((), np.int64),
        "source_index": layout_entry((), np.int64),
        "copy": layout_entry((), np.int64),
        "seed": layout_entry((), np.uint32),
        "split": layout_entry((), np.int8),
        "activation": layout_entry((), np.int8),
        "psnr_init": layout_entry((), np.float32),
        "psnr": layout_entry((), np.float32),
    }
    shard_size = min(config.shard_size, n)  # never fit more networks than the zoo holds
    writer = ShardWriter(out, kind="inr", generator=inr_generator(config, source), layout=layout, n=n, shard_size=shard_size)
    image_split = split_of_images(n_images, config.split, config.split_seed)
    todo = writer.pending()
    with tqdm(total=n, initial=n - sum(len(writer.rows(i)) for i in todo), unit="INR", disable=not progress,
              desc=f"INR zoo of {source.name}", bar_format=WHOLE_COUNT_BAR) as bar:
        for count, index in enumerate(todo):
            clock = time.perf_counter()
            rows = np.arange(writer.rows(index).start, writer.rows(index).stop)
            position = rows // config.augment
            image_index = chosen[position]
            seeds = network_seeds(config.seed, np.zeros_like(rows) if config.shared_init else rows)
            # A short last shard is padded to the full shard size: one compilation serves every shard.
            pad = np.arange(shard_size) % len(rows) if len(rows) < shard_size else slice(None)
            params, psnr_init, psnr = fit_sirens(
                seeds[pad], source.images[image_index[pad]], sizes=sizes, omega0=config.omega0,
                steps=config.steps, lr=config.lr, schedule=config.schedule,
                on_steps=advance_by_steps(bar, len(rows)),  # the bar moves within a shard too
            )
            params, psnr_init, psnr = jax.tree.map(lambda a: a[: len(rows)], (params, psnr_init, psnr))
            writer.write(
                index,
                {
                    **flatten_params(params),
                    "label": source.labels[image_index],
                    "source_index": image_index.astype(np.int64),
                    "copy": (rows % config.augment).astype(np.int64),
                    "seed": seeds,
                    "split": image_split[position],
                    "activation": np.zeros(len(rows), np.int8),
                    "psnr_init": np.asarray(psnr_init, np.float32),
                    "psnr": np.asarray(psnr, np.float32),
                },
            )
            bar.set_postfix(psnr=f"{float(np.mean(psnr)):.1f}dB")
            if count == 0 and progress:  # the first shard also compiles: an upper bound
                warn_if_long(f"INR zoo of {source.name}", (time.perf_counter() - clock) * (len(todo) - 1),
                             advice="fewer images (--limit), fewer steps or a GPU make it shorter; "
                             "stopped, it resumes from its finished shards")
    return load_zoo(out)


def reconstruct(zoo: Zoo, index, height: int, width: int):
    """Images ``[len(index), H, W, C]`` in [0, 1] rendered by the zoo's INRs ``index``."""
    import jax
    import jax.numpy as jnp

    omega0 = zoo.generator["architecture"]["omega0"]
    index = np.atleast_1d(np.asarray(index))
    params = jax.tree.map(lambda a: a[index], zoo.params)
    coords = pixel_grid(height, width)
    render = jax.vmap(jax.vmap(lambda p, c: siren_apply(p, c, omega0=omega0), (None, 0)), (0, None))
    out = render(params, coords)
    return np.asarray(jnp.clip((out + 1.0) / 2.0, 0.0, 1.0)).reshape(len(index), height, width, -1)


__all__ = [
    "SCHEDULES", "SPLITS", "InrZooConfig", "build_inr_zoo", "fit_sirens", "fit_sirens_reference", "pixel_grid", "reconstruct",
]
