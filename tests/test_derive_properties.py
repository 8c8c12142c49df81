"""Property tests in float64: the derived symmetry holds on its group and fails outside it."""

import jax.numpy as jnp
import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import symm
from symm import Group

NAMES = symm.registry_names()
X = st.lists(st.floats(-4.0, 4.0, allow_nan=False), min_size=16, max_size=16)


def _scale_in(group: str, draw) -> float:
    if group == Group.TRIVIAL:
        return 1.0
    if group == Group.SIGN:
        return draw(st.sampled_from([1.0, -1.0]))
    magnitude = draw(st.floats(0.125, 8.0))
    if group == Group.POSITIVE:
        return magnitude
    return magnitude * draw(st.sampled_from([1.0, -1.0]))


def _residual(name: str, scale: float, xs) -> tuple[np.ndarray, np.ndarray]:
    activation, symmetry = symm.get_activation(name), symm.derive(name)
    z = jnp.asarray(xs, dtype=jnp.float64)
    q = jnp.asarray(scale, dtype=jnp.float64)
    left = activation.fn(q * z)
    right = symmetry.phi_fn(q) * activation.fn(z) + symmetry.offset_fn(q)
    return np.asarray(left - right), np.asarray(left)


@settings(deadline=None, max_examples=60)
@given(name=st.sampled_from(NAMES), data=st.data(), xs=X)
def test_identity_holds_on_the_group(name, data, xs):
    scale = _scale_in(symm.derive(name).group, data.draw)
    residual, left = _residual(name, scale, xs)
    assert np.all(np.abs(residual) <= 1e-10 * (1 + np.abs(left))), (name, scale)


# Scales outside each group, well away from the group so the failure is not subtle.
OUTSIDE = {
    Group.TRIVIAL: st.sampled_from([-1.0, 2.0, 0.5, -3.0]),
    Group.SIGN: st.one_of(st.floats(1.5, 4.0), st.floats(-4.0, -1.5), st.floats(0.2, 0.6)),
    Group.POSITIVE: st.floats(-4.0, -0.25),
}
_GRID = np.linspace(-3.0, 3.0, 61)


def _best_fit_error(name: str, scale: float) -> float:
    """Smallest max-error of σ(a·x) ≈ b·σ(x) + c over all (b, c), relative to the size of σ."""
    fn = symm.get_activation(name).fn
    sigma = np.asarray(fn(jnp.asarray(_GRID)))
    target = np.asarray(fn(jnp.asarray(scale * _GRID)))
    design = np.stack([sigma, np.ones_like(sigma)], axis=1)
    coefficients, *_ = np.linalg.lstsq(design, target, rcond=None)
    return float(np.max(np.abs(design @ coefficients - target)) / (1 + np.max(np.abs(target))))


@settings(deadline=None, max_examples=40)
@given(name=st.sampled_from([n for n in NAMES if symm.derive(n).group != Group.NONZERO]), data=st.data())
def test_identity_fails_outside_the_group(name, data):
    scale = data.draw(OUTSIDE[symm.derive(name).group])
    assert _best_fit_error(name, scale) > 1e-3, (name, scale)


@pytest.mark.parametrize(
    "name, scale", [("relu", -1.0), ("tanh", 2.0), ("gelu", -1.0), ("cos", 2.0), ("sigmoid", 2.0), ("relu2", -0.5)]
)
def test_named_negative_cases(name, scale):
    assert _best_fit_error(name, scale) > 1e-3


def test_best_fit_error_is_zero_inside_the_group():
    """Positive control for the negative test's measure."""
    assert _best_fit_error("relu", 2.5) < 1e-12
    assert _best_fit_error("sigmoid", -1.0) < 1e-12
    assert _best_fit_error("cube", -2.0) < 1e-12


def test_phi_and_offset_functions_are_jax_and_typed():
    symmetry = symm.derive("sigmoid")
    q = jnp.asarray([1.0, -1.0])
    np.testing.assert_array_equal(np.asarray(symmetry.phi_fn(q)), [1.0, -1.0])
    np.testing.assert_array_equal(np.asarray(symmetry.offset_fn(q)), [0.0, 1.0])
    constant = symm.derive("cos").phi_fn(jnp.ones(3, dtype=jnp.float32))
    assert constant.shape == (3,) and constant.dtype == jnp.float32


@settings(deadline=None, max_examples=8)
@given(numerator=st.integers(-60, 60).filter(lambda n: n != 0), denominator=st.integers(1, 7))
def test_sine_of_any_frequency_has_the_sign_group(numerator, denominator):
    symmetry = symm.derive("sin", omega=f"{numerator}/{denominator}")
    assert (symmetry.group, symmetry.phi, symmetry.offset) == (Group.SIGN, symm.a, 0)


@settings(deadline=None, max_examples=8)
@given(slope=st.fractions(-5, 5, max_denominator=9))
def test_leaky_relu_group_depends_on_the_slope(slope):
    """slope 1 is the identity, −1 is |x|; every other slope gives the positive group."""
    symmetry = symm.derive("leaky_relu", slope=str(slope))
    expected = {1: (Group.NONZERO, symm.a), -1: (Group.NONZERO, abs(symm.a))}.get(slope, (Group.POSITIVE, symm.a))
    assert (symmetry.group, symmetry.phi) == expected


NONZERO_INT = st.integers(-9, 9).filter(lambda n: n != 0)


@settings(deadline=None, max_examples=5)
@given(c1=NONZERO_INT, c3=NONZERO_INT, c5=st.integers(-9, 9))
def test_odd_polynomials_have_the_sign_group(c1, c3, c5):
    x = symm.x
    symmetry = symm.derive(c1 * x + c3 * x**3 + c5 * x**5)
    assert (symmetry.group, symmetry.phi, symmetry.offset) == (Group.SIGN, symm.a, 0)


@settings(deadline=None, max_examples=5)
@given(c0=st.integers(-9, 9), c2=NONZERO_INT, c4=NONZERO_INT)
def test_even_polynomials_have_the_sign_group_with_trivial_phi(c0, c2, c4):
    x = symm.x
    symmetry = symm.derive(c0 + c2 * x**2 + c4 * x**4)
    assert (symmetry.group, symmetry.phi, symmetry.offset) == (Group.SIGN, 1, 0)


@settings(deadline=None, max_examples=5)
@given(c=NONZERO_INT, k=st.integers(1, 7), shift=st.integers(-3, 3))
def test_shifted_monomials_have_the_nonzero_group(c, k, shift):
    """σ = c·x^k + s: every a ≠ 0 works with φ(a) = a^k and offset (1 − a^k)·s."""
    symmetry = symm.derive(c * symm.x**k + shift)
    assert symmetry.group == Group.NONZERO
    assert sympy.expand(symmetry.phi - symm.a**k) == 0
    assert sympy.expand(symmetry.offset - (1 - symm.a**k) * shift) == 0
