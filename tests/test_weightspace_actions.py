"""Group actions on weight spaces: derived symmetries preserve the function, larger groups do not,
and the elements form a group acting on params."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symm
from symm import Group
from symm._weight_params import draw_params


def _grows(name: str) -> bool:
    """Activations whose φ grows faster than linearly (x², x⁵, relu², …): keep them apart."""
    return abs(float(symm.derive(name).character.s)) > 1


def _registry_spaces():
    """Every registry activation, packed into a few mixed MLPs (one fast-growing one per net)."""
    names = symm.registry_names()
    growing = [n for n in names if _grows(n)]
    rest = [n for n in names if not _grows(n)]
    chunks = [[g] for g in growing]
    for i, n in enumerate(rest):
        chunks[i % len(chunks)].append(n)
    return [tuple(c) for c in chunks]


REGISTRY_CHUNKS = _registry_spaces()


def _inputs(space, key, n=12):
    if space.is_cnn:
        return jax.random.normal(key, (n, space.layer_sizes[0], 6, 6), jnp.float64)
    return jax.random.uniform(key, (n, space.layer_sizes[0]), jnp.float64, -1.0, 1.0)


@eqx.filter_jit
def _changes(space, key, xs, extra):
    """Relative change of a random network's outputs under 4 sampled elements (worst), and
    under each element of ``extra`` (least): a batch of elements, "outside" (drawn from a larger
    group, None when there is none) or None. One compilation per space."""
    params = draw_params(space, jax.random.fold_in(key, 0), jnp.float64)
    apply = jax.vmap(space.apply, in_axes=(None, 0))
    reference = apply(params, xs)
    scale = jnp.maximum(jnp.max(jnp.abs(reference)), 1e-300)

    def change(g):
        return jnp.max(jnp.abs(apply(space.act(g, params), xs) - reference)) / scale

    inside = jax.vmap(change)(jax.vmap(space.sample)(jax.random.split(jax.random.fold_in(key, 1), 4)))
    if isinstance(extra, str):  # "outside": elements of a larger group, drawn in the same compilation
        extra = None if all(g == Group.NONZERO for g in space.groups) else _outside_elements(space, key)
    if extra is None:
        return jnp.max(inside), None
    return jnp.max(inside), jnp.min(jax.vmap(change)(extra))


def _outside_elements(space, key):
    """Four elements of a larger group than the derived one."""
    return jax.vmap(space.sample_outside)(jax.random.split(jax.random.fold_in(key, 2), 4))


def test_registry_chunks_cover_every_activation():
    # the library's own: other tests in this worker may have registered examples of their own
    assert sorted(n for chunk in REGISTRY_CHUNKS for n in chunk) == sorted(symm.registry_names(builtin_only=True))


@pytest.mark.parametrize("activations", REGISTRY_CHUNKS, ids=lambda c: "+".join(c))
def test_every_registry_activation_preserves_function_and_larger_group_breaks_it(activations, key):
    space = symm.WeightSpace.mlp((3,) + (3,) * len(activations) + (2,), list(activations))
    xs = _inputs(space, jax.random.fold_in(key, 1))
    # Where a larger group exists, its elements must change the function clearly.
    inside, outside = _changes(space, key, xs, "outside")
    assert float(inside) <= 1e-10
    assert outside is None or float(outside) > 1e-4


def _uniform_element(space, value):
    """Every hidden neuron scaled by ``value``, no permutation (a batch of one)."""
    g = space.identity()
    g = symm.GroupElement(g.perms, tuple(jnp.full_like(q, value) for q in g.scales))
    return jax.tree_util.tree_map(lambda a: a[None], g)


NEGATIVE_CASES = [
    ("relu", -1.0),  # sign flips: ReLU only has positive scalings
    ("gelu", 2.0),  # positive scaling: GELU has the trivial group
    ("tanh", 2.0),  # a = 2: tanh only has sign flips
]


@pytest.mark.parametrize(("activation", "value"), NEGATIVE_CASES)
@settings(deadline=None, max_examples=3)
@given(seed=st.integers(0, 2**31 - 1))
def test_larger_group_element_does_not_preserve_function(activation, value, seed):
    space = symm.WeightSpace.mlp((2, 4, 4, 1), activation)
    key = jax.random.key(seed)
    xs = _inputs(space, jax.random.fold_in(key, 1))
    inside, outside = _changes(space, key, xs, _uniform_element(space, value))
    assert float(inside) <= 1e-10
    assert float(outside) > 1e-3


# ------------------------------------------------------------------ hypothesis over layouts

ALL = symm.registry_names()


@st.composite
def layouts(draw):
    n_layers = draw(st.integers(2, 5))
    widths = draw(st.lists(st.integers(1, 8), min_size=n_layers + 1, max_size=n_layers + 1))
    acts, grown = [], False
    for _ in range(n_layers - 1):  # at most one fast-growing activation per net keeps outputs finite
        name = draw(st.sampled_from([n for n in ALL if not (grown and _grows(n))]))
        grown = grown or _grows(name)
        acts.append(name)
    return tuple(widths), tuple(acts)


@eqx.filter_jit
def _axiom_errors(space, key, xs):
    """For a random network and three random elements: the relative change of the function,
    the largest deviation in each group axiom (rounding level when they hold), and exact
    permutation identities. One jitted call per layout keeps the property test fast."""
    params = draw_params(space, jax.random.fold_in(key, 0), jnp.float64)
    g, h, k = (space.sample(jax.random.fold_in(key, i)) for i in (1, 2, 3))

    def dist(x, y):
        vals = [
            jnp.max(jnp.abs(a - b)) / jnp.maximum(jnp.max(jnp.abs(b)), 1e-300)
            for a, b in zip(jax.tree_util.tree_leaves(x), jax.tree_util.tree_leaves(y))
        ]
        return jnp.max(jnp.stack(vals))

    def same_perms(x, y):
        return jnp.all(jnp.stack([jnp.all(a == b) for a, b in zip(x.perms, y.perms)]))

    apply = jax.vmap(space.apply, in_axes=(None, 0))
    ident = space.identity()
    errors = {
        "function": dist(apply(space.act(g, params), xs), apply(params, xs)),
        "identity": dist(space.act(ident, params), params),
        "inverse": dist(space.act(g, space.act(g.inverse(), params)), params),
        "inverse_left": dist(space.act(g.inverse(), space.act(g, params)), params),
        "compose": dist(space.act(space.compose(g, h), params), space.act(g, space.act(h, params))),
        "assoc": dist(g.compose(h).compose(k).scales, g.compose(h.compose(k)).scales),
        "g_ginv": dist(g.compose(g.inverse()).scales, ident.scales),
        "ginv_g": dist(g.inverse().compose(g).scales, ident.scales),
    }
    perms_ok = jnp.stack(
        [
            same_perms(g.compose(h).compose(k), g.compose(h.compose(k))),
            same_perms(g.compose(g.inverse()), ident),
            same_perms(g.inverse().compose(g), ident),
        ]
    )
    return errors, perms_ok


@settings(deadline=None, max_examples=3)
@given(layout=layouts(), seed=st.integers(0, 2**31 - 1))
def test_mixed_layouts_preserve_function_and_satisfy_group_axioms(layout, seed):
    widths, acts = layout
    space = symm.WeightSpace.mlp(widths, list(acts))
    key = jax.random.key(seed)
    xs = jax.random.uniform(jax.random.fold_in(key, 9), (8, widths[0]), jnp.float64, -1.0, 1.0)
    errors, perms_ok = _axiom_errors(space, key, xs)
    assert float(errors.pop("function")) <= 1e-10
    assert max(float(e) for e in errors.values()) <= 1e-13, errors
    assert bool(jnp.all(perms_ok))


def test_axiom_check_detects_a_wrong_composition(key):
    """Negative partner of the axiom test: composing in the wrong order is caught."""
    space = symm.WeightSpace.mlp((2, 5, 4, 1), "relu")
    params = space.init(key)
    g, h = space.sample(jax.random.fold_in(key, 1)), space.sample(jax.random.fold_in(key, 2))
    right, wrong, sequential = eqx.filter_jit(
        lambda g, h, p: (space.act(g.compose(h), p), space.act(h.compose(g), p), space.act(g, space.act(h, p)))
    )(g, h, params)
    assert all(np.allclose(a, b, rtol=1e-13, atol=0) for a, b in zip(jax.tree_util.tree_leaves(right), jax.tree_util.tree_leaves(sequential)))
    assert not all(np.allclose(a, b, rtol=1e-6) for a, b in zip(jax.tree_util.tree_leaves(wrong), jax.tree_util.tree_leaves(sequential)))


@pytest.mark.parametrize("activation", ["relu", "cube", "tanh", "abs"])
def test_inverse_round_trip_is_exact_for_dyadic_scales(activation, key):
    """With power-of-two scales every multiplication is exact, so g·(g⁻¹·p) == p bit for bit."""
    space = symm.WeightSpace.mlp((3, 4, 5, 2), activation)
    params = space.init(key)
    g = space.sample(jax.random.fold_in(key, 1))
    g = symm.GroupElement(g.perms, tuple(jnp.exp2(jnp.round(jnp.log2(jnp.abs(q)))) * jnp.sign(q) for q in g.scales))
    back = eqx.filter_jit(lambda g, p: space.act(g, space.act(g.inverse(), p)))(g, params)
    for a, b in zip(jax.tree_util.tree_leaves(back), jax.tree_util.tree_leaves(params)):
        assert np.array_equal(np.asarray(a), np.asarray(b))


def test_affine_offset_shift_is_needed_for_sigmoid(key):
    """The next-bias shift of the affine sigmoid symmetry is what makes the function survive."""
    space = symm.WeightSpace.mlp((3, 5, 4, 2), "sigmoid")
    params = space.init(key)
    xs = _inputs(space, jax.random.fold_in(key, 1))
    g = _uniform_element(space, -1.0)
    assert symm.check_function_preserved(space, params, g, xs).passed
    no_shift = space.act_linear(jax.tree_util.tree_map(lambda a: a[0], g), params)
    f = jax.vmap(space.apply, in_axes=(None, 0))
    assert np.max(np.abs(f(no_shift, xs) - f(params, xs))) > 1e-3


# ------------------------------------------------------------------ CNNs

@pytest.mark.slow
@settings(deadline=None, max_examples=4)
@given(
    kernels=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    acts=st.tuples(*(st.sampled_from(["relu", "tanh", "sigmoid", "abs", "sin", "gelu"]),) * 3),
    seed=st.integers(0, 2**31 - 1),
)
def test_cnn_function_preserved_on_random_images(kernels, acts, seed):
    space = symm.WeightSpace.cnn(channels=(2, 3, 4), dense=(5, 3), kernel_size=kernels, activations=list(acts))
    key = jax.random.key(seed)
    xs = _inputs(space, jax.random.fold_in(key, 1), n=3)
    inside, outside = _changes(space, key, xs, "outside")
    assert float(inside) <= 1e-10
    assert outside is None or float(outside) > 1e-4


def test_cnn_small_zoo_shape_via_public_check(key):
    space = symm.WeightSpace.cnn(channels=(1, 4, 4, 4), dense=(3,), kernel_size=3, activations="relu")
    assert space.param_shapes[0] == ((4, 1, 3, 3), (4,))
    assert space.param_shapes[-1] == ((3, 4), (3,))
    params = space.init(key)
    xs = _inputs(space, jax.random.fold_in(key, 1), n=3)
    assert symm.check_function_preserved(space, params, jax.random.fold_in(key, 2), xs, n=4).passed
    assert not symm.check_function_preserved(space, params, _uniform_element(space, -1.0), xs).passed


def test_affine_symmetry_between_convolutions_is_reduced_to_trivial(key):
    """A constant offset does not pass through zero padding, so conv→conv sigmoid keeps only q = 1;
    at the conv→dense boundary (after pooling) the sign group survives."""
    space = symm.WeightSpace.cnn(channels=(1, 3, 3), dense=(2,), kernel_size=3, activations="sigmoid")
    assert symm.derive("sigmoid").group == Group.SIGN
    assert space.groups == (Group.TRIVIAL, Group.SIGN)
    g = space.sample(key)
    assert np.all(np.asarray(g.scales[0]) == 1.0)
    params = space.init(key)
    xs = _inputs(space, jax.random.fold_in(key, 1), n=3)
    assert symm.check_function_preserved(space, params, jax.random.fold_in(key, 2), xs, n=8).passed
    # Flipping the first conv layer with the dense-style offset shift is NOT a symmetry here.
    flip = symm.GroupElement(g.perms, (-jnp.ones(3), jnp.ones(3)))

    @eqx.filter_jit
    def change(params, xs):
        moved = list(space.act_linear(flip, params))
        w1 = moved[1][0]
        c = jnp.ones(3)  # c(-1) = (1 - (-1)) / 2 for the sigmoid
        moved[1] = (w1, moved[1][1] - jnp.sum(w1, axis=(2, 3)) @ c)
        f = jax.vmap(space.apply, in_axes=(None, 0))
        return jnp.max(jnp.abs(f(tuple(moved), xs) - f(params, xs)))

    assert symm.derive("sigmoid").offset_fn(jnp.array(-1.0)) == 1.0
    assert float(change(params, xs)) > 1e-4
