"""The constructed ScaleGMN reproduces a CNN's forward pass: feature maps per conv layer, pooled dense layers."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symm
import proofs
from proofs._construct import construct, probe_graph

LINEAR = [n for n in symm.registry_names() if symm.derive(n).is_linear]
# sin(30x) amplifies rounding by 30 per layer in the reference as much as in the simulation; use ω = 1 end to end
END_TO_END = [symm.get_activation("sin", omega=1) if n == "sin" else n for n in LINEAR]


def _cnn(channels, dense, kernels, act, image, n_probes, seed, dtype=jnp.float64):
    space = symm.WeightSpace.cnn(channels, dense, kernel_size=kernels, activations=act)
    k1, k2 = jax.random.split(jax.random.key(seed))
    params = space.init(k1, dtype=dtype)
    xs = jax.random.normal(k2, (n_probes, channels[0]) + tuple(image), dtype)
    return space, params, xs


@eqx.filter_jit
def _simulate_and_compare(space, params, xs):
    sim = proofs.simulate_forward(space, params, xs)
    out = jax.vmap(lambda x: space.apply(params, x))(xs)
    # per layer vs the CNN's own post-activations; the output layer vs WeightSpace.apply
    errors = proofs.layer_errors(sim, proofs.reference_forward(space, params, xs)), proofs.relative_error(
        sim.features[-1].T, out
    )
    return sim, errors


def _errors(space, params, xs):
    return _simulate_and_compare(space, params, xs)[1]


def _max(errors):
    return max(float(e) for e in jax.tree.leaves(errors))


@st.composite
def cnn_layouts(draw):
    channels = draw(st.lists(st.integers(1, 3), min_size=2, max_size=3))  # 1-2 convolutions
    kernels = draw(st.lists(st.integers(1, 3), min_size=len(channels) - 1, max_size=len(channels) - 1))
    dense = draw(st.lists(st.integers(1, 3), min_size=1, max_size=2))  # 1-2 dense layers after pooling
    return tuple(channels), tuple(dense), tuple(kernels)


@settings(deadline=None, max_examples=2)
@given(
    cnn=cnn_layouts(),
    act=st.sampled_from(END_TO_END),
    image=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    n_probes=st.integers(1, 2),
    seed=st.integers(0, 2**16),
)
def test_cnn_forward_simulation_is_exact_float64(cnn, act, image, n_probes, seed):
    channels, dense, kernels = cnn
    space, params, xs = _cnn(channels, dense, kernels, act, image, n_probes, seed)
    sim, errors = _simulate_and_compare(space, params, xs)
    n_conv = len(channels) - 1
    assert [f.shape for f in sim.features[: n_conv + 1]] == [(c, n_probes) + image for c in channels]
    assert [f.shape for f in sim.features[n_conv + 1 :]] == [(n, n_probes) for n in dense]
    assert _max(errors) <= 1e-12


@eqx.filter_jit
def _run(model, space, params, xs):
    return model(probe_graph(space, params, xs)).h[-1][:, : xs.shape[0] * xs.shape[2] * xs.shape[3]]


def test_flipped_kernel_construction_fails_float32():
    """Reading the kernel rotated by 180° computes a true convolution, not the CNN's cross-correlation.

    In float32: the right construction is exact to 1e-5 there too."""
    space, params, xs = _cnn((1, 2), (1,), 3, "tanh", (4, 4), 1, 3, jnp.float32)
    want = jax.vmap(lambda x: space.apply(params, x))(xs).T  # [1, P]
    model = construct(space, 1, image=(4, 4), dtype=jnp.float32)
    right = _run(model, space, params, xs)  # output vertices: the value on every pixel channel
    n = 16  # main channels P·H·W; tap blocks follow
    weight = np.array(model.embed_edge.layer.weight)
    weight[n:] = weight[n:, ::-1]  # tap t ↦ tap k² − 1 − t
    wrong = eqx.tree_at(lambda m: m.embed_edge.layer.weight, model, jnp.asarray(weight))
    assert right.dtype == jnp.float32
    assert float(proofs.relative_error(right, jnp.broadcast_to(want, right.shape))) <= 1e-5
    assert float(proofs.relative_error(_run(wrong, space, params, xs), jnp.broadcast_to(want, right.shape))) > 1e-3


def test_cnn_simulation_is_equivariant_and_wrong_type_fails():
    """simulate(g·params) = g·simulate(params) with post-activations of x³ scaling by q³, not by q."""
    space, params, xs = _cnn((1, 2, 2), (2, 1), 3, "cube", (3, 3), 2, 4)
    g = space.sample(jax.random.key(5))
    g = symm.GroupElement(g.perms, tuple(jnp.where(jnp.abs(q) < 1.2, 2.5 * jnp.sign(q), q) for q in g.scales))
    simulate = eqx.filter_jit(proofs.simulate_forward)
    sim, moved = simulate(space, params, xs), simulate(space, space.act(g, params), xs)
    assert sim.types[1] == symm.derive("cube").character
    assert max(float(e) for e in proofs.layer_errors(moved, space.act_neurons(g, sim))) <= 1e-12
    wrong = symm.NeuronFeatures(sim.features, symm.IDENTITY)
    assert max(float(e) for e in proofs.layer_errors(moved, space.act_neurons(g, wrong))) > 1e-2


def test_cnn_bad_inputs_get_clear_errors():
    space, params, xs = _cnn((1, 2), (1,), 3, "relu", (3, 3), 2, 6)
    with pytest.raises(ValueError, match=r"\[n_probes, 1, H, W\]"):
        proofs.simulate_forward(space, params, xs[:, 0])
    with pytest.raises(ValueError, match="MLP weight spaces"):
        proofs.simulate_backward(space, params, xs)
    with pytest.raises(ValueError, match="image"):
        construct(space, 2)
