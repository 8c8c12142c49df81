"""The small-MLP zoo: reproducible for a seed, points of ``symm.WeightSpace.mlp``, resumable from the command line."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import symm
import symm.cli
from models.zoo import ImageSource, MlpZooConfig, build_mlp_zoo, load_zoo, mlp_apply
from models.zoo._mlp_zoo import flatten_images
from models.zoo._trained_zoo import split_train_test

CONFIG = MlpZooConfig(n=6, hidden=(16,), steps=(40, 120), lr=(3e-3, 3e-2), train_fraction=(0.5, 1.0),
                      shard_size=2, checkpoints=2)
FLAGS = ["--hidden", "16", "-n", "6", "--steps", "40,120", "--lr", "3e-3,3e-2", "--train-fraction", "0.5,1",
         "--shard-size", "2", "--checkpoints", "2"]


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    from models.zoo import load_source

    full = load_source("digits")
    path = tmp_path_factory.mktemp("source") / "digits600.npz"
    np.savez(path, images=full.images[:600], labels=full.labels[:600])  # small pool: cheap evaluation
    return ImageSource("digits600", full.images[:600], full.labels[:600]), path


@pytest.fixture(scope="module")
def zoo(digits, tmp_path_factory):
    return build_mlp_zoo(digits[0], tmp_path_factory.mktemp("mlp") / "zoo", CONFIG, progress=False)


def test_weights_are_points_of_the_mlp_weight_space_and_its_forward_pass(zoo, digits):
    source = digits[0]
    _, test = split_train_test(len(source), CONFIG.test_fraction, CONFIG.split_seed)
    images = np.transpose(source.images[test], (0, 3, 1, 2))  # [N, C, H, W], as models read images
    assert set(zoo.activations) == {"relu", "tanh"}
    for name in ("relu", "tanh"):
        sub = zoo.where_activation(name)
        space = sub.weight_space()
        assert space == symm.WeightSpace.mlp((64, 16, 10), name)
        space.validate(sub.params, batched=True)
        for i in range(len(sub)):
            params = jax.tree.map(lambda a: a[i], sub.params)
            logits = jax.vmap(lambda x: space.apply(params, x))(jnp.asarray(images.reshape(len(images), -1)))
            accuracy = float(jnp.mean(jnp.argmax(logits, -1) == source.labels[test]))
            assert abs(accuracy - sub["test_accuracy"][i]) < 1e-6  # the record is the weight space's accuracy
            np.testing.assert_allclose(np.asarray(mlp_apply(params, jnp.asarray(images[0]), name)),
                                       np.asarray(logits[0]), rtol=1e-5, atol=1e-5)
    # Trained well above chance (0.1), and above each network's own initialisation.
    assert zoo["test_accuracy"].max() > 0.5
    assert np.all(zoo["test_accuracy_ckpt"][:, -1] > zoo["test_accuracy_ckpt"][:, 0])
    assert [tuple(w.shape) for w, _ in load_zoo(zoo.directory).checkpoints] == [(6, 2, 16, 64), (6, 2, 10, 16)]


@pytest.mark.parametrize("activations", [("tanh",), ("tanh", "relu")])
def test_a_network_trains_with_the_activation_its_record_names(digits, tmp_path, activations):
    # The stored index is into the zoo's own activation list: ("tanh",) stores 0 for tanh,
    # which the training must not read as ACTIVATIONS[0] = relu. Negative check: the other
    # activation gives another accuracy, so the records tell the two apart.
    config = MlpZooConfig(n=4, hidden=(16,), steps=(150, 150), lr=(1e-2, 1e-2), activations=activations,
                          shard_size=4, checkpoints=2)
    zoo = build_mlp_zoo(digits[0], tmp_path / "z", config, progress=False)
    assert set(zoo.activations) == set(activations)  # a mixed zoo trains both, so a group of mixed activations fails
    _, test = split_train_test(len(digits[0]), config.test_fraction, config.split_seed)
    x = jnp.asarray(np.transpose(digits[0].images[test], (0, 3, 1, 2)))
    accuracy = lambda p, name: float(np.mean(np.asarray(jnp.argmax(jax.vmap(lambda v: mlp_apply(p, v, name))(x), -1))
                                             == digits[0].labels[test]))
    for i, name in enumerate(zoo.activations):
        params = jax.tree.map(lambda a: a[i], zoo.params)
        assert abs(accuracy(params, name) - zoo["test_accuracy"][i]) < 1e-6
        other = {"relu": "tanh", "tanh": "relu"}[name]
        assert abs(accuracy(params, other) - zoo["test_accuracy"][i]) > 1e-3


def test_a_seed_fixes_the_zoo_bit_for_bit(zoo, digits, tmp_path):
    again = build_mlp_zoo(digits[0], tmp_path / "again", CONFIG, progress=False)
    assert set(again.arrays) == set(zoo.arrays)
    for name in zoo.arrays:
        np.testing.assert_array_equal(again.arrays[name], zoo.arrays[name], err_msg=name)
    # Negative check: another seed draws other networks.
    other = build_mlp_zoo(digits[0], tmp_path / "other", MlpZooConfig(**{**CONFIG.__dict__, "seed": 1, "n": 2}),
                          progress=False)
    assert not np.array_equal(other.params[0][0][0], zoo.params[0][0][0])


def test_a_shared_init_zoo_starts_every_network_at_one_point_and_trains_each_its_own_way(zoo, digits, tmp_path):
    config = MlpZooConfig(**{**CONFIG.__dict__, "n": 4, "init_scale": (1.0, 1.0), "shared_init": True})
    shared = build_mlp_zoo(digits[0], tmp_path / "shared", config, progress=False)
    start = [np.asarray(w)[:, 0] for w, _ in shared.checkpoints]  # checkpoint 0: the initialisation
    for w in start:
        np.testing.assert_array_equal(w, np.broadcast_to(w[:1], w.shape))
    # Network 0's own initialisation, at scale 1 (the default zoo drew an init_scale for it).
    np.testing.assert_allclose(start[0][0] * zoo["init_scale"][0], np.asarray(zoo.checkpoints[0][0])[0, 0], rtol=1e-6)
    assert len({np.asarray(w).tobytes() for w in shared.params[0][0]}) == 4  # trained apart
    # Negative check: the default zoo starts each network somewhere else.
    default = np.asarray(zoo.checkpoints[0][0])[:, 0]
    assert not np.array_equal(default[0], default[1])
    # The initialisation is a function of the shapes and the seed alone (to float32 rounding:
    # the zoo draws it inside its vmapped training program), and IGPG's zoo entries carry it.
    from models.igpg._pipeline import zoo_entries
    from models.igpg._tasks import identity_task
    from models.zoo import shared_initialisation

    shapes = [(np.shape(w)[1:], np.shape(b)[1:]) for w, b in shared.params]
    for (w, b), (w0, b0) in zip(shared_initialisation(shapes, config.seed), shared.checkpoints):
        np.testing.assert_allclose(np.asarray(w), np.asarray(w0)[0, 0], rtol=1e-6, atol=1e-7)
        np.testing.assert_array_equal(np.asarray(b), np.asarray(b0)[0, 0])
    other_seed = shared_initialisation(shapes, config.seed + 1)
    assert np.abs(np.asarray(other_seed[0][0]) - np.asarray(start[0][0])).max() > 0.1
    for entry in zoo_entries(identity_task(digits[0]), shared):  # one entry per activation, one start for all
        np.testing.assert_array_equal(np.asarray(entry.init[0][0]), start[0][0])
    assert all(e.init is None for e in zoo_entries(identity_task(digits[0]), zoo))  # each its own start
    # The command's --shared-init builds the same zoo.
    argv = ["zoo", "mlp", "--source", str(digits[1]), "--out", str(tmp_path / "cli"), *FLAGS[:2], "-n", "4",
            *FLAGS[4:], "--init-scale", "1,1", "--shared-init"]
    assert symm.cli.main(argv) == 0
    for name in shared.arrays:
        np.testing.assert_array_equal(load_zoo(tmp_path / "cli").arrays[name], shared.arrays[name], err_msg=name)


def test_a_shared_init_zoo_keeps_each_networks_own_data(digits, tmp_path):
    # One initialisation, but every network its own pool and batch order. Negative of the
    # test above's "trained apart": with every hyperparameter fixed, networks can differ
    # only through their data, so a zoo that drew its data from the shared seed is caught.
    fixed = dict(n=3, hidden=(8,), steps=(30, 30), lr=(1e-2, 1e-2), weight_decay=(1e-4, 1e-4), init_scale=(1.0, 1.0),
                 dropout=(0.0, 0.0), train_fraction=(0.5, 0.5), activations=("tanh",), shard_size=3, checkpoints=2)
    shared = build_mlp_zoo(digits[0], tmp_path / "z", MlpZooConfig(**fixed, shared_init=True), progress=False)
    start = np.asarray(shared.checkpoints[0][0])[:, 0]
    np.testing.assert_array_equal(start, np.broadcast_to(start[:1], start.shape))
    assert len({np.asarray(w).tobytes() for w in shared.params[0][0]}) == 3
    # The pools themselves: drawn from each network's seed, not the shared one.
    from models.zoo._inr_zoo import network_seeds
    from models.zoo._trained_zoo import _start

    seeds = network_seeds(0, np.arange(3))
    shapes = ((8, 64), (8,)), ((10, 8), (10,))
    hyper = {name: jnp.full(3, value, jnp.float32) for name, value in (("init_scale", 1.0), ("lr", 1e-2), ("weight_decay", 1e-4))}
    params, _, _, pools = _start(seeds, network_seeds(0, np.zeros(3, int)), hyper, 100, shapes=shapes, checkpoints=1)
    np.testing.assert_array_equal(np.asarray(params[0][0])[0], np.asarray(params[0][0])[2])
    assert len({np.asarray(p).tobytes() for p in pools}) == 3


def test_the_command_resumes_an_interrupted_zoo_to_the_same_networks(zoo, digits, tmp_path, capsys):
    out = tmp_path / "cli"
    argv = ["zoo", "mlp", "--source", str(digits[1]), "--out", str(out), *FLAGS]
    assert symm.cli.main(argv) == 0
    assert "6 MLPs in" in capsys.readouterr().out
    (out / "shard-00001.npz").unlink()  # a run stopped before this shard was written
    (out / "shard-00002.npz.tmp").write_bytes(b"half a shard")  # ... while it was writing this one
    assert symm.cli.main(argv) == 0
    resumed = load_zoo(out)
    assert not list(out.glob("*.tmp"))
    for name in zoo.arrays:
        np.testing.assert_array_equal(resumed.arrays[name], zoo.arrays[name], err_msg=name)
    capsys.readouterr()
    assert symm.cli.main([*argv[:-2], "--checkpoints", "3"]) == 2  # other settings: refused, in one line
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "different zoo" in err and "checkpoints" in err


def test_bad_input_is_refused_in_one_line(digits, tmp_path):
    with pytest.raises(ValueError, match="hidden must be positive widths"):
        MlpZooConfig(hidden=())
    unlabelled = ImageSource("blank", digits[0].images[:8], np.full(8, -1))
    with pytest.raises(ValueError, match="MLP zoos need class labels"):
        build_mlp_zoo(unlabelled, tmp_path / "z", CONFIG, progress=False)
    np.testing.assert_array_equal(flatten_images(np.arange(12.0).reshape(1, 2, 2, 3))[0],
                                  np.arange(12.0).reshape(2, 2, 3).transpose(2, 0, 1).ravel())
