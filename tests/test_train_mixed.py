"""The mixed ReLU + tanh CNN subset: every network keeps the group of its own activation."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import symm

from models.gmn import ScaleGMN
from models.graph import to_graph
from models.train import FitConfig, Routed, RoutedSpace, TaskError, build_model, fit, load_task, move, predict, \
    stress_test
from models.zoo import build_cnn_zoo, load_source, load_zoo
from tests._train_zoos import CNN, tiny_cnn_zoo

MIXED_CNN = dataclasses.replace(CNN, n=24, activations=("relu", "tanh"), shard_size=24)


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    directory = tmp_path_factory.mktemp("mixed") / "cnn"
    build_cnn_zoo(load_source("digits"), directory, MIXED_CNN, progress=False)
    return directory


@pytest.fixture(scope="module")
def data(zoo):
    return load_task("generalisation", zoo, subset="mixed", dtype=np.float64)


def _outputs(space, params):
    """Every network's output on a few fixed inputs, each under its own member space."""
    x = jnp.asarray(np.random.default_rng(0).normal(size=(3, 1, 8, 8)))
    per_member = [jax.vmap(lambda p, s=s: jax.vmap(lambda c: s.apply(p, c))(x))(params.params) for s in space.spaces]
    return jnp.stack(per_member)[params.which, jnp.arange(len(params.which))]


def test_mixed_subset_keeps_every_network_with_its_activations_member_space(zoo, data):
    assert isinstance(data.space, RoutedSpace) and data.space.names == ("relu", "tanh")
    assert [set(s.groups) - {symm.Group.TRIVIAL} for s in data.space.spaces] == [{symm.Group.POSITIVE}, {symm.Group.SIGN}]
    full = load_zoo(zoo)
    split = np.asarray(full["split"])
    for code, name in enumerate(("train", "val", "test")):
        params, targets = data.splits[name]
        index = np.flatnonzero(split == code)
        assert isinstance(params, Routed)
        assert [data.space.names[i] for i in params.which] == [full.activations[i] for i in index]
        np.testing.assert_array_equal(targets, full["test_accuracy"][index])
    assert {int(i) for i in np.concatenate([data.splits[s][0].which for s in data.splits])} == {0, 1}


def test_each_network_moves_by_its_own_group_and_the_other_members_group_changes_it(data):
    params = jax.tree.map(jnp.asarray, data.splits["train"][0])
    original = _outputs(data.space, params)
    moved = jax.tree.map(jnp.asarray, move(data.space, data.splits["train"][0], jax.random.key(1)))
    np.testing.assert_allclose(_outputs(data.space, moved), original, atol=1e-10)
    assert not np.allclose(moved.params[0][0], params.params[0][0])
    # Routed to the other member, ReLU networks get sign flips and tanh networks positive scalings.
    swapped = Routed(params.params, 1 - params.which)
    wrong = jax.vmap(data.space.act)(jax.vmap(lambda k: data.space.sample(k, dtype=jnp.float64))(
        jax.random.split(jax.random.key(2), len(params.which))), swapped)
    error = jnp.max(jnp.abs(_outputs(data.space, Routed(wrong.params, params.which)) - original), axis=(1, 2))
    # A network whose output does not vary with its input (a dead ReLU network) is fixed by every
    # group; every other network changes, where its own group moves it by < 1e-10.
    varies = np.asarray(original).std(axis=1).max(-1) > 0
    assert varies.sum() >= len(varies) - 2
    assert np.all(np.asarray(error)[varies] > 1e-6)


def test_routed_scalegmn_trains_on_the_mixed_set_and_stays_invariant_where_one_trunk_is_not(data):
    model = build_model("scalegmn", data, width=4, n_layers=1, key=jax.random.key(4), dtype=jnp.float64)
    result = fit(data, model, FitConfig(epochs=3, batch_size=4, lr=3e-3), progress=False)
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    params, targets = data.splits["test"]
    out = predict(result.model, params, batch_size=4)
    assert data.metric(out, targets) == pytest.approx(result.test, abs=1e-12)
    moved = move(data.space, params, jax.random.key(3))
    np.testing.assert_allclose(predict(result.model, moved, batch_size=4), out, rtol=1e-10, atol=1e-12)
    scores = stress_test(result.model, data, jax.random.key(5), batch_size=4, outputs=out)
    assert scores["derived"] == scores["original"] and scores["larger"] is not None
    # One trunk for every network (the ReLU layout) misses the tanh networks' sign flips.
    relu = ScaleGMN(data.space.spaces[0], 1, width=4, n_layers=1, key=jax.random.key(4), dtype=jnp.float64)
    tanh = np.flatnonzero(np.asarray(params.which) == 1)
    read = jax.vmap(lambda p: relu(to_graph(data.space.spaces[0], p)))
    before = read(jax.tree.map(lambda a: jnp.asarray(a[tanh]), params.params))
    after = read(jax.tree.map(lambda a: jnp.asarray(a[tanh]), moved.params))
    assert float(jnp.max(jnp.abs(after - before))) > 1e-6
    gmn = build_model("gmn", data, width=4, n_layers=1, key=jax.random.key(4), dtype=jnp.float64)
    assert np.max(np.abs(predict(gmn, moved, batch_size=4) - predict(gmn, params, batch_size=4))) > 1e-6


def test_statnn_trains_on_the_mixed_subset(data):
    model = build_model("statnn", data, width=4, n_layers=1, key=jax.random.key(6), dtype=jnp.float64)
    result = fit(data, model, FitConfig(epochs=3, batch_size=4, lr=3e-3), progress=False)
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


def test_flat_baselines_are_told_each_networks_activation(data):
    model = build_model("mlp", data, width=4, n_layers=1, key=jax.random.key(7), dtype=jnp.float64).nets[0]
    params = jax.tree.map(lambda a: jnp.asarray(a[0]), data.splits["train"][0])
    features = model.features(params)
    assert features.shape == (data.space.num_params + 2,)
    np.testing.assert_array_equal(features[-2:], np.eye(2)[int(params.which)])


def test_mixed_subset_input_errors_are_one_clear_line(zoo, tmp_path):
    with pytest.raises(TaskError, match="or all of them with --activation mixed"):
        load_task("generalisation", zoo)
    with pytest.raises(TaskError, match="no single group to canonicalise"):
        load_task("generalisation", zoo, subset="mixed", canonicalise=True)
    single = tiny_cnn_zoo(tmp_path / "relu")
    with pytest.raises(TaskError, match="holds only relu networks, so it has no mixed subset"):
        load_task("generalisation", single, subset="mixed")
