"""Typed vertex and edge streams carried between message-passing steps."""

from __future__ import annotations

import equinox as eqx
from jaxtyping import Array, Float

from symm import IDENTITY, Character

from models.gmn._typed import FeatureType, Typed
from models.graph import Layout, StreamType

Q = IDENTITY
INV_Q = IDENTITY.inverse()


class GMNState(eqx.Module):
    """Per vertex layer l = 0..L: the q-stream ``x`` (type q), the φ-stream ``h`` (type
    φ_l(q)) and, for bidirectional models, the δ-stream ``delta`` (type 1/q); per weight
    layer: edge features ``edges`` (type q_dst/φ(q_src)). Input and output vertices are
    type 1 on every stream. Padding vertices hold exact zeros.
    """

    x: tuple[Float[Array, "n d"], ...]
    h: tuple[Float[Array, "n d"], ...]
    delta: tuple[Float[Array, "n d"], ...] | None
    edges: tuple[Float[Array, "n m d"], ...]
    masks: tuple[Float[Array, " n"], ...]
    layout: Layout = eqx.field(static=True)

    def x_type(self, l: int) -> StreamType:
        return self.layout.vertex_type(l, Q)

    def h_type(self, l: int) -> StreamType:
        return self.layout.vertex_type(l, self.layout.phi(l))

    def delta_type(self, l: int) -> StreamType:
        return self.layout.vertex_type(l, INV_Q)

    def edge_type(self, l: int) -> StreamType:
        return self.layout.edge_type(l)

    # ---- typed views (static types from the layout; the arrays are the state's) -------------------
    def character(self, stream: str, l: int) -> Character:
        """How vertex stream ``stream`` of vertex layer ``l`` scales with the vertex's q."""
        return {"x": Q, "h": self.layout.phi(l), "delta": INV_Q}[stream]

    def vertex(self, stream: str, l: int) -> Typed:
        array = {"x": self.x, "h": self.h, "delta": self.delta}[stream][l]
        return Typed(array, FeatureType.vertex(self.layout, l, self.character(stream, l), stream))

    def edge(self, l: int) -> Typed:
        """Edges of weight layer ``l``: type q_dst / φ(q_src)."""
        t = FeatureType.edge(self.layout, l, Q, self.layout.phi(l - 1).inverse(), "edge")
        return Typed(self.edges[l - 1], t)

    def stream_characters(self, l: int) -> dict[str, Character]:
        """How each vertex stream of hidden layer ``l`` scales with the vertex's q."""
        out = {"x": Q, "h": self.layout.phi(l)}
        if self.delta is not None:
            out["delta"] = INV_Q
        return out
