"""Typed features: an array that carries how it scales as static pytree metadata.

A feature block lives on the vertices of one vertex layer or on the edges of one
weight layer. Its type is a character of the scales of the vertices it touches:
``dst`` for the vertex (or the edge's destination) and ``src`` for an edge's source
(``q_i / φ(q_j)`` is ``dst = q, src = 1/φ``). Products on one site multiply the
characters, aggregation over an edge's source (or destination) needs that side's
character to be invariant under the source's group, and every check happens at
trace time: a slip is a ``FeatureTypeError`` naming the stream, not a silent loss
of equivariance. The layout restricts characters to each vertex layer's group, so
``φ(q) = q`` and ``φ(q) = q³`` are the same type on a sign group and different
ones on the nonzero group.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

from symm import TRIVIAL, Character

from models.graph import Layout, StreamType


class FeatureTypeError(TypeError):
    """A block was handed a feature of the wrong representation type."""


@dataclasses.dataclass(frozen=True)
class FeatureType:
    """Where a feature block lives and how it scales.

    ``site`` "vertex": block of vertex layer ``layer``; "edge": block of weight layer
    ``layer`` (destination vertex layer ``layer``, source ``layer - 1``). ``dst`` / ``src``:
    the characters of the destination and source scales (``src`` is trivial on vertices).
    ``layout`` restricts them to the groups; ``stream`` names the feature in errors.
    """

    site: Literal["vertex", "edge"]
    layer: int
    dst: Character
    src: Character
    layout: Layout
    stream: str

    @classmethod
    def vertex(cls, layout: Layout, layer: int, character: Character, stream: str) -> "FeatureType":
        return cls("vertex", layer, character, TRIVIAL, layout, stream)

    @classmethod
    def edge(cls, layout: Layout, layer: int, dst: Character, src: Character, stream: str) -> "FeatureType":
        return cls("edge", layer, dst, src, layout, stream)

    # ---- restriction to the groups ------------------------------------------------------------
    def dst_type(self) -> StreamType:
        return self.layout.vertex_type(self.layer, self.dst)

    def src_type(self) -> StreamType:
        if self.site == "vertex":
            return StreamType()
        return self.layout.vertex_type(self.layer - 1, self.src)

    @property
    def stream_type(self) -> StreamType:
        """The restricted type (what ScaleInv canonicalises)."""
        return self.dst_type() * self.src_type()

    @property
    def is_invariant(self) -> bool:
        return self.dst_type().is_invariant and self.src_type().is_invariant

    def same_as(self, other: "FeatureType") -> bool:
        """Equal as representations (characters compared after restriction to the groups)."""
        return (
            self.site == other.site
            and self.layer == other.layer
            and self.dst_type() == other.dst_type()
            and self.src_type() == other.src_type()
        )

    def named(self, stream: str) -> "FeatureType":
        return dataclasses.replace(self, stream=stream)

    def __str__(self) -> str:
        where = f"vertex layer {self.layer}" if self.site == "vertex" else f"edges of weight layer {self.layer}"
        scale = str(self.dst_type()) if self.site == "vertex" else f"{self.dst_type()} · ({self.src_type()})[src]"
        return f"'{self.stream}' on {where}, scaling as {scale}"


class Typed(eqx.Module):
    """A feature block and its type. The type is static: jit, vmap and scan see only the array."""

    array: Array
    type: FeatureType = eqx.field(static=True)

    @property
    def stream(self) -> str:
        return self.type.stream

    def named(self, stream: str) -> "Typed":
        return Typed(self.array, self.type.named(stream))

    def with_array(self, array: Array) -> "Typed":
        return Typed(array, self.type)


def expect(feature: Typed, want: FeatureType, role: str) -> Typed:
    """Raise unless ``feature`` has the representation ``want`` (the block's contract)."""
    if not feature.type.same_as(want):
        raise FeatureTypeError(f"{role} needs {want}, got {feature.type}")
    return feature


def expect_invariant(feature: Typed, role: str) -> Typed:
    if not feature.type.is_invariant:
        raise FeatureTypeError(f"{role} needs invariant features, got {feature.type}")
    return feature


def product_type(a: FeatureType, b: FeatureType, stream: str) -> FeatureType:
    """Type of the channelwise product of ``a`` and ``b``.

    Vertex × vertex: same vertex layer, characters multiply. Edge × vertex: the vertex
    must be the edge's destination or source layer, whose character it multiplies.
    """
    if a.site == "vertex" and b.site == "edge":
        a, b = b, a
    if a.site == "vertex":
        if a.layer != b.layer:
            raise FeatureTypeError(f"cannot multiply {a} by {b}: different vertex layers")
        return FeatureType.vertex(a.layout, a.layer, a.dst * b.dst, stream)
    if b.site == "edge":
        if a.layer != b.layer:
            raise FeatureTypeError(f"cannot multiply {a} by {b}: different weight layers")
        return FeatureType.edge(a.layout, a.layer, a.dst * b.dst, a.src * b.src, stream)
    if b.layer == a.layer:
        return FeatureType.edge(a.layout, a.layer, a.dst * b.dst, a.src, stream)
    if b.layer == a.layer - 1:
        return FeatureType.edge(a.layout, a.layer, a.dst, a.src * b.dst, stream)
    raise FeatureTypeError(f"cannot multiply {a} by {b}: the vertex layer is neither end of the edges")


def concat(parts: list[Typed], stream: str) -> Typed:
    """Concatenate channels of features of one type (a mixed concatenation has no type)."""
    first = parts[0].type
    for p in parts[1:]:
        if not p.type.same_as(first):
            raise FeatureTypeError(f"cannot concatenate {p.type} with {first}: different types")
    return Typed(jnp.concatenate([p.array for p in parts], axis=-1), first.named(stream))


def invariant_concat(parts: list[Typed], stream: str) -> Array:
    """Concatenate invariant features (the input of an invariant MLP)."""
    for p in parts:
        expect_invariant(p, f"the invariant MLP input '{stream}'")
    return jnp.concatenate([p.array for p in parts], axis=-1)


def sum_over_sources(message: Typed, mask: Array, stream: str) -> Typed:
    """Σ_j m_ij over an edge block's sources: allowed only if m does not scale with q_j."""
    t = message.type
    if t.site != "edge" or not t.src_type().is_invariant:
        raise FeatureTypeError(f"cannot sum {t} over its sources: it still scales with the source vertex")
    array = jnp.einsum("ijd,j->id", message.array, mask)
    return Typed(array, FeatureType.vertex(t.layout, t.layer, t.dst, stream))


def sum_over_destinations(message: Typed, mask: Array, stream: str) -> Typed:
    """Σ_i m_ij over an edge block's destinations: allowed only if m does not scale with q_i."""
    t = message.type
    if t.site != "edge" or not t.dst_type().is_invariant:
        raise FeatureTypeError(f"cannot sum {t} over its destinations: it still scales with the destination vertex")
    array = jnp.einsum("ijd,i->jd", message.array, mask)
    return Typed(array, FeatureType.vertex(t.layout, t.layer - 1, t.src, stream))


def add(a: Typed, b: Typed, stream: str) -> Typed:
    """The sum of two features of one type (a residual update)."""
    if not a.type.same_as(b.type):
        raise FeatureTypeError(f"cannot add {b.type} to {a.type}: different types")
    return Typed(a.array + b.array, a.type.named(stream))


def mul(a: Typed, b: Typed, stream: str) -> Typed:
    """The channelwise product of two features; its type is the product type."""
    t = product_type(a.type, b.type, stream)
    x, y = a.array, b.array
    if a.type.site == "edge" and b.type.site == "vertex":
        y = y[:, None] if b.type.layer == a.type.layer else y[None]
    elif a.type.site == "vertex" and b.type.site == "edge":
        x = x[:, None] if a.type.layer == b.type.layer else x[None]
    return Typed(x * y, t)


def contract_destinations(edge: Typed, vertex: Typed, mask: Array, stream: str) -> Typed:
    """Σ_i e_ij v_i (v on the destinations) without forming the [n_dst, n_src, d] product."""
    t = product_type(edge.type, vertex.type, stream)
    if vertex.type.site != "vertex" or vertex.type.layer != edge.type.layer:
        raise FeatureTypeError(f"{vertex.type} is not on the destinations of {edge.type}")
    if not t.dst_type().is_invariant:
        raise FeatureTypeError(f"cannot sum {t} over its destinations: it still scales with the destination vertex")
    array = jnp.einsum("ijd,id->jd", edge.array, vertex.array * mask[:, None])
    return Typed(array, FeatureType.vertex(t.layout, t.layer - 1, t.src, stream))
