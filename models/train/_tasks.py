"""The three ScaleGMN tasks on our zoos: what is predicted, its loss and its metric.

A task turns a zoo into three splits of ``(params, targets)`` (numpy, leading axis =
networks) and says how a metanetwork's output is scored. Editing is the one task whose
output lives in the weight space: the edited INR is rendered and compared pixel by pixel
with the morphological dilation of the original INR's image.

``canonicalise=True`` replaces every network by its orbit representative
(``symm.canonicalise_batch``) before training: the same functions, so the same targets,
but one copy per orbit instead of an arbitrary one, for models that are not invariant.

A CNN zoo of ReLU and tanh networks gives one subset per activation, and ``mixed``: every
network as ``Routed(params, which)`` in a ``RoutedSpace`` (``models.train._mixed``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from models.train._metrics import accuracy, kendall_tau, pixel_mse
from models.train._mixed import Routed, RoutedSpace

TASKS = ("classify", "generalisation", "edit")
ZOO_KIND = {"classify": "inr", "generalisation": "cnn", "edit": "inr"}
MIXED = "mixed"  # every network of the zoo, each with the group of its own activation (``RoutedSpace``)
CNN_SUBSETS = ("relu", "tanh", MIXED)


class TaskError(ValueError):
    """A zoo or option that does not fit the task; the message names the problem and the fix."""


@dataclasses.dataclass(frozen=True)
class Render:
    """How an edited SIREN is drawn: its pixel grid and ω0 (static, hashable)."""

    height: int
    width: int
    channels: int
    omega0: float


@dataclasses.dataclass
class TaskData:
    """One task on one zoo: the weight space, the three splits and how to score them."""

    task: str
    space: Any
    splits: dict[str, tuple[Any, np.ndarray]]
    out_size: int | None  # None: the output is an edit in the weight space
    render: Render | None = None
    description: str = ""
    label: str = ""  # short name of the zoo (and CNN subset) for tables
    canonical: bool = False  # every split's params went through ``symm.canonicalise_batch``
    images: dict[str, np.ndarray] | None = None  # edit: each split's original INR images, flat, in [0, 1]

    @property
    def higher_is_better(self) -> bool:
        return self.task != "edit"

    @property
    def metric_name(self) -> str:
        return {"classify": "accuracy", "generalisation": "kendall_tau", "edit": "pixel_mse"}[self.task]

    def loss(self, outputs, targets):
        """The training objective (jax): cross-entropy, MSE on the accuracy, pixel MSE."""
        if self.task == "classify":
            return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(outputs, targets))
        if self.task == "generalisation":
            return jnp.mean((outputs[:, 0] - targets) ** 2)
        return jnp.mean((outputs - targets) ** 2)

    def metric(self, outputs: np.ndarray, targets: np.ndarray) -> float:
        if self.task == "classify":
            return accuracy(outputs, targets)
        if self.task == "generalisation":
            return kendall_tau(outputs[:, 0], targets)
        return pixel_mse(outputs, targets)

    def better(self, a: float, b: float | None) -> bool:
        """Is score ``a`` strictly better than ``b`` (``None``: nothing yet)?"""
        if b is None:
            return True
        if np.isnan(a):
            return False
        return a > b if self.higher_is_better else a < b

    def size(self, split: str) -> int:
        return len(self.splits[split][1])


def _params(zoo, index, dtype) -> tuple:
    return tuple((np.asarray(w[index], dtype), np.asarray(b[index], dtype)) for w, b in zoo.params)


def dilate(images: np.ndarray, radius: int = 1) -> np.ndarray:
    """Grey-scale morphological dilation of ``[N, H, W, C]`` images with a square footprint."""
    from skimage.morphology import dilation, footprint_rectangle

    footprint = footprint_rectangle((2 * radius + 1, 2 * radius + 1))
    return np.stack([np.stack([dilation(im[..., c], footprint) for c in range(im.shape[-1])], -1) for im in images])


def _canonical_params(space, params: tuple, dtype, zoo_dir: Path) -> tuple:
    """``symm.canonicalise_batch`` of one split, back as numpy arrays of ``dtype``."""
    import symm

    try:
        canonical = symm.canonicalise_batch(space, params)
    except symm.CanonicaliseError as error:
        raise TaskError(f"{zoo_dir}: cannot canonicalise its networks ({error}); train without --canonicalise") \
            from None
    return tuple((np.asarray(w, dtype), np.asarray(b, dtype)) for w, b in canonical)


def load_task(task: str, zoo_dir: str | Path, *, subset: str | None = None, dtype=np.float32,
              limit: int | None = None, canonicalise: bool = False) -> TaskData:
    """Read the zoo in ``zoo_dir`` for ``task``; bad input raises ``TaskError`` with one clear line.

    ``canonicalise``: map every network to its orbit representative under the zoo's
    derived group (``symm.canonicalise_batch``); functions and targets are unchanged.
    """
    from models.zoo import ZooFormatError, load_zoo

    if task not in TASKS:
        raise TaskError(f"unknown task {task!r}: use one of {', '.join(TASKS)}")
    zoo_dir = Path(zoo_dir)
    if not zoo_dir.exists():
        raise TaskError(f"{zoo_dir}: no such zoo; build one with `symm zoo {ZOO_KIND[task]} --out {zoo_dir}`")
    try:
        zoo = load_zoo(zoo_dir)
    except ZooFormatError as error:
        raise TaskError(str(error)) from None
    if zoo.kind != ZOO_KIND[task]:
        raise TaskError(f"{zoo_dir} is a {zoo.kind} zoo but the {task} task needs a {ZOO_KIND[task]} zoo "
                        f"(`symm zoo {ZOO_KIND[task]}`)")
    members = None  # a mixed subset: each network's index into ``space.spaces``
    if task == "generalisation":
        names = zoo.generator["architecture"]["activations"]
        used = sorted({names[int(i)] for i in zoo["activation"]})
        if subset is None:
            if len(used) > 1:
                raise TaskError(f"{zoo_dir} mixes the activations {used}; pick one with --activation {used[0]}, "
                                f"or all of them with --activation {MIXED}")
            subset = used[0]
        if subset == MIXED:
            if len(used) < 2:
                raise TaskError(f"{zoo_dir} holds only {used[0]} networks, so it has no mixed subset; "
                                f"use --activation {used[0]}")
            space = RoutedSpace(tuple(zoo.where_activation(n).weight_space() for n in used), tuple(used))
            members = np.asarray([used.index(n) for n in zoo.activations], np.int32)
        elif subset not in names:
            raise TaskError(f"{zoo_dir} holds {names} networks, not {subset!r}; use --activation {names[0]}")
        else:
            zoo = zoo.where_activation(subset)
    elif subset is not None:
        raise TaskError(f"--activation selects a CNN subset; the {task} task has none")
    if canonicalise and members is not None:
        raise TaskError(f"the {MIXED} subset has no single group to canonicalise by; train without --canonicalise")
    if members is None:
        space = zoo.weight_space()
    split = np.asarray(zoo["split"])
    splits = {}
    render = None
    images = {} if task == "edit" else None
    for code, name in enumerate(("train", "val", "test")):
        index = np.flatnonzero(split == code)
        if limit is not None:
            index = index[:limit]
        if len(index) == 0:
            raise TaskError(f"{zoo_dir} has no {name} networks; rebuild it with a non-zero {name} fraction")
        params = _params(zoo, index, dtype)
        if canonicalise:
            params = _canonical_params(space, params, dtype, zoo_dir)
        if members is not None:
            params = Routed(params, members[index])
        if task == "classify":
            targets = np.asarray(zoo["label"][index], np.int32)
        elif task == "generalisation":
            targets = np.asarray(zoo["test_accuracy"][index], dtype)
        else:
            from models.zoo import reconstruct

            height, width, channels = zoo.generator["source"]["shape"]
            render = Render(int(height), int(width), int(channels), float(zoo.generator["architecture"]["omega0"]))
            original = reconstruct(zoo, index, height, width)
            targets = dilate(original).reshape(len(index), -1).astype(dtype)
            images[name] = original.reshape(len(index), -1).astype(dtype)
        splits[name] = (params, targets)
    out_size = int(zoo["label"].max()) + 1 if task == "classify" else (1 if task == "generalisation" else None)
    text = f"{task} on {zoo_dir} ({zoo.kind}{', ' + subset if subset else ''}; {space})"
    label = zoo_dir.name + (f" ({subset})" if subset else "")
    if canonicalise:
        text += ", canonicalised"
        label += ", canonical"
    return TaskData(task, space, splits, out_size, render, text, label, canonical=canonicalise, images=images)


def render_edit(render: Render, params, delta) -> jax.Array:
    """The edited SIREN ``params + delta`` drawn on its pixel grid, flattened, in [0, 1] units."""
    from models.inr import siren_apply
    from models.zoo import pixel_grid

    edited = tuple((w + dw.astype(w.dtype), b + db.astype(b.dtype)) for (w, b), (dw, db) in zip(params, delta))
    coords = pixel_grid(render.height, render.width).astype(params[0][0].dtype)
    out = jax.vmap(lambda c: siren_apply(edited, c, omega0=render.omega0))(coords)
    return ((out + 1.0) / 2.0).reshape(-1)


__all__ = ["CNN_SUBSETS", "MIXED", "TASKS", "ZOO_KIND", "Render", "TaskData", "TaskError", "dilate", "load_task", "render_edit"]
