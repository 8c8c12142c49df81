"""Neural graphs: network parameters as typed, dense, layer-blocked vertex and edge features."""

from models.graph._graph import NeuralGraph, from_graph, pad_to, stack, to_graph
from models.graph._layout import Layout, derivative
from models.graph._types import INVARIANT, StreamType

__all__ = ["INVARIANT", "Layout", "NeuralGraph", "StreamType", "derivative", "from_graph", "pad_to", "stack", "to_graph"]
