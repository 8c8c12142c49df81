"""ScaleGMN is exactly invariant / equivariant under the derived weight-space groups."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symm
from models import ScaleGMN, ScaleGMNEditor
from models.gmn import ScaleInv
from models.graph import StreamType, pad_to, to_graph

from _strategies import mlp_spaces

LINEAR_ACTS = ["relu", "tanh", "sin", "cube", "abs", "cos", "signed_square", "identity", "leaky_relu", "gelu"]
SMALL = dict(width=4, n_layers=2)
SPACES = mlp_spaces(depths=(2, 3), widths=(1, 3), activations=LINEAR_ACTS)


def apply_model(params, model):
    """f for check_equivariance; the model rides along as a traced argument so that
    compiled checks are reused across seeds of the same structure."""
    return model(to_graph(model.layout, params))


def check(model, space, key, params, **kw):
    return symm.check_equivariance(apply_model, space, key, params=params, others=(model,), **kw)


def assert_eq(model, space, key, params, **kw):
    return symm.assert_equivariant(apply_model, space, key, params=params, others=(model,), **kw)


@settings(deadline=None, max_examples=2)
@given(space=SPACES, bidirectional=st.booleans(), seed=st.integers(0, 2**16))
def test_invariant_scalegmn_is_invariant_float64(space, bidirectional, seed):
    key = jax.random.key(seed)
    model = ScaleGMN(space, 3, bidirectional=bidirectional, key=key, **SMALL)
    params = space.init(jax.random.fold_in(key, 1))
    report = assert_eq(model, space, jax.random.fold_in(key, 2), params, n=4)
    assert report.weight_sensitivity > 1e-3  # assert_eq checked the error; the model also reads the weights


@settings(deadline=None, max_examples=2)
@given(space=SPACES, bidirectional=st.booleans(), seed=st.integers(0, 2**16))
def test_editor_is_equivariant_float64(space, bidirectional, seed):
    key = jax.random.key(seed)
    model = ScaleGMNEditor(space, bidirectional=bidirectional, key=key, **SMALL)
    params = space.init(jax.random.fold_in(key, 1))
    report = assert_eq(model, space, jax.random.fold_in(key, 2), params, mode="equivariant", n=4)
    assert report.weight_sensitivity > 1e-3  # assert_eq checked the error; the model also reads the weights


def test_cnn_inputs_with_mixed_activations(key):
    bidirectional = True
    space = symm.WeightSpace.cnn((1, 2), (2, 2), kernel_size=3, activations=["relu", "tanh"])
    params = space.init(jax.random.fold_in(key, 1))
    inv = ScaleGMN(space, 2, bidirectional=bidirectional, key=key, **SMALL)
    eq = ScaleGMNEditor(space, bidirectional=bidirectional, key=key, **SMALL)
    assert_eq(inv, space, key, params, n=4)
    assert_eq(eq, space, key, params, mode="equivariant", n=4)
    delta = eq(to_graph(space, params))
    assert [d[0].shape for d in delta] == [p[0].shape for p in params]


@pytest.mark.slow  # float32 invariance is also checked by tests/test_train_stress.py on trained models
def test_float32_within_1e_4(key):
    space = symm.WeightSpace.mlp((2, 4, 4, 1), ["relu", "sin"])
    params = space.init(key, dtype=jnp.float32)
    inv = ScaleGMN(space, 3, bidirectional=False, key=key, dtype=jnp.float32, **SMALL)
    eq = ScaleGMNEditor(space, bidirectional=True, key=key, dtype=jnp.float32, **SMALL)
    r1 = assert_eq(inv, space, key, params, n=4)
    r2 = assert_eq(eq, space, key, params, mode="equivariant", n=4)
    assert r1.dtype == r2.dtype == "float32" and r1.tolerance == r2.tolerance == 1e-4


# ---- negative tests ---------------------------------------------------------------------------
def test_permutation_only_baseline_is_not_scale_invariant_on_relu(key):
    bidirectional = False
    space = symm.WeightSpace.mlp((2, 4, 4, 1), "relu")
    params = space.init(jax.random.fold_in(key, 1))
    baseline = ScaleGMN(space, 3, bidirectional=bidirectional, permutation_only=True, key=key, **SMALL)
    scaled = check(baseline, space, key, params, n=4)
    assert not scaled.passed and scaled.max_rel_error > 1e-3
    # ...while it is exactly permutation invariant (scales drawn from [1, 1])
    assert_eq(baseline, space, key, params, n=4, scale_range=(1.0, 1.0))


@pytest.mark.slow  # the default run's negative: test_permutation_only_baseline_is_not_scale_invariant_on_relu
def test_sign_built_model_is_not_invariant_under_positive_scalings(key):
    bidirectional = True
    tanh_space = symm.WeightSpace.mlp((2, 4, 4, 1), "tanh")
    relu_space = symm.WeightSpace.mlp((2, 4, 4, 1), "relu")
    # positive scalings by hand: elements of the ReLU space's group, same hidden sizes
    positive = jax.vmap(relu_space.sample)(jax.random.split(jax.random.fold_in(key, 3), 4))
    params = tanh_space.init(jax.random.fold_in(key, 1))
    sign_model = ScaleGMN(tanh_space, 3, bidirectional=bidirectional, key=key, **SMALL)
    report = check(sign_model, tanh_space, key, params, elements=positive)
    assert not report.passed and report.max_rel_error > 1e-3
    # control: the model built for ReLU inputs is invariant under the very same elements
    relu_model = ScaleGMN(relu_space, 3, bidirectional=bidirectional, key=key, **SMALL)
    assert_eq(relu_model, relu_space, key, params, elements=positive)


def test_scaleinv_is_generated_from_the_type(key):
    x = jax.random.normal(key, (5, 6))
    inv = ScaleInv(6, key=key)
    q = jnp.array([2.5, -0.5, 3.0, -1.0, 0.3])[:, None]
    flips = jnp.array([1.0, -1.0, -1.0, 1.0, -1.0])[:, None]
    from symm import IDENTITY

    for group, ok in [("positive", jnp.abs(q)), ("sign", flips), ("nonzero", q)]:
        t = StreamType.of(group, IDENTITY)
        np.testing.assert_allclose(inv(ok * x, t), inv(x, t), rtol=1e-12, atol=1e-14)
    # a block built for one group breaks under the other group's elements
    assert not np.allclose(inv(flips * x, StreamType.of("positive", IDENTITY)), inv(x, StreamType.of("positive", IDENTITY)))
    assert not np.allclose(inv(2.0 * x, StreamType.of("sign", IDENTITY)), inv(x, StreamType.of("sign", IDENTITY)))
    # trivial group: identity, no canonicalisation
    np.testing.assert_array_equal(inv(x, StreamType.of("trivial", IDENTITY)), x)


# ---- non-degeneracy and padding ---------------------------------------------------------------
run = eqx.filter_jit(lambda model, graph: model(graph))


def test_outputs_depend_on_the_input_network(key):
    bidirectional = True
    space = symm.WeightSpace.mlp((2, 4, 4, 1), ["tanh", "relu"])
    inv = ScaleGMN(space, 3, bidirectional=bidirectional, key=key, **SMALL)
    eq = ScaleGMNEditor(space, bidirectional=bidirectional, key=key, **SMALL)
    g1, g2 = (to_graph(space, space.init(jax.random.key(s))) for s in (1, 2))
    y1, y2 = run(inv, g1), run(inv, g2)
    assert float(jnp.max(jnp.abs(y1 - y2))) > 1e-3 * float(jnp.max(jnp.abs(y1)))
    for (w1, b1), (w2, b2) in zip(run(eq, g1), run(eq, g2)):
        assert float(jnp.max(jnp.abs(w1 - w2))) > 1e-3 * float(jnp.max(jnp.abs(w1)))
        assert float(jnp.max(jnp.abs(b1 - b2))) > 1e-3 * float(jnp.max(jnp.abs(b1)))


def test_padding_contributes_exactly_nothing(key):
    bidirectional = True
    space = symm.WeightSpace.mlp((2, 3, 2, 1), ["cos", "relu"])
    graph = to_graph(space, space.init(key))
    padded = pad_to(graph, (2, 5, 4, 1))
    inv = ScaleGMN(space, 3, bidirectional=bidirectional, key=key, **SMALL)
    np.testing.assert_allclose(run(inv, padded), run(inv, graph), rtol=1e-12, atol=1e-14)
    eq = ScaleGMNEditor(space, bidirectional=bidirectional, key=key, **SMALL)
    for (wp, bp), (w, b) in zip(run(eq, padded), run(eq, graph)):
        np.testing.assert_allclose(wp[: w.shape[0], : w.shape[1]], w, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(bp[: b.shape[0]], b, rtol=1e-12, atol=1e-14)
        assert float(jnp.abs(wp).sum() - jnp.abs(wp[: w.shape[0], : w.shape[1]]).sum()) == 0.0


def test_affine_symmetry_and_layout_mismatch_are_refused(key):
    with pytest.raises(ValueError, match="affine"):
        ScaleGMN(symm.WeightSpace.mlp((2, 3, 1), "sigmoid"), 2, key=key, **SMALL)
    ScaleGMN(symm.WeightSpace.mlp((2, 3, 1), "sigmoid"), 2, permutation_only=True, key=key, **SMALL)
    model = ScaleGMN(symm.WeightSpace.mlp((2, 3, 1), "relu"), 2, key=key, **SMALL)
    other = symm.WeightSpace.mlp((2, 3, 1), "tanh")
    with pytest.raises(ValueError, match="does not match the model"):
        model.encoder.embed(to_graph(other, other.init(key)))
