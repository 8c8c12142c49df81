"""STRAINER: parameter counts, the exact encoder copy with a fresh head, joint training,
and the transfer protocol's bookkeeping."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models.inr import (
    Strainer,
    TransferResult,
    as_targets,
    lfw_faces,
    param_count,
    psnr_01,
    siren,
    train_strainer,
    transfer,
)


def _shape(fn, *args, **kw):
    return eqx.filter_eval_shape(fn, *args, **kw)


def test_parameter_counts():
    key = jax.random.key(0)
    paper = _shape(Strainer, 2, 3, 10, key=key)
    assert param_count(paper.encoder) == 263_936
    assert param_count(paper) == 263_936 + 10 * 771
    test_model = _shape(transfer, paper, key=key)
    assert param_count(test_model) == 264_707
    assert param_count(test_model) == param_count(_shape(siren, (2, 256, 256, 256, 256, 256, 3), key=key))


@pytest.fixture(scope="module")
def small():
    return Strainer(2, 1, 3, width=16, shared_layers=2, key=jax.random.key(0))


def test_transfer_copies_encoder_exactly_and_head_is_fresh(small):
    a = transfer(small, key=jax.random.key(1))
    b = transfer(small, key=jax.random.key(2))
    assert len(a.layers) == 3
    for layer, shared in zip(a.layers[:-1], small.encoder.layers):
        assert np.asarray(layer.weight).tobytes() == np.asarray(shared.weight).tobytes()
        assert np.asarray(layer.bias).tobytes() == np.asarray(shared.bias).tobytes()
        assert layer.omega0 == shared.omega0
    # the head is new: differs from every trained head, and depends on the key
    for i in range(3):
        assert not np.allclose(np.asarray(a.layers[-1].weight), np.asarray(small.heads.weight[i]))
    assert not np.allclose(np.asarray(a.layers[-1].weight), np.asarray(b.layers[-1].weight))
    # same function as the shared encoder followed by the new head
    x = jnp.array([0.2, -0.4])
    head = a.layers[-1]
    np.testing.assert_allclose(np.asarray(a(x)), np.asarray(head.weight @ small.encoder(x) + head.bias), rtol=1e-13)


def test_joint_training_fits_all_images(small):
    faces = lfw_faces(3, 8)
    coords, targets = as_targets(faces)
    before = [float(psnr_01(jax.vmap(small)(coords)[:, i], targets[i])) for i in range(3)]
    model, traj = train_strainer(small, coords, targets, steps=100, learning_rate=1e-3, record_every=50,
                                 progress=False)
    after = [float(psnr_01(jax.vmap(model)(coords)[:, i], targets[i])) for i in range(3)]
    assert all(a > b + 3.0 for a, b in zip(after, before))
    assert traj.metric[-1] > traj.metric[0]
    with pytest.raises(ValueError, match="n_images"):
        train_strainer(small, coords, targets[:2], steps=10, record_every=10, progress=False)


def test_transfer_result_bookkeeping():
    steps = np.array([0, 10, 20, 30])
    res = TransferResult(steps, {
        "siren": np.array([[1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 2.0, 6.0]]),
        "strainer_10": np.array([[3.0, 4.0, 5.0, 6.0], [2.0, 3.0, 7.0, 8.0]]),
        "strainer_1": np.array([[0.0, 0.0, 0.0, 0.0], [9.0, 9.0, 9.0, 9.0]]),
    })
    assert res.at("siren", 20) == pytest.approx((2.5, 0.5))
    assert res.steps_to_reach("strainer_10") == pytest.approx((10 + 20) / 2)
    assert np.isnan(res.steps_to_reach("strainer_1"))  # one image never reaches: not silently averaged
    with pytest.raises(ValueError, match="not recorded"):
        res.at("siren", 15)
