"""Neural Experts: parameter counts, hard routing, the staged freeze, pretraining and fitting."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models.inr import psnr_pm1
from models.inr._experts import (
    NEURAL_EXPERTS,
    NEURAL_EXPERTS_SMALL,
    VANILLA_MOE,
    ExpertsConfig,
    NeuralExperts,
    expert_map,
    experts_loss,
    experts_predict,
    param_count,
    pretrain_manager,
    siren_baseline,
    train_experts,
)

TINY = ExpertsConfig(encoder=(12, 12), expert=(12, 12), manager_encoder=(8, 8), manager=(8,), n_experts=3)


def _image(n=8):
    g = jnp.linspace(-1.0, 1.0, n)
    X, Y = jnp.meshgrid(g, g, indexing="ij")
    coords = jnp.stack([X.ravel(), Y.ravel()], -1)
    return coords, 0.9 * jnp.stack([jnp.sin(3 * X) * jnp.cos(2 * Y), X * Y, jnp.cos(4 * X + Y)], -1).reshape(-1, 3)


@pytest.fixture(scope="module")
def tiny():
    return NeuralExperts(config=TINY, key=jax.random.key(0))


def _shape(make, **kw):
    """Build a model abstractly: shapes only, nothing sampled or compiled."""
    return eqx.filter_eval_shape(make, key=jax.random.key(0), **kw)


def _leaves(tree):
    return jax.tree.leaves(eqx.filter(tree, eqx.is_array))


def test_parameter_counts(tiny):
    assert param_count(_shape(siren_baseline)) == 99_843
    assert param_count(_shape(siren_baseline, decoder_width=512)) == 642_819
    assert param_count(_shape(NeuralExperts, config=VANILLA_MOE)) == 349_584
    assert param_count(_shape(NeuralExperts, config=NEURAL_EXPERTS)) == 365_968
    small = param_count(_shape(NeuralExperts, config=NEURAL_EXPERTS_SMALL))
    assert small == 98_752 and abs(small - 98_700) / 98_700 < 0.001
    # conditioning is what separates the two 4-expert models: the manager head input is 256 vs 128
    assert _shape(NeuralExperts, config=NEURAL_EXPERTS).manager.layers[0].weight.shape == (128, 256)
    assert _shape(NeuralExperts, config=VANILLA_MOE).manager.layers[0].weight.shape == (128, 128)
    # the abstract count is the real one (checked on a small model that is cheap to build)
    assert param_count(_shape(NeuralExperts, config=TINY)) == param_count(tiny)


def test_biases_start_at_zero(tiny):
    model = tiny
    for block in (model.encoder, model.experts, model.manager_encoder, model.manager):
        for layer in block.layers:
            assert float(jnp.max(jnp.abs(layer.bias))) == 0.0


def test_hard_routing_outputs_the_chosen_expert(tiny):
    model = tiny
    coords, _ = _image(6)
    routed = jax.vmap(model)(coords)
    outputs, logits = jax.vmap(model.all_experts)(coords)
    chosen = np.asarray(jnp.argmax(logits, -1))
    assert len(set(chosen.tolist())) > 1  # the test exercises more than one expert
    expected = np.asarray(outputs)[np.arange(len(chosen)), chosen]
    np.testing.assert_allclose(np.asarray(routed), expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.asarray(experts_predict(model, coords)), expected, rtol=1e-12, atol=1e-14)
    # negative: the soft mixture (what a dense MoE would output) is a different function
    q = np.asarray(jax.nn.softmax(logits, -1))
    soft = (q[:, :, None] * np.asarray(outputs)).sum(1)
    assert not np.allclose(soft, expected, rtol=1e-3)
    np.testing.assert_array_equal(np.asarray(expert_map(model, coords)), chosen)


def _flops(fn, *args):
    cost = jax.jit(fn).lower(*args).compile().cost_analysis()
    return float((cost[0] if isinstance(cost, (list, tuple)) else cost)["flops"])


def test_routed_inference_evaluates_one_expert_per_point(key):
    """Cost of the routed path does not grow with the number of experts; the dense one does."""
    coords = jax.random.uniform(key, (32, 2), minval=-1.0, maxval=1.0)
    routed, dense = {}, {}
    for k in (2, 8):
        cfg = ExpertsConfig(encoder=(8, 8), expert=(32, 32), manager_encoder=(8, 8), manager=(8,), n_experts=k)
        model = _shape(NeuralExperts, config=cfg)  # lowering needs shapes only
        routed[k] = _flops(lambda m, x: jax.vmap(m)(x), model, coords)
        dense[k] = _flops(experts_predict, model, coords)
    one_expert = 32 * 2 * (8 * 32 + 32 * 32 + 32 * 3)  # multiply-adds of one expert on every point
    assert routed[8] - routed[2] < 0.1 * one_expert  # only the manager's K logits grow
    assert dense[8] - dense[2] > 5 * one_expert  # six more experts really evaluated


def test_q_weighted_loss_by_hand(tiny):
    model = tiny
    coords, rgb = _image(4)
    outputs, logits = jax.vmap(model.all_experts)(coords)
    q = np.asarray(jax.nn.softmax(logits, -1))
    err = (np.asarray(outputs) - np.asarray(rgb)[:, None, :]) ** 2
    expected = 1000.0 * np.mean(q[:, :, None] * err)
    assert float(experts_loss(model, coords, rgb)) == pytest.approx(expected, rel=1e-12)


def test_staged_freeze_keeps_frozen_parameters_bit_identical(tiny):
    model = tiny
    coords, rgb = _image(6)
    # experts_only=1: the whole run is stage 2, so everything but the experts must stay exactly put
    out, traj = train_experts(model, coords, rgb, steps=20, learning_rate=1e-3, experts_only=1.0,
                              record_every=10, progress=False)
    for block in ("encoder", "manager_encoder", "manager"):
        for a, b in zip(_leaves(getattr(out, block)), _leaves(getattr(model, block))):
            assert np.asarray(a).tobytes() == np.asarray(b).tobytes(), block
    changed = [not np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(_leaves(out.experts), _leaves(model.experts))]
    assert all(changed)
    assert traj.metric[-1] > traj.metric[0]
    # the negative (stage 1 does move the encoder) is in test_pretrain_then_fit_beats_init


def test_pretrain_then_fit_beats_init(tiny):
    model = tiny
    coords, rgb = _image(8)
    pre, ptraj = pretrain_manager(model, coords, key=jax.random.key(1), steps=200, learning_rate=3e-3,
                                  record_every=100, progress=False)
    assert ptraj.metric[-1] > 0.9 > ptraj.metric[0]  # the manager learned the random map
    before = float(psnr_pm1(experts_predict(pre, coords), rgb))
    # stage 1 only (stage 2 is exercised by the freeze test; each stage is one compilation)
    out, traj = train_experts(pre, coords, rgb, steps=100, learning_rate=1e-3, experts_only=0.0, record_every=20,
                              progress=False)
    assert traj.steps[-1] == 100 and traj.metric[0] == pytest.approx(before, rel=1e-12)
    assert float(psnr_pm1(jax.vmap(out)(coords), rgb)) > before + 5.0
    # stage 1 trains the encoder and the manager (the freeze only holds in stage 2): the negative of the freeze test
    assert not np.array_equal(np.asarray(out.encoder.layers[0].weight), np.asarray(pre.encoder.layers[0].weight))
    assert not np.array_equal(np.asarray(out.manager.layers[0].weight), np.asarray(pre.manager.layers[0].weight))


def test_bad_config():
    with pytest.raises(ValueError, match="n_experts"):
        ExpertsConfig(n_experts=0)
    with pytest.raises(ValueError, match="expert widths"):
        ExpertsConfig(expert=())
    with pytest.raises(ValueError, match="multiples"):
        train_experts(None, jnp.zeros((4, 2)), jnp.zeros((4, 3)), steps=30, record_every=20)
