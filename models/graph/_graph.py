"""Neural graphs: a network's parameters as typed, dense, layer-blocked features.

Vertices are neurons (CNN: channels) with the bias as feature; edges are weights
(CNN: kernels flattened to k·k vectors, dense edges zero-padded to the same length).
Layer blocks are dense arrays, so a batch of same-architecture networks is a few
einsums per message-passing step instead of a scatter over an edge list.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from models.graph._layout import Layout
from models.graph._types import StreamType

Params = tuple[tuple[Array, Array], ...]


class NeuralGraph(eqx.Module):
    """One network as a graph.

    ``vertices[l]``: ``[n_l, d_v]`` for vertex layers l = 0..L. ``edges[l-1]``:
    ``[n_l, n_{l-1}, d_e]`` for weight layer l (edge i ← j). ``masks[l]``: ``[n_l]``,
    1 for a real vertex, 0 for padding. The static ``layout`` gives every channel
    its type (``vertex_type``, ``edge_type``).
    """

    vertices: tuple[Float[Array, "n dv"], ...]
    edges: tuple[Float[Array, "n m de"], ...]
    masks: tuple[Float[Array, " n"], ...]
    layout: Layout = eqx.field(static=True)

    def __check_init__(self):
        L = self.layout.num_layers
        if len(self.vertices) != L + 1 or len(self.masks) != L + 1 or len(self.edges) != L:
            raise ValueError(
                f"a graph of {L} weight layers needs {L + 1} vertex blocks, {L + 1} masks and {L} edge blocks; "
                f"got {len(self.vertices)}, {len(self.masks)}, {len(self.edges)}"
            )

    def vertex_type(self, l: int) -> StreamType:
        """Type of the bias channel of layer ``l``: q on hidden vertices, 1 on input/output."""
        return self.layout.vertex_type(l)

    def edge_type(self, l: int) -> StreamType:
        """Type of the edges of weight layer ``l``: q_dst / φ(q_src)."""
        return self.layout.edge_type(l)

    @property
    def num_vertices(self) -> int:
        return sum(self.layout.sizes)

    @property
    def num_edges(self) -> int:
        s = self.layout.sizes
        return sum(s[l] * s[l - 1] for l in range(1, len(s)))

    def edge_list(self) -> np.ndarray:
        """``[E, 2]`` (source, destination) global vertex ids, layers numbered in order."""
        offsets = np.cumsum((0,) + self.layout.sizes)
        out = []
        for l in range(1, self.layout.num_layers + 1):
            dst, src = np.meshgrid(np.arange(self.layout.sizes[l]), np.arange(self.layout.sizes[l - 1]), indexing="ij")
            out.append(np.stack([src.ravel() + offsets[l - 1], dst.ravel() + offsets[l]], axis=1))
        return np.concatenate(out, axis=0)


def to_graph(space: Any, params: Params, *, input_value: float = 1.0) -> NeuralGraph:
    """Params (tuple of ``(W, b)``) → ``NeuralGraph``. Input vertices carry ``input_value``."""
    layout = Layout.from_space(space)
    _validate(layout, params)
    dtype = params[0][0].dtype
    d_e = layout.edge_dim
    vertices = [jnp.full((layout.sizes[0], 1), input_value, dtype=dtype)]
    edges = []
    for (W, b) in params:
        vertices.append(b[:, None])
        e = W.reshape(W.shape[0], W.shape[1], -1)
        edges.append(jnp.pad(e, ((0, 0), (0, 0), (0, d_e - e.shape[-1]))))
    masks = tuple(jnp.ones((n,), dtype=dtype) for n in layout.sizes)
    return NeuralGraph(tuple(vertices), tuple(edges), masks, layout)


def from_graph(space: Any, graph: NeuralGraph) -> Params:
    """``NeuralGraph`` → params of ``space`` (exact inverse of ``to_graph``; padding dropped)."""
    layout = Layout.from_space(space)
    if graph.layout.num_layers != layout.num_layers:
        raise ValueError(f"graph has {graph.layout.num_layers} weight layers, the space {layout.num_layers}")
    params = []
    s = layout.sizes
    for l in range(1, layout.num_layers + 1):
        k = layout.kernels[l - 1]
        e = graph.edges[l - 1][: s[l], : s[l - 1]]
        W = e[..., : k * k].reshape(s[l], s[l - 1], k, k) if k else e[..., 0]
        params.append((W, graph.vertices[l][: s[l], 0]))
    return tuple(params)


def pad_to(graph: NeuralGraph, sizes: tuple[int, ...]) -> NeuralGraph:
    """Pad hidden layers to ``sizes`` with zero features and mask 0 (padding contributes nothing)."""
    old = graph.layout.sizes
    sizes = tuple(int(n) for n in sizes)
    if len(sizes) != len(old):
        raise ValueError(f"cannot pad {len(old)} vertex layers to {len(sizes)}; only widths can be padded")
    if sizes[0] != old[0] or sizes[-1] != old[-1]:
        raise ValueError(f"input/output sizes must match (got {old} → {sizes}); only hidden widths can be padded")
    if any(n < m for n, m in zip(sizes, old)):
        raise ValueError(f"cannot pad sizes {old} down to {sizes}")
    grow = [n - m for n, m in zip(sizes, old)]
    vertices = tuple(jnp.pad(v, ((0, g), (0, 0))) for v, g in zip(graph.vertices, grow))
    masks = tuple(jnp.pad(m, (0, g)) for m, g in zip(graph.masks, grow))
    edges = tuple(jnp.pad(e, ((0, grow[l + 1]), (0, grow[l]), (0, 0))) for l, e in enumerate(graph.edges))
    return NeuralGraph(vertices, edges, masks, graph.layout.with_sizes(sizes))


def stack(graphs: list[NeuralGraph]) -> NeuralGraph:
    """Batch same-layout graphs along a new leading axis (use ``pad_to`` first for mixed widths)."""
    layouts = {g.layout for g in graphs}
    if len(layouts) != 1:
        raise ValueError("graphs have different layouts; pad them to common sizes with pad_to first")
    return jax.tree.map(lambda *xs: jnp.stack(xs), *graphs)


def _validate(layout: Layout, params: Params) -> None:
    if len(params) != layout.num_layers:
        raise ValueError(f"expected {layout.num_layers} (W, b) layers, got {len(params)}")
    s = layout.sizes
    for l, (W, b) in enumerate(params, start=1):
        k = layout.kernels[l - 1]
        want = (s[l], s[l - 1], k, k) if k else (s[l], s[l - 1])
        if tuple(W.shape) != want or tuple(b.shape) != (s[l],):
            raise ValueError(
                f"layer {l}: expected W {want} and b {(s[l],)}, got W {tuple(W.shape)} and b {tuple(b.shape)}"
            )
