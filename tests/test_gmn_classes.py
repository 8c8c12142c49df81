"""ScaleGMN is exactly invariant / equivariant for every (group, φ) class, and the two known
wiring slips, built as real variants of the model, are caught.

Classes: relu (positive, φ = q), tanh (sign, φ = q), cube (nonzero, φ = q³), abs (sign,
φ = |q|), cos (sign, φ = 1), signed_square (nonzero, φ = q|q|), and a network mixing them.
Only the last four have φ(q) ≠ q, where a message built from the q-stream instead of the
φ-stream breaks equivariance.
"""

import dataclasses

import equinox as eqx
import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import symm
from models import ScaleGMN, ScaleGMNEditor
from models.gmn import BidirectionalGMNLayer, FeatureTypeError, ForwardGMNLayer, Typed
from models.graph import Layout, to_graph

SMALL = dict(width=4, n_layers=2)
CLASSES = {
    "relu": ("relu", "relu"),
    "tanh": ("tanh", "tanh"),
    "cube": ("cube", "cube"),
    "abs": ("abs", "abs"),
    "cos": ("cos", "cos"),
    "signed_square": ("signed_square", "signed_square"),
    "mixed": ("cube", "relu"),
}
VARIANTS = {
    "forward": lambda space, key: ScaleGMN(space, 3, key=key, **SMALL),
    "bidirectional": lambda space, key: ScaleGMN(space, 3, bidirectional=True, key=key, **SMALL),
    "editor": lambda space, key: ScaleGMNEditor(space, bidirectional=True, key=key, **SMALL),
}


def apply_model(params, model):
    return model(to_graph(model.layout, params))


def check(model, space, key, params, **kw):
    mode = "equivariant" if isinstance(model, ScaleGMNEditor) else "invariant"
    return symm.check_equivariance(apply_model, space, key, params=params, others=(model,), mode=mode, **kw)


def as_variant(model, cls):
    """The same model (same parameters) with its message-passing step replaced by subclass ``cls``."""
    layer = model.encoder.layers
    new = object.__new__(cls)
    for f in dataclasses.fields(layer):
        object.__setattr__(new, f.name, getattr(layer, f.name))
    return eqx.tree_at(lambda m: m.encoder.layers, model, new)


# ---- the two slips, as real variants of the model --------------------------------------------
class QStreamMessages(ForwardGMNLayer):
    """Slip 1: forward messages built from the q-stream x, labelled as the φ-stream."""

    def message_source(self, s, l):
        return Typed(s.x[l], s.vertex("h", l).type)


class QStreamMessagesTyped(ForwardGMNLayer):
    """Slip 1 with its honest type: the type algebra refuses to sum it over sources."""

    def message_source(self, s, l):
        return s.vertex("x", l)


class XForDeltaBackward(BidirectionalGMNLayer):
    """Slip 2: backward messages built from x instead of δ, labelled as δ."""

    def backward_source(self, s, l):
        return Typed(s.x[l], s.vertex("delta", l).type)


class XForDeltaBackwardTyped(BidirectionalGMNLayer):
    def backward_source(self, s, l):
        return s.vertex("x", l)


# ---- one deterministic test per class ---------------------------------------------------------
# the default run checks every class on one model (rotating over the three); -m slow adds the rest
_CASES = [
    pytest.param(c, v, marks=() if i % len(VARIANTS) == j else pytest.mark.slow, id=f"{c}-{v}")
    for i, c in enumerate(CLASSES) for j, v in enumerate(VARIANTS)
]


@pytest.mark.parametrize("cls, variant", _CASES)
def test_every_group_class_is_exact_float64(cls, variant):
    space = symm.WeightSpace.mlp((2, 3, 3, 1), list(CLASSES[cls]))
    key = jax.random.key(7)
    model = VARIANTS[variant](space, key)
    params = space.init(jax.random.fold_in(key, 1))
    report = check(model, space, jax.random.fold_in(key, 2), params, n=4)
    assert report.passed and report.max_rel_error <= 1e-12, report


@pytest.mark.parametrize("act", ["cube", pytest.param("abs", marks=pytest.mark.slow)])  # cube: φ(q) = q³ ≠ q
def test_messages_from_the_q_stream_break_equivariance(act):
    space = symm.WeightSpace.mlp((2, 3, 3, 1), act)
    key = jax.random.key(7)
    model = ScaleGMN(space, 3, key=key, **SMALL)
    params = space.init(jax.random.fold_in(key, 1))
    assert check(model, space, jax.random.fold_in(key, 2), params, n=4).max_rel_error <= 1e-12
    slipped = check(as_variant(model, QStreamMessages), space, jax.random.fold_in(key, 2), params, n=4)
    assert not slipped.passed and slipped.max_rel_error > 1e-3
    with pytest.raises(FeatureTypeError, match="forward message.*cannot sum|cannot sum.*forward message"):
        apply_model(params, as_variant(model, QStreamMessagesTyped))


def test_x_for_delta_in_backward_messages_breaks_relu():
    space = symm.WeightSpace.mlp((2, 3, 3, 1), "relu")
    key = jax.random.key(7)
    model = ScaleGMN(space, 3, bidirectional=True, key=key, **SMALL)
    params = space.init(jax.random.fold_in(key, 1))
    assert check(model, space, jax.random.fold_in(key, 2), params, n=4).max_rel_error <= 1e-12
    slipped = check(as_variant(model, XForDeltaBackward), space, jax.random.fold_in(key, 2), params, n=4)
    assert not slipped.passed and slipped.max_rel_error > 1e-2
    with pytest.raises(FeatureTypeError, match="backward message"):
        apply_model(params, as_variant(model, XForDeltaBackwardTyped))


