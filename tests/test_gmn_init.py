"""At initialisation the trunk keeps the scale of its features over message-passing steps.

Typed paths multiply bias-free linear maps and gates; if those start small, features of real
networks' weights shrink geometrically with depth and the invariants the readout sees vanish.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest

import symm
from models.gmn import GMNEncoder
from models.gmn._blocks import InvariantMLP
from models.graph import to_graph

SPACE = symm.WeightSpace.mlp((2, 16, 16, 1), "tanh")


def _rms(a):
    return float(jnp.sqrt(jnp.mean(a**2)))


def _graphs():
    return jax.vmap(lambda k: to_graph(SPACE, SPACE.init(k)))(jax.random.split(jax.random.key(0), 8))


def _edge_scale_ratio(encoder, graphs):
    """RMS of the hidden-to-hidden edge features after all steps over their RMS after embedding."""
    first = jax.vmap(encoder.embed)(graphs)
    last = jax.vmap(encoder)(graphs)
    return _rms(last.edges[1]) / _rms(first.edges[1])


@pytest.mark.parametrize("bidirectional", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_edge_features_keep_their_scale_over_four_steps(bidirectional):
    graphs = _graphs()
    encoder = GMNEncoder(SPACE, width=32, n_layers=4, bidirectional=bidirectional, key=jax.random.key(1))
    assert 0.25 < _edge_scale_ratio(encoder, graphs) < 4.0


def test_closed_gates_would_shrink_the_edge_features():
    """The negative: the same trunk with gates around 0 (the equinox default) loses the signal."""
    graphs = _graphs()
    encoder = GMNEncoder(SPACE, width=32, n_layers=4, key=jax.random.key(1))

    def close(gate: InvariantMLP) -> InvariantMLP:
        return eqx.tree_at(lambda m: m.last.bias, gate, gate.last.bias - 1)

    gates = lambda e: (e.layers.edge_gate, e.layers.message_eq.gate, e.layers.update_x.gate, e.layers.update_h.gate)  # noqa: E731
    closed = eqx.tree_at(gates, encoder, replace_fn=close)
    assert _edge_scale_ratio(closed, graphs) < 0.1


@pytest.mark.parametrize("name, slope", [("sin", 30 / 2**0.5), ("relu", 0.5**0.5), ("cube", 27**0.5), ("abs", 1.0)])
def test_slope_rms_is_the_rms_derivative_under_a_standard_normal(name, slope):
    # sin(30x): 30·√E[cos²(30z)] = 30/√2; relu: √P(z > 0); x³: √E[9z⁴] = √27; |x|: 1
    assert symm.get_activation(name).slope_rms == pytest.approx(slope, rel=1e-3)  # grid quadrature


def test_activation_blocks_start_in_the_tame_range_of_a_fast_activation():
    """SIREN's sin(30x) of unit-scale features oscillates: its activation and derivative blocks start 1/21 as large;
    ReLU and tanh blocks keep the plain initialisation, so their arguments keep their scale."""
    def gamma_rms(space):
        encoder = GMNEncoder(space, width=8, n_layers=1, bidirectional=True, key=jax.random.key(2))
        layers = encoder.layers
        return (_rms(encoder.init_h.gamma.weight), _rms(layers.activation.gamma.weight),
                _rms(layers.derivative.gamma.weight))

    sine = symm.WeightSpace.mlp((2, 16, 16, 1), "sin")
    assert sine.groups and encoder_scale(sine) == pytest.approx(2**0.5 / 30, rel=1e-4)
    for space in (SPACE, symm.WeightSpace.mlp((2, 16, 16, 1), "relu")):
        assert encoder_scale(space) == 1.0
    for fast, plain in zip(gamma_rms(sine), gamma_rms(SPACE)):
        assert fast == pytest.approx(plain * 2**0.5 / 30, rel=1e-6)


def encoder_scale(space):
    from models.graph import Layout

    return Layout.from_space(space).activation_init_scale
