"""symm.canonicalise: idempotent, function-preserving, constant on orbits; larger groups move it."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import symm

# Every kind of group in few spaces (compilation is per space): sign, positive, nonzero,
# an affine sign group (sigmoid), a sign group with φ = 1 (cos), trivial, and a CNN.
SPACES = {
    "sign-positive": symm.WeightSpace.mlp((2, 4, 3, 1), ["tanh", "relu"]),
    "nonzero-affine": symm.WeightSpace.mlp((2, 4, 3, 1), ["cube", "sigmoid"]),
    "even-trivial": symm.WeightSpace.mlp((2, 4, 3, 1), ["cos", "gelu"]),
    "cnn": symm.WeightSpace.cnn(channels=(1, 3, 2), dense=(2,), kernel_size=3, activations="relu"),
}
MLPS = sorted(name for name in SPACES if name != "cnn")
HIDDEN = 7  # every space above has 7 hidden neurons in all


@eqx.filter_jit
def _summary(space, g, params):
    """Everything the tests compare, in one compilation per space: canonicalise(g·θ),
    canonicalise(θ), canonicalise twice, the canonical element's action, and outputs."""
    canonical = symm.canonicalise(space, params)
    apply = jax.vmap(space.apply, in_axes=(None, 0))
    xs = _inputs(space)
    return {
        "of_moved": symm.canonicalise(space, space.act(g, params)),
        "canonical": canonical,
        "twice": symm.canonicalise(space, canonical),
        "by_element": space.act(symm.canonical_element(space, params), params),
        "outputs": (apply(canonical, xs), apply(params, xs)),
    }


def _relative(a, b) -> float:
    worst = 0.0
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        scale = max(float(jnp.max(jnp.abs(y))), 1e-300)
        worst = max(worst, float(jnp.max(jnp.abs(x - y))) / scale)
    return worst


def _inputs(space, n=16):
    key = jax.random.key(7)
    if space.is_cnn:
        return jax.random.normal(key, (n, space.layer_sizes[0], 5, 5), jnp.float64)
    return jax.random.uniform(key, (n, space.layer_sizes[0]), jnp.float64, -1.0, 1.0)


def _outputs(space, params):
    return jax.vmap(space.apply, in_axes=(None, 0))(params, _inputs(space))


def _element(space, order, flips, log_scales):
    """A group element from drawn arrays: permutations from ``order``, scales from the layer's group."""
    perms, scales, start = [], [], 0
    for n, group in zip(space.hidden_sizes, space.groups):
        rows = slice(start, start + n)
        start += n
        perms.append(jnp.asarray(np.argsort(order[rows], kind="stable"), jnp.int32))
        sign = np.where(flips[rows], -1.0, 1.0)
        magnitude = np.exp(log_scales[rows])
        q = {"trivial": np.ones(n), "sign": sign, "positive": magnitude, "nonzero": sign * magnitude}[group]
        scales.append(jnp.asarray(q, jnp.float64))
    return symm.GroupElement(tuple(perms), tuple(scales))


elements = st.tuples(
    hnp.arrays(np.float64, HIDDEN, elements=st.floats(0, 1), unique=True),
    hnp.arrays(np.bool_, HIDDEN),
    hnp.arrays(np.float64, HIDDEN, elements=st.floats(-1.5, 1.5)),
)


@settings(deadline=None, max_examples=12)
@given(name=st.sampled_from(MLPS), seed=st.integers(0, 2**16), drawn=elements)
def test_constant_on_orbits(name, seed, drawn):
    space = SPACES[name]
    params = space.init(jax.random.key(seed), dtype=jnp.float64)
    got = _summary(space, _element(space, *drawn), params)
    assert _relative(got["of_moved"], got["canonical"]) <= 1e-12


@pytest.mark.parametrize("name", sorted(SPACES))
def test_idempotent_and_preserves_function(name):
    space = SPACES[name]
    params = space.init(jax.random.key(3), dtype=jnp.float64)
    got = _summary(space, space.identity(dtype=jnp.float64), params)
    canonical = got["canonical"]
    assert _relative(got["twice"], canonical) <= 1e-13
    assert _relative(*got["outputs"]) <= 1e-10
    assert _relative(got["by_element"], canonical) <= 1e-13
    assert _relative(canonical, params) > 1e-3  # it did something


