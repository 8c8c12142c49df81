"""Every metanetwork the tasks compare, behind one call: ``model(params, key=...) -> output``.

The graph models (ScaleGMN forward / bidirectional, the permutation-only GMN) read a
``NeuralGraph`` built from the weights inside the call, so that every model, baseline
or not, takes the same input and the symmetry stress test can move that input. For the
editing task the output is the edited INR's image: each of ``branches`` editors proposes
an edit, every edit is rendered, and the images are averaged (each branch stays
equivariant, so the average is invariant). On a mixed zoo (``RoutedSpace``) each graph
model is one trunk per activation, and each network is read by the trunk of its own
group (``RoutedGraphNet``).
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from models.gmn import ScaleGMN, ScaleGMNEditor
from models.graph import to_graph
from models.train._baselines import FlatMLP, StatNN
from models.train._mixed import RoutedGraphNet, RoutedSpace
from models.train._tasks import Render, TaskData, TaskError, render_edit

MODELS = ("scalegmn", "scalegmn-bidir", "gmn", "mlp", "mlp-aug", "statnn")
GRAPH_MODELS = {"scalegmn": (False, False), "scalegmn-bidir": (True, False), "gmn": (False, True)}
AUGMENTED = ("mlp-aug",)


class Metanetwork(eqx.Module):
    """``branches`` networks of one kind, fed one input network's weights."""

    nets: tuple
    space: Any = eqx.field(static=True)
    graph_input: bool = eqx.field(static=True)
    render: Render | None = eqx.field(static=True)

    def __call__(self, params, *, key: PRNGKeyArray | None = None):
        x = to_graph(self.space, params) if self.graph_input else params
        keys = jax.random.split(key, len(self.nets)) if key is not None else [None] * len(self.nets)
        outputs = [net(x, key=k) for net, k in zip(self.nets, keys)]
        if self.render is None:
            return outputs[0]
        images = [render_edit(self.render, params, delta) for delta in outputs]
        return sum(images[1:], images[0]) / len(images)


def build_model(name: str, data: TaskData, *, width: int, n_layers: int, key: PRNGKeyArray, branches: int = 1,
                dtype=jnp.float32) -> Metanetwork:
    """The model ``name`` for the task in ``data``, all sizes from ``width`` and ``n_layers``.

    Every method gets the same width; the MLP baselines get ``n_layers`` hidden layers.
    """
    if name not in MODELS:
        raise TaskError(f"unknown model {name!r}: use one of {', '.join(MODELS)}")
    if branches < 1:
        raise TaskError(f"branches must be >= 1, got {branches}")
    if branches > 1 and data.out_size is not None:
        raise TaskError("--branches averages edited images; it applies to the edit task only")
    keys = jax.random.split(key, branches)
    space = data.space
    if name in GRAPH_MODELS:
        bidirectional, permutation_only = GRAPH_MODELS[name]
        kw = dict(width=width, n_layers=n_layers, bidirectional=bidirectional, permutation_only=permutation_only,
                  dtype=dtype)
        if data.out_size is None:
            def build(s, k):
                return ScaleGMNEditor(s, key=k, **kw)
        else:
            def build(s, k):
                return ScaleGMN(s, data.out_size, key=k, **kw)
        if isinstance(space, RoutedSpace):  # a mixed zoo: one trunk per activation, routed per network
            return Metanetwork(tuple(RoutedGraphNet(space, build, key=k) for k in keys), space, False, data.render)
        return Metanetwork(tuple(build(space, k) for k in keys), space, True, data.render)
    train_params = jax.tree.map(jnp.asarray, data.splits["train"][0])
    cls = StatNN if name == "statnn" else FlatMLP
    nets = tuple(cls(space, train_params, data.out_size, width=width, depth=n_layers, key=k, dtype=dtype)
                 for k in keys)
    return Metanetwork(nets, space, False, data.render)


__all__ = ["AUGMENTED", "GRAPH_MODELS", "MODELS", "Metanetwork", "build_model"]