def test_permutation_only_editor_is_not_scale_equivariant_on_relu():
    space = symm.WeightSpace.mlp((2, 3, 3, 1), "relu")
    key = jax.random.key(7)
    editor = ScaleGMNEditor(space, permutation_only=True, key=key, **SMALL)
    params = space.init(jax.random.fold_in(key, 1))
    scaled = check(editor, space, key, params, n=4)
    assert not scaled.passed and scaled.max_rel_error > 1e-3
    assert check(editor, space, key, params, n=4, scale_range=(1.0, 1.0)).max_rel_error <= 1e-12


# ---- hypothesis: weights and group elements drawn as arrays -----------------------------------
SIZES = (2, 3, 3, 1)
FLOATS = st.floats(-2.0, 2.0, allow_nan=False, width=64)
MAGNITUDES = st.floats(0.25, 4.0, width=64)


def _group_scales(group, magnitude: np.ndarray, sign: np.ndarray) -> np.ndarray:
    group = str(group)
    if group == "positive":
        return magnitude
    if group == "sign":
        return sign
    if group == "nonzero":
        return magnitude * sign
    return np.ones_like(magnitude)


@st.composite
def networks_and_elements(draw, activations):
    acts = draw(st.lists(st.sampled_from(activations), min_size=len(SIZES) - 2, max_size=len(SIZES) - 2))
    space = symm.WeightSpace.mlp(SIZES, acts)
    layout = Layout.from_space(space)
    params = tuple(
        (draw(hnp.arrays(np.float64, (m, n), elements=FLOATS)), draw(hnp.arrays(np.float64, (m,), elements=FLOATS)))
        for n, m in zip(SIZES[:-1], SIZES[1:])
    )
    perms, scales = [], []
    for l, n in enumerate(SIZES[1:-1], start=1):
        perms.append(np.asarray(draw(st.permutations(range(n)))))
        magnitude = draw(hnp.arrays(np.float64, (n,), elements=MAGNITUDES))
        sign = draw(hnp.arrays(np.float64, (n,), elements=st.sampled_from([-1.0, 1.0])))
        scales.append(_group_scales(layout.group(l), magnitude, sign))
    element = symm.GroupElement(tuple(jax.numpy.asarray(p)[None] for p in perms),
                                tuple(jax.numpy.asarray(q)[None] for q in scales))
    return space, jax.tree.map(jax.numpy.asarray, params), element


@settings(deadline=None, max_examples=2)
@given(case=networks_and_elements(["relu", "tanh", "cube", "abs", "cos", "signed_square"]),
       bidirectional=st.booleans())
def test_drawn_networks_and_elements(case, bidirectional):
    space, params, element = case
    model = ScaleGMN(space, 3, bidirectional=bidirectional, key=jax.random.key(0), **SMALL)
    report = check(model, space, jax.random.key(1), params, elements=element)
    assert report.passed and report.max_rel_error <= 1e-10, report


# ---- the type algebra refuses wrongly typed products, sums and gates (no compile needed) -------
def test_wrongly_typed_blocks_raise():
    from models.gmn import FeatureType, ReScaleEq, ScaleEq
    from models.gmn._typed import concat, sum_over_sources
    from symm import IDENTITY, TRIVIAL

    layout = Layout.from_space(symm.WeightSpace.mlp((2, 3, 3, 1), "cube"))
    key = jax.random.key(0)
    x = lambda l, c, name: Typed(jax.numpy.ones((3, 4)), FeatureType.vertex(layout, l, c, name))  # noqa: E731
    edge = Typed(jax.numpy.ones((3, 3, 4)), FeatureType.edge(layout, 2, IDENTITY, IDENTITY.inverse() ** 3, "edge"))
    with pytest.raises(FeatureTypeError, match="different vertex layers"):
        ReScaleEq(4, 4, 4, key=key)(x(1, IDENTITY, "x"), x(2, IDENTITY, "x"))
    with pytest.raises(FeatureTypeError, match="neither end"):
        ReScaleEq(4, 4, 4, key=key)(Typed(jax.numpy.ones((1, 3, 4)), FeatureType.edge(layout, 3, TRIVIAL, IDENTITY, "e")),
                                    x(1, IDENTITY, "x"))
    with pytest.raises(FeatureTypeError, match="different types"):
        concat([x(1, IDENTITY, "x"), x(1, IDENTITY ** 3, "h")], "u")
    with pytest.raises(FeatureTypeError, match="invariant"):
        ScaleEq(4, 4, 4, 4, key=key)(x(1, IDENTITY, "x"), x(1, IDENTITY, "x"))
    # e_ij · x_j scales as q_i q_j / q_j³ on the nonzero group: not summable over j; e_ij · h_j is
    wrong = ReScaleEq(4, 4, 4, key=key)(edge, x(1, IDENTITY, "x"), "message")
    with pytest.raises(FeatureTypeError, match="'message'.*cannot sum|cannot sum.*'message'"):
        sum_over_sources(wrong, jax.numpy.ones(3), "message")
    right = ReScaleEq(4, 4, 4, key=key)(edge, x(1, IDENTITY ** 3, "h"), "message")
    assert sum_over_sources(right, jax.numpy.ones(3), "message").type.same_as(
        FeatureType.vertex(layout, 2, IDENTITY, "x"))
