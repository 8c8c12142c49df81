"""simulate(g·params) = g acting on simulate(params): post-activations by φ(q), backward states by 1/q."""

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest

import symm
import proofs


def _max_error(a: symm.NeuronFeatures, b: symm.NeuronFeatures) -> float:
    return max(float(e) for e in proofs.layer_errors(a, b))


_backward = eqx.filter_jit(proofs.simulate_backward)


def _setup(act, seed):
    space = symm.WeightSpace.mlp((2, 3, 2, 1), act)
    k1, k2, k3, k4 = jax.random.split(jax.random.key(seed), 4)
    params = space.init(k1)
    xs = jax.random.normal(k2, (2, 2))
    ys = jax.random.normal(k3, (2, 1))
    g = space.sample(k4)
    return space, params, xs, ys, g


# positive (relu) and nonzero (x³: sign and magnitude) groups by default; sign (tanh) and trivial (cos: permutations
# only) with -m slow
SLOW = pytest.mark.slow


@pytest.mark.parametrize("act", ["relu", "cube", pytest.param("tanh", marks=SLOW), pytest.param("cos", marks=SLOW)])
def test_simulation_is_equivariant(act):
    space, params, xs, ys, g = _setup(act, 0)
    sim = _backward(space, params, xs, targets=ys)
    moved = _backward(space, space.act(g, params), xs, targets=ys)
    # post-activation states scale by φ(q) (the hidden layers' derived character), then permute
    assert sim.forward.types[1] == symm.derive(act).character or symm.derive(act).group.is_trivial
    assert _max_error(moved.forward, space.act_neurons(g, sim.forward)) <= 1e-12
    # backward states ∂L/∂z scale by 1/q
    assert sim.deltas.types[1] == symm.Character(-1, 1)
    assert _max_error(moved.deltas, space.act_neurons(g, sim.deltas)) <= 1e-12


@pytest.mark.parametrize("act,stream", [("cube", "forward"), ("relu", "deltas")])
def test_wrong_types_fail_the_equivariance_check(act, stream):
    """Post-activations of x³ are NOT type q, and ReLU's backward states are NOT type q."""
    space, params, xs, ys, g = _setup(act, 1)
    g = symm.GroupElement(g.perms, tuple(jnp.where(jnp.abs(q) < 1.2, 2.5 * jnp.sign(q), q) for q in g.scales))
    sim = _backward(space, params, xs, targets=ys)
    moved = _backward(space, space.act(g, params), xs, targets=ys)
    right, got = getattr(sim, stream), getattr(moved, stream)
    wrong = symm.NeuronFeatures(right.features, symm.IDENTITY)  # every layer typed q
    assert _max_error(got, space.act_neurons(g, right)) <= 1e-12
    assert _max_error(got, space.act_neurons(g, wrong)) > 1e-2
