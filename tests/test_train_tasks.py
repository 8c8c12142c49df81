"""Each task trains a few steps on a tiny zoo: the loss decreases, and the metrics match hand-computed cases."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import symm
from models.inr import siren_apply
from models.train import (
    FitConfig, ModelSize, TaskError, accuracy, build_model, dilate, fit, kendall_tau, load_task, pixel_mse, predict,
    render_edit, train_seed,
)
from models.zoo import load_zoo, reconstruct
from tests._train_zoos import tiny_cnn_zoo, tiny_inr_zoo


@pytest.fixture(scope="module")
def zoos(tmp_path_factory):
    root = tmp_path_factory.mktemp("train-zoos")
    return {"inr": tiny_inr_zoo(root / "inr"), "cnn": tiny_cnn_zoo(root / "cnn")}


@settings(deadline=None, max_examples=30)
@given(st.integers(2, 30).flatmap(lambda n: st.tuples(
    hnp.arrays(np.float64, n, elements=st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.0])),
    hnp.arrays(np.float64, n, elements=st.floats(-3, 3)))))
def test_kendall_tau_is_scipys_tau_b_with_ties(xy):
    x, y = xy
    expected = scipy.stats.kendalltau(x, y).statistic
    got = kendall_tau(x, y)
    if np.isnan(expected):
        assert np.isnan(got)
    else:
        assert abs(got - expected) <= 1e-12


def test_metrics_on_hand_computed_cases():
    assert kendall_tau(np.array([1.0, 2.0, 3.0]), np.array([3.0, 1.0, 2.0])) == pytest.approx(-1 / 3, abs=1e-15)
    logits = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert accuracy(logits, np.array([1, 1, 1])) == pytest.approx(2 / 3, abs=1e-15)
    assert pixel_mse(np.array([[0.0, 1.0]]), np.array([[0.5, 0.5]])) == 0.25
    image = np.zeros((1, 5, 5, 1), np.float32)
    image[0, 2, 2, 0] = 1.0
    expected = np.zeros_like(image)
    expected[0, 1:4, 1:4, 0] = 1.0
    np.testing.assert_array_equal(dilate(image), expected)  # one bright pixel grows into its 3x3 block


def _train_loss(data, model):
    params, targets = data.splits["train"]
    return float(data.loss(jnp.asarray(predict(model, params, batch_size=8)), jnp.asarray(targets)))


def _check_fit(data, model, config):
    before = _train_loss(data, model)
    result = fit(data, model, config, progress=False)
    last = result.history[-1]
    assert last["step_losses"][-1] < result.history[0]["step_losses"][0]
    assert min(h["train_loss"] for h in result.history) < before
    # The reported test score is the best-validation epoch's, recomputed here from its model.
    best = result.history[result.best_epoch]
    assert result.val == best["val"] and result.test == best["test"]
    params, targets = data.splits["test"]
    assert data.metric(predict(result.model, params, batch_size=8), targets) == pytest.approx(result.test, abs=1e-12)
    return result


def test_classification_scalegmn_learns_and_scores_accuracy(zoos):
    data = load_task("classify", zoos["inr"], dtype=np.float64)
    assert data.out_size == 10 and data.metric_name == "accuracy"
    model = build_model("scalegmn", data, width=4, n_layers=1, key=jax.random.key(0), dtype=jnp.float64)
    _check_fit(data, model, FitConfig(epochs=4, batch_size=4, lr=1e-2, warmup_steps=1))


def test_generalisation_mlp_learns_and_scores_kendall_tau(zoos):
    data = load_task("generalisation", zoos["cnn"], subset="relu", dtype=np.float64)
    accuracy_true = load_zoo(zoos["cnn"]).split("test")["test_accuracy"]
    np.testing.assert_array_equal(data.splits["test"][1], accuracy_true)
    model = build_model("mlp", data, width=8, n_layers=1, key=jax.random.key(1), dtype=jnp.float64)
    result = _check_fit(data, model, FitConfig(epochs=8, batch_size=2, lr=3e-3, warmup_steps=1))
    out = predict(result.model, data.splits["test"][0], batch_size=8)[:, 0]
    assert result.test == pytest.approx(scipy.stats.kendalltau(out, data.splits["test"][1]).statistic, abs=1e-12)


def test_editing_with_two_equivariant_branches_learns_the_dilation(zoos):
    data = load_task("edit", zoos["inr"], dtype=np.float64)
    zoo = load_zoo(zoos["inr"])
    # The target is the dilation of the original INR's own image.
    test = zoo.split("test")
    np.testing.assert_allclose(data.splits["test"][1],
                               dilate(reconstruct(test, np.arange(len(test)), 8, 8)).reshape(len(test), -1))
    # A zero edit renders the original image (unclipped), the hand-computed case of render_edit.
    params = jax.tree.map(lambda a: jnp.asarray(a[0]), data.splits["test"][0])
    zero = jax.tree.map(jnp.zeros_like, params)
    image = np.clip(np.asarray(render_edit(data.render, params, zero)), 0, 1)
    np.testing.assert_allclose(image, reconstruct(test, [0], 8, 8).reshape(-1), atol=1e-6)
    model = build_model("scalegmn", data, width=4, n_layers=1, branches=2, key=jax.random.key(2), dtype=jnp.float64)
    assert len(model.nets) == 2
    _check_fit(data, model, FitConfig(epochs=3, batch_size=4, lr=1e-2, warmup_steps=1))


def test_bad_task_input_is_refused_in_one_clear_line(zoos, tmp_path):
    with pytest.raises(TaskError, match="is a cnn zoo but the classify task needs a inr zoo"):
        load_task("classify", zoos["cnn"])
    with pytest.raises(TaskError, match="no such zoo"):
        load_task("edit", tmp_path / "absent")
    with pytest.raises(TaskError, match="unknown model 'resnet'"):
        build_model("resnet", load_task("classify", zoos["inr"]), width=4, n_layers=1, key=jax.random.key(0))


def _render(params, coords, omega0):
    return np.stack([np.asarray(jax.vmap(lambda c: siren_apply(jax.tree.map(lambda a: jnp.asarray(a[i]), params), c,
                                                                 omega0=omega0))(coords)) for i in range(len(params[0][0]))])


def test_canonicalised_classify_task_holds_canonical_networks_of_the_same_functions(zoos):
    # limit=6: every split has the same shape, so canonicalise_batch compiles once.
    plain = load_task("classify", zoos["inr"], dtype=np.float64, limit=6)
    data = load_task("classify", zoos["inr"], dtype=np.float64, limit=6, canonicalise=True)
    assert data.canonical and not plain.canonical
    assert data.description.endswith(", canonicalised") and data.label != plain.label
    omega0 = float(load_zoo(zoos["inr"]).generator["architecture"]["omega0"])
    coords = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (7, 2)))
    for split in ("train", "val", "test"):
        (before, labels), (after, canon_labels) = plain.splits[split], data.splits[split]
        np.testing.assert_array_equal(canon_labels, labels)
        assert all(isinstance(a, np.ndarray) and a.dtype == np.float64 for a in jax.tree.leaves(after))
        again = symm.canonicalise_batch(data.space, after)  # already canonical: a no-op
        assert max(float(np.max(np.abs(np.asarray(x) - y))) for x, y in zip(jax.tree.leaves(again),
                                                                          jax.tree.leaves(after))) <= 1e-10
        # Negative: the zoo's own networks are not canonical, so the option changes the inputs.
        assert max(float(np.max(np.abs(x - y))) for x, y in zip(jax.tree.leaves(before),
                                                                jax.tree.leaves(after))) > 1e-2
        want, got = _render(before, coords, omega0), _render(after, coords, omega0)
        assert np.max(np.abs(got - want)) <= 1e-10 * np.max(np.abs(want))


def test_canonicalised_cnn_task_keeps_its_targets(zoos):
    plain = load_task("generalisation", zoos["cnn"], dtype=np.float64, limit=2)
    data = load_task("generalisation", zoos["cnn"], dtype=np.float64, limit=2, canonicalise=True)
    params, targets = data.splits["test"]
    np.testing.assert_array_equal(targets, plain.splits["test"][1])
    expected = symm.canonicalise_batch(plain.space, plain.splits["test"][0])
    for x, y in zip(jax.tree.leaves(params), jax.tree.leaves(expected)):
        np.testing.assert_array_equal(x, np.asarray(y))


def test_canonicalise_refuses_a_group_without_canonical_form_in_one_line(zoos, monkeypatch, tmp_path):
    import symm._canonicalise

    monkeypatch.delitem(symm._canonicalise._SCALE_PARTS, "sign")  # as if the sign group had no canonical form
    with pytest.raises(TaskError, match=r"cannot canonicalise .*the sign group .* has no canonical form") as error:
        load_task("classify", zoos["inr"], canonicalise=True)
    assert "\n" not in str(error.value) and "without --canonicalise" in str(error.value)
    monkeypatch.undo()
    data = load_task("classify", zoos["inr"], dtype=np.float64, limit=6, canonicalise=True)
    with pytest.raises(TaskError, match="undoes canonicalisation"):
        train_seed(data, "mlp-aug", 0, size=ModelSize(4, 1), config=FitConfig(), out=tmp_path / "r", zoo="z")
    assert not (tmp_path / "r").exists()


def test_every_finished_seed_keeps_its_test_predictions_and_the_plots_read_them(zoos, tmp_path):
    """predictions.npz holds the best model's test outputs: they rescore to the recorded test score,
    and the benchmark's confusion matrix, scatter and edited-image figures are drawn from them."""
    import benchmarks.tasks as bench
    from models.train import ModelSize, load_predictions, train_seed

    records = []
    for task, zoo, subset in (("classify", "inr", None), ("generalisation", "cnn", "relu"), ("edit", "inr", None)):
        data = load_task(task, zoos[zoo], subset=subset)
        record = train_seed(data, "mlp", 0, size=ModelSize(4, 1), config=FitConfig(epochs=1, batch_size=4),
                            out=tmp_path / task, zoo=str(zoos[zoo]), progress=False)
        p = load_predictions(tmp_path / task)
        np.testing.assert_array_equal(p["targets"], data.splits["test"][1])
        assert data.metric(p["outputs"], p["targets"]) == pytest.approx(record["test"], abs=1e-12)
        assert ("originals" in p) == (task == "edit")
        records.append(record)
    np.testing.assert_array_equal(p["originals"], data.images["test"])
    names = {path.name for path in bench.plot(tmp_path, records)}
    assert names == {"learning_curves.png", "confusion_matrix.png", "generalisation_scatter.png", "edited_images.png"}
