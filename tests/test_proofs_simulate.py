"""The constructed ScaleGMN reproduces the forward and backward pass of the network it reads."""

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symm
import proofs
from models.gmn import FeatureType, Typed
from symm import IDENTITY
from proofs._construct import construct, probe_graph

LINEAR = [n for n in symm.registry_names() if symm.derive(n).is_linear]
# End to end through 5 layers, sin(30x) amplifies float64 rounding (of the reference as much as of the
# simulation) by 30 per layer, so end-to-end comparisons use ω = 1; the per-layer check uses ω = 30.
SIN_1 = symm.get_activation("sin", omega=1)
END_TO_END = [SIN_1 if n == "sin" else n for n in LINEAR]


def _net(sizes, act, seed, n_probes, dtype=jnp.float64):
    space = symm.WeightSpace.mlp(sizes, act if len(sizes) > 2 else ())  # no hidden layer: no activation
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    params = space.init(k1, dtype=dtype)
    xs = jax.random.normal(k2, (n_probes, sizes[0]), dtype)
    ys = jax.random.normal(k3, (n_probes, sizes[-1]), dtype)
    return space, params, xs, ys


def _max(errors):
    return max(float(e) for e in jax.tree.leaves(errors))


def test_every_linear_registry_activation_is_covered():
    assert "sigmoid" not in LINEAR and {"identity", "relu", "tanh", "cube", "cos", "gelu"} <= set(LINEAR)


sizes_st = st.lists(st.integers(1, 16), min_size=2, max_size=6)  # depths 1..5


@eqx.filter_jit
def _forward_errors(space, params, xs, probes_per_model=None):
    """(local, end to end): layer l of the simulation vs the network's layer l applied to the simulation's
    layer l−1; and every layer vs the network's own post-activations, the output vs ``space.apply``."""
    sim = proofs.simulate_forward(space, params, xs, probes_per_model=probes_per_model)
    h, L = sim.features, len(params)
    local = []
    for l, (w, b) in enumerate(params, start=1):
        z = w @ h[l - 1] + b[:, None]
        local.append(proofs.relative_error(h[l], space.activations[l - 1].fn(z) if l < L else z))
    out = jax.vmap(lambda x: space.apply(params, x))(xs)
    end_to_end = proofs.layer_errors(sim, proofs.reference_forward(space, params, xs)), proofs.relative_error(
        h[-1].T, out
    )
    return local, end_to_end


@eqx.filter_jit
def _backward_errors(space, params, xs, ys, probes_per_model=None):
    sim = proofs.simulate_backward(space, params, xs, targets=ys, probes_per_model=probes_per_model)
    ref = proofs.reference_backward(space, params, xs, targets=ys)
    return (
        proofs.layer_errors(sim.forward, ref.forward),
        proofs.layer_errors(sim.deltas, ref.deltas),  # ∂L/∂z per neuron, ∂L/∂x on inputs
        proofs.grad_errors(sim.grads, ref.grads),  # edge outputs Σ_p δ_i h_j = ∂L/∂W (jax.grad)
    )


# probes_per_model: None = one model carries every probe; 1 = the 1-probe construction vmapped over probes
ppm_st = st.sampled_from([None, 1])


@settings(deadline=None, max_examples=3)
@given(sizes=sizes_st, act=st.sampled_from(LINEAR + [SIN_1]), seed=st.integers(0, 2**16),
       n_probes=st.integers(1, 3), ppm=ppm_st)
def test_forward_simulation_is_exact_float64(sizes, act, seed, n_probes, ppm):
    space, params, xs, _ = _net(sizes, act, seed, n_probes)
    local, end_to_end = _forward_errors(space, params, xs, ppm)
    assert _max(local) <= 1e-12
    if not (isinstance(act, str) and act == "sin"):  # sin(30x) end to end: see END_TO_END
        assert _max(end_to_end) <= 1e-12


@settings(deadline=None, max_examples=2)
@given(sizes=sizes_st, act=st.sampled_from(END_TO_END), seed=st.integers(0, 2**16), n_probes=st.integers(1, 3),
       ppm=ppm_st)
def test_backward_simulation_matches_jax_grad_float64(sizes, act, seed, n_probes, ppm):
    space, params, xs, ys = _net(sizes, act, seed, n_probes)
    assert _max(_backward_errors(space, params, xs, ys, ppm)) <= 1e-12


@pytest.mark.slow  # the hypothesis tests above draw depths 1-5 and widths 1-16; this pins the largest corner
def test_forward_simulation_depth_five_width_sixteen():
    space, params, xs, _ = _net((3, 16, 16, 16, 16, 2), "cube", 11, 2)
    assert _max(_forward_errors(space, params, xs)) <= 1e-12


