"""The small-CNN zoo: spread of accuracies, honest records, checkpoints, forward pass."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models.zoo import CnnZooConfig, ImageSource, build_cnn_zoo, cnn_apply, load_source, load_zoo
from models.zoo._cnn_zoo import (
    _conv_same, checkpoint_steps, cnn_init, cnn_shapes, draw_hyperparameters, split_train_test,
)

CONFIG = CnnZooConfig(
    n=8, channels=(8, 8, 8), steps=(50, 200), lr=(3e-3, 5e-2), train_fraction=(0.02, 1.0), batch_size=16,
    shard_size=8, checkpoints=3,
)


@pytest.fixture(scope="module")
def digits():
    full = load_source("digits")
    return ImageSource("digits600", full.images[:600], full.labels[:600])  # small pool: cheap evaluation


@pytest.fixture(scope="module")
def zoo(digits, tmp_path_factory):
    return build_cnn_zoo(digits, tmp_path_factory.mktemp("cnn") / "zoo", CONFIG, progress=False)


def _accuracy(params, images, labels, activation):
    logits = jax.jit(jax.vmap(cnn_apply, (None, 0, None)), static_argnums=2)(params, images, activation)
    return float(jnp.mean(jnp.argmax(logits, -1) == labels))


def test_varied_hyperparameters_give_a_real_spread_of_accuracies(zoo):
    acc = zoo["test_accuracy"]
    # Ten classes: chance is 0.1; the best networks learn well above it, the worst do not.
    assert acc.max() > 0.25 and acc.max() - acc.min() > 0.2 and acc.std() > 0.05
    assert set(zoo.activations) == {"relu", "tanh"}


def test_recorded_accuracies_are_those_of_the_stored_weights(zoo, digits):
    _, test = split_train_test(len(digits), CONFIG.test_fraction, CONFIG.split_seed)
    images = jnp.asarray(np.transpose(digits.images[test], (0, 3, 1, 2)))
    labels = jnp.asarray(digits.labels[test])
    for i in (0, 3, 6):
        params = jax.tree.map(lambda a: a[i], zoo.params)
        assert abs(_accuracy(params, images, labels, zoo.activations[i]) - zoo["test_accuracy"][i]) < 1e-6


def test_hyperparameters_and_checkpoints_are_recorded(zoo):
    drawn = draw_hyperparameters(CONFIG)
    for name, values in drawn.items():
        np.testing.assert_array_equal(zoo[name], values)
    assert np.all((zoo["lr"] >= 3e-3 * (1 - 1e-6)) & (zoo["lr"] <= 5e-2 * (1 + 1e-6)))
    assert np.all((zoo["steps"] >= 50) & (zoo["steps"] <= 200))
    np.testing.assert_array_equal(zoo["checkpoint_step"], checkpoint_steps(zoo["steps"], 3))
    assert np.all(zoo["checkpoint_step"][:, 0] == 0) and np.all(zoo["checkpoint_step"][:, -1] == zoo["steps"])
    # Checkpoint 0 is the seed's initialisation, the last one the final weights.
    for i in range(len(zoo)):
        init = cnn_init(jax.random.split(jax.random.key(zoo["seed"][i]), 3)[0], _shapes(zoo), zoo["init_scale"][i])
        for (w_ck, b_ck), (w0, b0), (w, b) in zip(zoo.checkpoints, init, zoo.params):
            # (recomputed eagerly: XLA may fuse the scale differently inside the trainer, 1 ulp)
            np.testing.assert_allclose(w_ck[i, 0], np.asarray(w0), rtol=1e-6, atol=0)
            np.testing.assert_array_equal(w_ck[i, -1], w[i])
            assert not np.array_equal(w_ck[i, 1], w_ck[i, 0])  # training moved it
    np.testing.assert_array_equal(zoo["test_accuracy"], zoo["test_accuracy_ckpt"][:, -1])
    # Trained networks beat their own initialisation on the test set.
    assert np.mean(zoo["test_accuracy_ckpt"][:, -1] > zoo["test_accuracy_ckpt"][:, 0]) >= 0.75


def _shapes(zoo):
    return [(tuple(w.shape[1:]), tuple(b.shape[1:])) for w, b in zoo.params]


def test_network_splits_are_disjoint_and_cover_the_zoo(zoo):
    assert sorted(np.unique(zoo["split"]).tolist()) == [0, 1, 2]
    parts = [set(np.flatnonzero(zoo["split"] == s).tolist()) for s in range(3)]
    assert sum(len(p) for p in parts) == len(zoo) and set().union(*parts) == set(range(len(zoo)))
    train, test = split_train_test(100, 0.2, 0)
    assert set(train).isdisjoint(test) and len(train) + len(test) == 100


def test_forward_pass_equals_the_weight_space(zoo, digits):
    image = jnp.asarray(np.transpose(digits.images[5], (2, 0, 1)))
    for name in ("relu", "tanh"):
        sub = zoo.where_activation(name)
        space = sub.weight_space()
        params = jax.tree.map(lambda a: a[0], sub.params)
        space.validate(params)
        np.testing.assert_allclose(
            np.asarray(cnn_apply(params, image, name)), np.asarray(space.apply(params, image)), rtol=1e-5, atol=1e-5
        )
    with pytest.raises(ValueError, match="mixes the activations"):
        zoo.weight_space()
    loaded = load_zoo(zoo.directory)
    assert [tuple(w.shape) for w, _ in loaded.params] == [(8, 8, 1, 3, 3), (8, 8, 8, 3, 3), (8, 8, 8, 3, 3), (8, 10, 8)]


def test_patch_convolution_equals_lax_convolution(key):
    x = jax.random.normal(key, (2, 7, 6, 3))
    W = jax.random.normal(jax.random.fold_in(key, 1), (5, 3, 3, 3))
    numbers = ("NHWC", "OIHW", "NHWC")
    conv = jax.jit(lambda x, W: jax.lax.conv_general_dilated(x, W, (1, 1), "SAME", dimension_numbers=numbers))
    ours = jax.jit(_conv_same)
    reference = np.asarray(conv(x, W))
    np.testing.assert_allclose(np.asarray(ours(x, W)), reference, rtol=1e-10, atol=1e-12)
    # Negative check: a flipped kernel (cross-correlation vs convolution) is not the same map.
    assert not np.allclose(np.asarray(ours(x, W[..., ::-1, ::-1])), reference)


def test_bad_configurations_are_refused(digits):
    with pytest.raises(ValueError, match="activations must be drawn from"):
        CnnZooConfig(activations=("gelu",))
    with pytest.raises(ValueError, match="log-uniform"):
        CnnZooConfig(lr=(0.0, 1e-2))
    with pytest.raises(ValueError, match="dropout range"):
        CnnZooConfig(dropout=(0.0, 1.0))


def test_training_in_many_chunks_is_bit_identical_to_one_chunk(digits):
    from models.zoo import train_cnns
    from models.zoo._inr_zoo import network_seeds

    config = CnnZooConfig(n=2, channels=(4,), steps=(6, 6), batch_size=8, checkpoints=3)
    hyper = draw_hyperparameters(config)
    hyper = {name: jnp.asarray(v) for name, v in
             {**hyper, "marks": checkpoint_steps(hyper["steps"], 3).astype(np.int32)}.items()}
    data = tuple(jnp.asarray(a) for a in (digits.images[:64], digits.labels[:64], digits.images[64:96],
                                          digits.labels[64:96]))
    run = lambda steps, seconds, record: train_cnns(
        network_seeds(0, range(2)), hyper, *data, shapes=cnn_shapes(digits.shape[2], config.channels, 10), max_steps=steps,
        batch_size=8, checkpoints=3, on_steps=record, seconds_per_update=seconds, group_size=2)  # one group
    chunks_many, chunks_few = [], []
    many = run(6, 1e-12, lambda k, total: chunks_many.append((k, total)))
    few = run(6, 1e12, lambda k, total: chunks_few.append((k, total)))
    assert chunks_many == [(1, 6)] * 6 and chunks_few == [(1, 6), (5, 6)]
    for a, b in zip(jax.tree.leaves(many), jax.tree.leaves(few)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # Negative check: stopping a step early changes the networks (each one's own run is 6 steps).
    short = run(5, 1e12, None)
    assert not all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(jax.tree.leaves(short[0]),
                                                                                 jax.tree.leaves(few[0])))



def test_groups_by_length_stop_early_and_return_the_rows_in_order(digits):
    from models.zoo import train_cnns
    from models.zoo._inr_zoo import network_seeds

    config = CnnZooConfig(n=5, channels=(4,), steps=(2, 9), batch_size=8, checkpoints=3, seed=1)
    hyper = draw_hyperparameters(config)
    steps = hyper["steps"]
    assert len(set(steps.tolist())) >= 3  # lengths differ, so grouping reorders the rows
    hyper = {name: jnp.asarray(v) for name, v in {**hyper, "marks": checkpoint_steps(steps, 3).astype(np.int32)}.items()}
    data = tuple(jnp.asarray(a) for a in (digits.images[:64], digits.labels[:64], digits.images[64:96],
                                          digits.labels[64:96]))
    totals = {}
    run = lambda size: train_cnns(
        network_seeds(1, range(5)), hyper, *data, shapes=cnn_shapes(digits.shape[2], config.channels, 10),
        max_steps=9, batch_size=8, checkpoints=3, group_size=size,
        on_steps=lambda k, total: totals.__setitem__(size, total))
    together, grouped = run(5), run(2)
    codes = hyper["activation"]
    assert len(set(np.asarray(codes).tolist())) == 2  # both activations: groups split by activation first
    # Each group holds one activation and stops at its longest member.
    by_code = [np.sort(steps[np.asarray(codes) == c]) for c in (0, 1)]
    assert totals[5] == sum(s[-1] for s in by_code)
    assert totals[2] == sum(s[min(i + 1, len(s) - 1)] for s in by_code for i in range(0, len(s), 2))
    for a, b in zip(jax.tree.leaves(together), jax.tree.leaves(grouped)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    # Negative check: the networks differ from one another, so rows returned out of order would fail above.
    first = np.asarray(together[0][0][0])
    assert all(not np.allclose(first[i], first[j], atol=1e-3) for i in range(5) for j in range(i))


def test_dropout_drops_whole_channels_of_feature_maps_and_single_features_of_vectors():
    from models.zoo._trained_zoo import drop

    key = jax.random.key(3)
    maps = drop(jnp.ones((4, 5, 5, 16)), 0, 0.5, key)
    per_channel = np.asarray(maps).reshape(4, 25, 16)
    assert np.all(per_channel == per_channel[:, :1])  # one decision per (image, channel)
    assert set(np.unique(per_channel).tolist()) == {0.0, 2.0}  # dropped, or kept and rescaled
    vectors = np.asarray(drop(jnp.ones((64, 16)), 0, 0.5, key))
    assert set(np.unique(vectors).tolist()) == {0.0, 2.0}
    # Negative check: a vector's features drop independently, so its rows are not all alike.
    assert not np.all(vectors == vectors[:, :1])
    assert drop(jnp.ones((2, 3)), 0, 0.5, None).tolist() == [[1.0] * 3] * 2  # no key: evaluation, no dropout