def test_conventions_are_the_documented_ones():
    space = SPACES["sign-positive"]  # tanh (sign), then relu (positive)
    (w1, b1), (w2, b2), _ = symm.canonicalise(space, space.init(jax.random.key(5), dtype=jnp.float64))
    assert bool(jnp.all(w1[:, 0] > 0)) and bool(jnp.all(jnp.diff(b1) > 0))  # sign convention, sorted by bias
    np.testing.assert_allclose(jnp.sqrt(jnp.sum(w2**2, axis=1) + b2**2), 1.0, rtol=1e-14)  # norm convention
    assert bool(jnp.all(jnp.diff(b2) > 0))
    space = SPACES["nonzero-affine"]  # cube (nonzero): both conventions
    (w1, b1), _, _ = symm.canonicalise(space, space.init(jax.random.key(5), dtype=jnp.float64))
    assert bool(jnp.all(w1[:, 0] > 0)) and bool(jnp.all(jnp.diff(b1) > 0))
    np.testing.assert_allclose(jnp.sqrt(jnp.sum(w1**2, axis=1) + b1**2), 1.0, rtol=1e-14)


def test_larger_group_moves_the_representative():
    for name in sorted(SPACES):
        space = SPACES[name]
        params = space.init(jax.random.key(11), dtype=jnp.float64)
        outside = space.sample_outside(jax.random.key(12), dtype=jnp.float64)
        got = _summary(space, outside, params)
        assert _relative(got["of_moved"], got["canonical"]) > 1e-2, name


def test_a_part_left_out_is_not_canonicalised():
    space = SPACES["nonzero-affine"]
    params = space.init(jax.random.key(2), dtype=jnp.float64)
    only_perm = lambda p: symm.canonicalise(space, p, symmetries=("permutation",))
    permuted = space.act(_element(space, np.linspace(1, 0, HIDDEN), np.zeros(HIDDEN, bool), np.zeros(HIDDEN)), params)
    assert _relative(only_perm(permuted), only_perm(params)) == 0.0
    flipped = space.act(_element(space, np.linspace(0, 1, HIDDEN), np.ones(HIDDEN, bool), np.zeros(HIDDEN)), params)
    assert _relative(only_perm(flipped), only_perm(params)) > 1e-2
    assert _relative(symm.canonicalise(space, flipped), symm.canonicalise(space, params)) <= 1e-12


def test_tied_neurons_keep_their_order():
    space = symm.WeightSpace.mlp((2, 4, 3), "tanh")
    (w1, b1), (w2, b2) = space.init(jax.random.key(4), dtype=jnp.float64)
    w1, b1 = w1.at[1].set(w1[0]), b1.at[1].set(b1[0])  # neurons 0 and 1 have the same key
    params = ((w1, b1), (w2, b2))
    canonical = symm.canonicalise(space, params)
    (cw1, _), (cw2, _) = canonical
    tied = np.flatnonzero(np.asarray(jnp.all(cw1 == w1[0] * jnp.sign(w1[0, 0]), axis=1)))
    assert len(tied) == 2 and tied[1] == tied[0] + 1
    sign = jnp.sign(w1[0, 0])
    np.testing.assert_array_equal(cw2[:, tied[0]], sign * w2[:, 0])  # stable: old neuron 0 first
    np.testing.assert_array_equal(cw2[:, tied[1]], sign * w2[:, 1])
    assert _relative(_outputs(space, canonical), _outputs(space, params)) <= 1e-10


def test_batch_equals_one_by_one():
    space = SPACES["even-trivial"]
    keys = jax.random.split(jax.random.key(9), 5)
    batch = jax.vmap(lambda k: space.init(k, dtype=jnp.float64))(keys)
    together = symm.canonicalise_batch(space, batch, chunk_size=3)
    for i in range(5):
        one = jax.tree_util.tree_map(lambda a: a[i], batch)
        assert _relative(jax.tree_util.tree_map(lambda a: a[i], together), symm.canonicalise(space, one)) == 0.0


def test_bad_input_gets_one_clear_line():
    space = SPACES["even-trivial"]
    params = space.init(jax.random.key(0), dtype=jnp.float64)
    with pytest.raises(symm.CanonicaliseError, match="no hidden layer .* has that symmetry"):
        symm.canonicalise(space, params, symmetries=("positive",))
    with pytest.raises(symm.CanonicaliseError, match="no canonical form for 'rotation'"):
        symm.canonicalise(space, params, symmetries=("rotation",))
    with pytest.raises(ValueError, match=r"layer 1: W should have shape \(3, 4\)"):
        symm.canonicalise(space, (params[0], (params[1][0].T, params[1][1]), params[2]))
    with pytest.raises(ValueError, match="batch"):
        symm.canonicalise_batch(space, params)
    with pytest.raises(symm.CanonicaliseError, match="chunk_size"):
        symm.canonicalise_batch(space, jax.tree_util.tree_map(lambda a: a[None], params), chunk_size=0)
