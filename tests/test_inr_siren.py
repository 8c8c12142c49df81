"""The functional SIREN: init bounds, the (W, b) format and the forward pass."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models.inr import siren_apply, siren_init


def test_shapes_and_format(key):
    params = siren_init(key, (2, 32, 32, 1))
    assert isinstance(params, tuple) and len(params) == 3
    assert [W.shape for W, _ in params] == [(32, 2), (32, 32), (1, 32)]
    assert [b.shape for _, b in params] == [(32,), (32,), (1,)]


@pytest.mark.parametrize("bias_init", ["zero", "uniform"])
def test_init_bounds(key, bias_init):
    params = siren_init(key, (2, 64, 64, 3), omega0=30.0, bias_init=bias_init)
    (W0, b0), (W1, b1), (W2, b2) = params
    assert float(jnp.max(jnp.abs(W0))) <= 1 / 2
    assert float(jnp.max(jnp.abs(W0))) > 0.45  # the range is used, not a narrower one
    hidden = (6 / 64) ** 0.5 / 30
    for W in (W1, W2):
        assert float(jnp.max(jnp.abs(W))) <= hidden
        assert float(jnp.max(jnp.abs(W))) > 0.9 * hidden
    if bias_init == "zero":
        assert all(float(jnp.max(jnp.abs(b))) == 0.0 for b in (b0, b1, b2))
    else:
        assert 0.6 < float(jnp.max(jnp.abs(b0))) <= 1 / 2**0.5
        assert 0.1 < float(jnp.max(jnp.abs(b1))) <= 1 / 8


def test_apply_matches_hand_computation(key):
    params = siren_init(key, (2, 5, 4, 3), omega0=7.0)
    x = jnp.array([0.3, -0.2])
    (W0, b0), (W1, b1), (W2, b2) = [(np.asarray(W), np.asarray(b)) for W, b in params]
    h = np.sin(7.0 * (W0 @ np.asarray(x) + b0))
    h = np.sin(7.0 * (W1 @ h + b1))
    expected = W2 @ h + b2
    got = siren_apply(params, x, omega0=7.0)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-12, atol=1e-14)
    # a different omega0 gives a different function: the factor is really used
    assert not np.allclose(np.asarray(siren_apply(params, x, omega0=30.0)), expected)


def test_vmap(key):
    params = siren_init(key, (2, 8, 1))
    xs = jax.random.uniform(key, (10, 2))
    out = jax.vmap(lambda x: siren_apply(params, x))(xs)
    assert out.shape == (10, 1)
    np.testing.assert_allclose(np.asarray(out[3]), np.asarray(siren_apply(params, xs[3])), rtol=1e-14)


def test_bad_input(key):
    with pytest.raises(ValueError, match="bias_init"):
        siren_init(key, (2, 4, 1), bias_init="normal")
    with pytest.raises(ValueError, match="sizes"):
        siren_init(key, (2,))
    with pytest.raises(ValueError, match="one point"):
        siren_apply(siren_init(key, (2, 4, 1)), jnp.zeros((3, 2)))


def test_is_a_point_of_the_sin_weight_space(key):
    """The project contract: a SIREN's params are a point of ``WeightSpace`` with activation "sin"."""
    from symm import WeightSpace

    params = siren_init(key, (2, 8, 8, 1))
    space = WeightSpace.mlp((2, 8, 8, 1), "sin")
    assert space.matches(params)
    x = jnp.array([0.1, -0.6])
    np.testing.assert_allclose(np.asarray(space.apply(params, x)), np.asarray(siren_apply(params, x)), rtol=1e-12)
    # negative: a different ω0 is a different activation, not this weight space's function
    assert not np.allclose(np.asarray(space.apply(params, x)), np.asarray(siren_apply(params, x, omega0=20.0)))
