"""The symmetry stress test: invariant models score identically on moved test sets; a baseline does not."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models.train import build_model, load_task, move, predict, stress_test
from tests._train_zoos import tiny_inr_zoo


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return load_task("classify", tiny_inr_zoo(tmp_path_factory.mktemp("stress") / "inr"), dtype=np.float64)


def test_moved_networks_compute_the_same_functions_only_under_the_derived_group(data):
    params = data.splits["test"][0]
    key = jax.random.key(3)
    moved, outside = move(data.space, params, key), move(data.space, params, key, outside=True)
    x = jnp.linspace(-1.0, 1.0, 10, dtype=jnp.float64).reshape(5, 2)
    apply = jax.vmap(lambda p: jax.vmap(lambda c: data.space.apply(p, c))(x))
    original = apply(jax.tree.map(jnp.asarray, params))
    np.testing.assert_allclose(apply(jax.tree.map(jnp.asarray, moved)), original, atol=1e-10)
    assert float(jnp.max(jnp.abs(apply(jax.tree.map(jnp.asarray, outside)) - original))) > 1e-2
    assert not np.allclose(moved[0][0], params[0][0])  # the weights did move


def test_scalegmn_scores_identically_on_the_moved_test_set_and_the_mlp_does_not(data):
    params = data.splits["test"][0]
    key = jax.random.key(4)
    moved = move(data.space, params, jax.random.split(key)[0])
    invariant = build_model("scalegmn", data, width=4, n_layers=1, key=jax.random.key(5), dtype=jnp.float64)
    baseline = build_model("mlp", data, width=8, n_layers=1, key=jax.random.key(6), dtype=jnp.float64)
    out = predict(invariant, params, batch_size=8)
    np.testing.assert_allclose(predict(invariant, moved, batch_size=8), out, rtol=1e-10, atol=1e-12)
    scores = stress_test(invariant, data, key, batch_size=8)
    assert scores["derived"] == scores["original"]
    assert scores["larger"] is not None
    base_out = predict(baseline, params, batch_size=8)
    assert np.max(np.abs(predict(baseline, moved, batch_size=8) - base_out)) > 1e-2 * np.max(np.abs(base_out))
    gmn = build_model("gmn", data, width=4, n_layers=1, key=jax.random.key(5), dtype=jnp.float64)
    gmn_out = predict(gmn, params, batch_size=8)
    assert np.max(np.abs(predict(gmn, moved, batch_size=8) - gmn_out)) > 1e-6  # sign flips move the GMN
