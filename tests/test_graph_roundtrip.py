"""Neural graphs: exact round trip, edge count, DAG structure, types, padding."""

from collections import deque

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symm
from models.graph import Layout, NeuralGraph, from_graph, pad_to, stack, to_graph

from _strategies import mlp_spaces

ACTS = ["relu", "tanh", "sin", "cube", "abs", "cos", "signed_square", "identity", "gelu"]

MLP_SPACES = mlp_spaces(depths=(1, 4), widths=(1, 5), activations=ACTS)


@st.composite
def cnn_spaces(draw):
    n_conv = draw(st.integers(1, 3))
    channels = draw(st.lists(st.integers(1, 4), min_size=n_conv + 1, max_size=n_conv + 1))
    dense = draw(st.lists(st.integers(1, 4), min_size=1, max_size=2))
    kernels = draw(st.lists(st.sampled_from([1, 3]), min_size=n_conv, max_size=n_conv))
    acts = draw(st.sampled_from(["relu", "tanh"]))
    return symm.WeightSpace.cnn(channels, dense, kernels, acts)


def _assert_exact_roundtrip(space, seed):
    params = space.init(jax.random.key(seed))
    graph = to_graph(space, params)
    back = from_graph(space, graph)
    assert jax.tree.structure(back) == jax.tree.structure(params)
    for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(params)):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    return params, graph


@settings(deadline=None, max_examples=8)
@given(space=st.one_of(MLP_SPACES, cnn_spaces()), seed=st.integers(0, 2**16))
def test_round_trip_is_exact(space, seed):
    _assert_exact_roundtrip(space, seed)


@settings(deadline=None, max_examples=6)
@given(space=st.one_of(MLP_SPACES, cnn_spaces()))
def test_edge_count_matches_parameter_count(space):
    params, graph = _assert_exact_roundtrip(space, 0)
    n_weights = sum(W.size for W, _ in params)
    n_biases = sum(b.size for _, b in params)
    taps = [k * k if k else 1 for k in space.kernel_sizes]
    assert sum(n * t for n, t in zip([e.shape[0] * e.shape[1] for e in graph.edges], taps)) == n_weights
    assert graph.num_edges == sum(W.shape[0] * W.shape[1] for W, _ in params)
    assert len(graph.edge_list()) == graph.num_edges
    assert graph.num_vertices - space.layer_sizes[0] == n_biases
    if all(k is None for k in space.kernel_sizes):
        assert graph.num_edges == n_weights


def _topological_order(n_vertices, edges):
    indegree = np.zeros(n_vertices, int)
    children = [[] for _ in range(n_vertices)]
    for s, d in edges:
        children[s].append(d)
        indegree[d] += 1
    ready = deque(np.flatnonzero(indegree == 0))
    order = []
    while ready:
        v = ready.popleft()
        order.append(v)
        for c in children[v]:
            indegree[c] -= 1
            if indegree[c] == 0:
                ready.append(c)
    return order


@settings(deadline=None, max_examples=5)
@given(space=st.one_of(MLP_SPACES, cnn_spaces()))
def test_graph_is_a_dag_between_consecutive_layers(space):
    graph = to_graph(space, space.init(jax.random.key(0)))
    edges = graph.edge_list()
    assert len(_topological_order(graph.num_vertices, edges)) == graph.num_vertices
    assert len({tuple(e) for e in edges}) == len(edges)
    layer_of = np.repeat(np.arange(len(space.layer_sizes)), space.layer_sizes)
    np.testing.assert_array_equal(layer_of[edges[:, 1]] - layer_of[edges[:, 0]], 1)


def test_topological_check_detects_a_cycle():
    # the DAG test's checker must reject a graph with a back edge
    assert len(_topological_order(3, [(0, 1), (1, 2), (2, 1)])) < 3


def test_channel_types_follow_the_derived_groups():
    space = symm.WeightSpace.mlp((2, 3, 3, 1), ["cube", "tanh"])
    graph = to_graph(space, space.init(jax.random.key(0)))
    assert graph.vertex_type(0).is_invariant and graph.vertex_type(3).is_invariant
    assert graph.vertex_type(1).needs_norm and graph.vertex_type(1).needs_sym  # q on the nonzero group
    assert not graph.vertex_type(2).needs_norm and graph.vertex_type(2).needs_sym  # q on the sign group
    # edge 1→2: q_2 / φ(q_1) = q_2 / q_1³: magnitude from the cube layer, signs from both
    assert graph.edge_type(2).needs_norm and graph.edge_type(2).needs_sym
    # cos: φ = 1, so the output edge of a cos layer is invariant
    cos = to_graph(symm.WeightSpace.mlp((2, 3, 1), "cos"), symm.WeightSpace.mlp((2, 3, 1), "cos").init(jax.random.key(0)))
    assert cos.edge_type(2).is_invariant and not cos.edge_type(1).is_invariant
    # relu: positive group, so no sign flips on its channels
    relu = symm.WeightSpace.mlp((2, 3, 1), "relu")
    t = to_graph(relu, relu.init(jax.random.key(0))).vertex_type(1)
    assert t.needs_norm and not t.needs_sym


def test_padding_adds_masked_zeros_and_round_trips():
    space = symm.WeightSpace.mlp((2, 3, 2, 1), ["relu", "tanh"])
    params = space.init(jax.random.key(1))
    graph = pad_to(to_graph(space, params), (2, 5, 4, 1))
    assert graph.layout.sizes == (2, 5, 4, 1)
    np.testing.assert_array_equal(np.asarray(graph.masks[1]), [1, 1, 1, 0, 0])
    assert float(jnp.abs(graph.edges[1][3:]).sum() + jnp.abs(graph.edges[1][:, 3:]).sum()) == 0.0
    for a, b in zip(jax.tree.leaves(from_graph(space, graph)), jax.tree.leaves(params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    batch = stack([graph, pad_to(to_graph(space, space.init(jax.random.key(2))), (2, 5, 4, 1))])
    assert batch.edges[0].shape == (2, 5, 2, 1)


def test_bad_inputs_give_clear_errors():
    space = symm.WeightSpace.mlp((2, 3, 1), "relu")
    params = space.init(jax.random.key(0))
    with pytest.raises(ValueError, match="layer 1: expected W"):
        to_graph(space, ((params[0][0].T, params[0][1]), params[1]))
    with pytest.raises(ValueError, match="expected 2"):
        to_graph(space, params[:1])
    graph = to_graph(space, params)
    with pytest.raises(ValueError, match="only hidden widths"):
        pad_to(graph, (3, 3, 1))
    with pytest.raises(ValueError, match="down to"):
        pad_to(graph, (2, 2, 1))
    with pytest.raises(ValueError, match="different layouts"):
        stack([graph, to_graph(symm.WeightSpace.mlp((2, 4, 1), "relu"), symm.WeightSpace.mlp((2, 4, 1), "relu").init(jax.random.key(0)))])
    with pytest.raises(ValueError, match="vertex blocks"):
        NeuralGraph(graph.vertices[:2], graph.edges, graph.masks, graph.layout)
    with pytest.raises(ValueError, match="hidden activations"):
        Layout.from_activations((2, 3, 3, 1), ["relu"])