def test_backward_simulation_float32_in_probe_groups():
    space, params, xs, ys = _net((2, 8, 8, 1), "tanh", 3, 4, jnp.float32)
    errors = _backward_errors(space, params, xs, ys, 2)  # two vmapped 2-probe models; their readouts add up
    assert all(e.dtype == jnp.float32 for e in jax.tree.leaves(errors))
    assert _max(errors) <= 1e-5


class _DerivativeIsOne(eqx.Module):
    """A deliberately wrong derivative block: σ' replaced by 1."""

    def __call__(self, x):
        t = x.type  # claims the derivative's type φ(q)/q, so only the values are wrong
        ones = jnp.ones(x.array.shape[:-1] + (x.array.shape[-1] // 2,), x.array.dtype)
        return Typed(ones, FeatureType.vertex(t.layout, t.layer, t.layout.phi(t.layer) / IDENTITY, "σ'"))


@eqx.filter_jit
def _backward_with(model, space, params, xs, ys):
    state = model(probe_graph(space, params, xs, ys))
    return proofs.GradientReadout(xs.shape[0], dtype=xs.dtype)(state)


def test_wrong_derivative_breaks_the_backward_simulation():
    space, params, xs, ys = _net((2, 4, 3, 1), "tanh", 5, 2)
    ref = eqx.filter_jit(proofs.reference_backward)(space, params, xs, targets=ys)
    model = construct(space, 2, loss=proofs.loss_coefficients(None, 2, 1))
    right = _backward_with(model, space, params, xs, ys)
    assert _max(proofs.grad_errors(right, ref.grads)) <= 1e-12
    wrong = eqx.tree_at(lambda m: m.layers.derivative, model, _DerivativeIsOne())
    errors = proofs.grad_errors(_backward_with(wrong, space, params, xs, ys), ref.grads)
    assert float(errors[0][0]) > 1e-3  # first layer's ∂L/∂W needs σ' of both hidden layers
    assert float(errors[-1][0]) <= 1e-12  # the output layer's gradient needs no σ'


def test_too_few_steps_do_not_reach_the_output():
    space, params, xs, _ = _net((2, 4, 3, 1), "relu", 6, 2)
    model = construct(space, 2)
    fewer = jax.tree.map(lambda a: a[:-1] if eqx.is_array(a) else a, model.layers)  # L − 1 steps
    state = eqx.filter_jit(eqx.tree_at(lambda m: m.layers, model, fewer))(probe_graph(space, params, xs))
    ref = eqx.filter_jit(proofs.reference_forward)(space, params, xs)
    assert float(proofs.relative_error(state.h[2][:, :2], ref.features[2])) <= 1e-12  # layer L−1 is done
    assert float(proofs.relative_error(state.h[3][:, :2], ref.features[3])) > 1e-3


@pytest.mark.slow  # a second loss through the same construction; the default MSE is tested above
def test_custom_quadratic_loss_and_rejection_of_other_losses():
    space, params, xs, ys = _net((2, 3, 2), "tanh", 8, 2)

    def half_sse(z, y):
        return 0.5 * jnp.sum((z - y) ** 2) + 3.0 * jnp.sum(z)

    @eqx.filter_jit
    def errors(params, xs, ys):
        sim = proofs.simulate_backward(space, params, xs, half_sse, targets=ys)
        ref = proofs.reference_backward(space, params, xs, half_sse, targets=ys)
        return proofs.grad_errors(sim.grads, ref.grads)

    assert _max(errors(params, xs, ys)) <= 1e-12
    with pytest.raises(ValueError, match="elementwise affine"):
        proofs.simulate_backward(space, params, xs, lambda z, y: jnp.sum(jnp.abs(z - y) ** 3), targets=ys)


def test_bad_inputs_get_clear_errors():
    space, params, xs, _ = _net((2, 3, 1), "tanh", 9, 3)
    with pytest.raises(ValueError, match="xs must have shape"):
        proofs.simulate_forward(space, params, xs.T)
    with pytest.raises(ValueError, match="dtype"):
        proofs.simulate_forward(space, params, xs.astype(jnp.float32))
    with pytest.raises(ValueError, match="positive divisor"):
        proofs.simulate_forward(space, params, xs, probes_per_model=2)
    with pytest.raises(ValueError, match="targets must have shape"):
        proofs.simulate_backward(space, params, xs, targets=jnp.zeros((2, 1)))
    sig = symm.WeightSpace.mlp((2, 3, 1), "sigmoid")
    with pytest.raises(ValueError, match="affine"):
        proofs.simulate_forward(sig, sig.init(jax.random.key(0)), xs)


def test_constructed_model_cached_under_jit_holds_concrete_arrays():
    space, params, xs, _ = _net((1, 2, 1), "relu", 12, 1)
    eqx.filter_jit(proofs.simulate_forward)(space, params, xs)
    model = construct(space, 1)
    assert all(not isinstance(a, jax.core.Tracer) for a in jax.tree.leaves(model))
