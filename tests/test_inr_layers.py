"""INR layers as modules: SIREN equivalence with the functional form, FINER's gradient,
frozen Fourier features, and every model family fitting a small image."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from models.inr import (
    Finer,
    FourierFeatures,
    finer,
    fit,
    psnr_pm1,
    relu_ff,
    siren,
    siren_apply,
    siren_from_params,
    siren_init,
    softplus,
)


def _image(n=8):
    g = jnp.linspace(-1.0, 1.0, n)
    X, Y = jnp.meshgrid(g, g, indexing="ij")
    coords = jnp.stack([X.ravel(), Y.ravel()], -1)
    rgb = jnp.stack([jnp.sin(3 * X) * jnp.cos(2 * Y), X * Y, jnp.cos(4 * X + Y)], -1).reshape(-1, 3)
    return coords, 0.9 * rgb


def test_siren_module_is_functional_siren(key):
    model = siren((2, 16, 16, 3), key=key, omega0=30.0, bias_init="uniform")
    params = siren_init(key, (2, 16, 16, 3), omega0=30.0, bias_init="uniform")
    for (W, b), (W2, b2) in zip(model.params, params):
        np.testing.assert_array_equal(np.asarray(W), np.asarray(W2))
        np.testing.assert_array_equal(np.asarray(b), np.asarray(b2))
    coords, _ = _image(4)
    expected = jax.vmap(lambda x: siren_apply(params, x))(coords)
    np.testing.assert_allclose(np.asarray(jax.vmap(model)(coords)), np.asarray(expected), rtol=1e-13, atol=1e-13)
    back = siren_from_params(params)
    np.testing.assert_allclose(np.asarray(jax.vmap(back)(coords)), np.asarray(expected), rtol=1e-13, atol=1e-13)


def test_finer_factor_has_no_gradient(key):
    layer = Finer(3, 1, key=key, omega0=5.0)
    x = jnp.array([0.3, -0.7, 0.2])
    z = float((layer.weight @ x + layer.bias)[0])
    grad_b = jax.grad(lambda l: l(x)[0])(layer).bias[0]
    a = abs(z) + 1.0
    stopped = np.cos(5.0 * a * z) * 5.0 * a  # d/dz sin(5 a z) with a held fixed
    full = np.cos(5.0 * a * z) * 5.0 * (a + abs(z))  # what it would be with the factor differentiated
    assert float(grad_b) == pytest.approx(stopped, rel=1e-12)
    assert abs(full - stopped) > 1e-3 * abs(stopped)
    # the forward value really uses the factor
    assert float(layer(x)[0]) == pytest.approx(np.sin(5.0 * a * z), rel=1e-12)


def test_fourier_features_frozen(key):
    model = relu_ff((2, 16, 16, 3), key=key)
    ff = model.layers[0]
    assert isinstance(ff, FourierFeatures) and ff.n_out == 2 + 16
    coords, rgb = _image(6)
    out = fit(model, coords, rgb, optimizer=optax.adam(1e-2), steps=20, record_every=10, progress=False)
    np.testing.assert_array_equal(np.asarray(out.model.layers[0].B), np.asarray(ff.B))
    assert not np.array_equal(np.asarray(out.model.layers[1].weight), np.asarray(model.layers[1].weight))


@pytest.mark.parametrize(
    "make, lr",
    [
        (lambda k: siren((2, 32, 32, 3), key=k), 1e-3),
        (lambda k: finer((2, 32, 32, 3), key=k), 1e-3),
        (lambda k: relu_ff((2, 32, 32, 3), key=k), 1e-2),
        (lambda k: softplus((2, 32, 32, 3), key=k), 1e-2),
        (lambda k: softplus((2, 32, 32, 3), key=k, fourier=True), 1e-2),
    ],
    ids=["siren", "finer", "relu_ff", "softplus", "softplus_ff"],
)
def test_each_model_fits_better_than_init(key, make, lr):
    coords, rgb = _image(8)
    model = make(key)
    before = float(psnr_pm1(jax.vmap(model)(coords), rgb))
    out = fit(model, coords, rgb, optimizer=optax.adam(lr), steps=60, record_every=30, progress=False)
    after = float(psnr_pm1(jax.vmap(out.model)(coords), rgb))
    assert after > before + 3.0
    assert out.trajectory.metric[0] == pytest.approx(before, rel=1e-12)


def test_bad_sizes(key):
    with pytest.raises(ValueError, match="sizes"):
        siren((3,), key=key)
    with pytest.raises(ValueError, match="bias shape"):
        siren_from_params(((jnp.zeros((4, 2)), jnp.zeros(3)),))
