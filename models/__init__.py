"""models: neural graphs, ScaleGMN and the models trained on or with weight spaces."""

from models import gmn, graph
from models.gmn import ScaleGMN, ScaleGMNEditor
from models.graph import Layout, NeuralGraph, from_graph, to_graph
