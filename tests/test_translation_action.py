"""Translations in the weight space: lattice shifts preserve sine and cosine networks, others do not;
they compose, invert, canonicalise."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import symm

SINE = symm.WeightSpace.mlp((2, 5, 4, 1), "sin")  # sin(30x): shifts k·π/30, β = (−1)^k
MIXED = symm.WeightSpace.mlp((2, 5, 4, 1), ["cos", "sin(x)**2"])  # π with β = (−1)^k; π/2 with γ ≠ 0
SPACES = {"sine": SINE, "cos-sin2": MIXED}
HIDDEN = 9
XS = jax.random.uniform(jax.random.key(7), (24, 2), jnp.float64, -1.0, 1.0)


def _element(space, order, flips, index, offset=0.0):
    """Permutations from ``order``, sign flips, shifts (index + offset)·P per layer."""
    perms, scales, shifts, start = [], [], [], 0
    for n, translation in zip(space.hidden_sizes, space.translations):
        rows = slice(start, start + n)
        start += n
        perms.append(jnp.asarray(np.argsort(order[rows], kind="stable"), jnp.int32))
        scales.append(jnp.asarray(np.where(flips[rows], -1.0, 1.0)))
        shifts.append(jnp.asarray((index[rows] + offset) * translation.period))
    return symm.GroupElement(tuple(perms), tuple(scales), tuple(shifts))


@eqx.filter_jit
def _change(space, g, params):
    """Relative change of the outputs under g, and of the canonical form."""
    apply = jax.vmap(space.apply, in_axes=(None, 0))
    moved = space.act(g, params)
    before, after = apply(params, XS), apply(moved, XS)
    canonical, of_moved = symm.canonicalise(space, params), symm.canonicalise(space, moved)
    canon = jnp.max(jnp.stack([
        jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(b))
        for a, b in zip(jax.tree_util.tree_leaves(of_moved), jax.tree_util.tree_leaves(canonical))
    ]))
    return jnp.max(jnp.abs(after - before)) / jnp.max(jnp.abs(before)), canon


elements = st.tuples(
    hnp.arrays(np.float64, HIDDEN, elements=st.floats(0, 1), unique=True),
    hnp.arrays(np.bool_, HIDDEN),
    hnp.arrays(np.int64, HIDDEN, elements=st.integers(-5, 5)),
)


@settings(deadline=None, max_examples=15)
@given(name=st.sampled_from(sorted(SPACES)), seed=st.integers(0, 2**16), drawn=elements)
def test_lattice_elements_preserve_the_function_and_the_canonical_form(name, seed, drawn):
    space = SPACES[name]
    params = space.init(jax.random.key(seed), dtype=jnp.float64)
    function, canonical = _change(space, _element(space, *drawn), params)
    assert function <= 1e-10
    assert canonical <= 1e-10


@pytest.mark.parametrize("offset", [0.5, 0.25])
def test_off_lattice_shift_changes_the_function(offset):
    """A shift by π/(2ω0) (half the lattice step) or a quarter step is not a symmetry."""
    params = SINE.init(jax.random.key(1), dtype=jnp.float64)
    hidden = np.zeros(HIDDEN)
    off = _element(SINE, np.linspace(0, 1, HIDDEN), hidden.astype(bool), hidden, offset)
    function, canonical = _change(SINE, off, params)
    assert function > 1e-2 and canonical > 1e-2
    if offset == 0.5:
        assert not symm.check_function_preserved(SINE, params, off, XS).passed


@eqx.filter_jit
def _group_laws(space, g, h, params):
    return (
        space.act(g.compose(h), params),
        space.act(g, space.act(h, params)),
        space.act(g.inverse(), space.act(g, params)),
    )


def test_sampled_elements_hold_lattice_shifts_and_form_a_group():
    g, h = SINE.sample(jax.random.key(3), translations=True), SINE.sample(jax.random.key(4), translations=True)
    for shift in g.shifts:
        k = np.asarray(shift) / (np.pi / 30)
        np.testing.assert_allclose(k, np.round(k), atol=1e-9)
        assert np.any(np.round(k) % 2 == 1)  # odd k: the sign β = −1 is exercised
    params = SINE.init(jax.random.key(5), dtype=jnp.float64)
    both, in_turn, back = _group_laws(SINE, g, h, params)
    for a, b in zip(jax.tree_util.tree_leaves(both), jax.tree_util.tree_leaves(in_turn)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    for a, b in zip(jax.tree_util.tree_leaves(back), jax.tree_util.tree_leaves(params)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    again = symm.GroupElement.from_dict(g.to_dict(), dtype=jnp.float64)
    assert all(bool(jnp.all(a == b)) for a, b in zip(again.shifts, g.shifts))
    assert "shifts [" in str(g)


def test_equivariance_check_accepts_translations():
    params = MIXED.init(jax.random.key(6), dtype=jnp.float64)
    f = lambda p: jax.vmap(MIXED.apply, in_axes=(None, 0))(p, XS)
    report = symm.check_equivariance(f, MIXED, jax.random.key(8), params=params, n=8, translations=True)
    assert report.passed and "shifts [" in str(report)
    g = MIXED.sample(jax.random.key(9), translations=True)
    assert any(bool(jnp.any(s != 0)) for s in g.shifts)
    assert MIXED.sample(jax.random.key(9)).shifts is None  # opt-in: scaling-built models are not shift-invariant


def test_canonical_biases_lie_in_the_fundamental_domain():
    params = tuple((w, 10.0 * b) for w, b in MIXED.init(jax.random.key(10), dtype=jnp.float64))
    (w1, b1), (w2, b2), _ = symm.canonicalise(MIXED, params)
    assert bool(jnp.all((b1 >= 0) & (b1 < np.pi))) and bool(jnp.all((b2 >= 0) & (b2 < np.pi / 2)))
    assert bool(jnp.all(w1[:, 0] > 0)) and bool(jnp.all(w2[:, 0] > 0))  # signs from the weights
    assert bool(jnp.all(jnp.diff(b1) > 0))
    kept = symm.canonicalise(MIXED, params, symmetries=("permutation", "sign"))
    assert float(jnp.max(jnp.abs(kept[0][1]))) > np.pi  # translations left out: biases not reduced


def test_which_layers_keep_translations():
    assert [t.kind for t in MIXED.translations] == ["lattice", "lattice"]
    assert [t.kind for t in symm.WeightSpace.mlp((2, 3, 1), "tanh").translations] == ["trivial"]
    assert [t.kind for t in symm.WeightSpace.mlp((2, 3, 1), "identity").translations] == ["real"]
    cnn = symm.WeightSpace.cnn(channels=(1, 2, 2), dense=(2,), activations=["sin(x)**2", "sin(x)**2"])
    assert [t.kind for t in cnn.translations] == ["trivial", "lattice"]  # γ ≠ 0 does not pass zero padding
    cnn = symm.WeightSpace.cnn(channels=(1, 2, 2), dense=(2,), activations="sin")
    assert [t.kind for t in cnn.translations] == ["lattice", "lattice"]  # β = ±1 does
    assert symm.WeightSpace.mlp((2, 3, 1), "relu").sample(jax.random.key(0), translations=True).shifts is None
