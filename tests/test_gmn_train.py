"""jit / vmap / grad agree; the training step compiles once and learns; dropout needs a key."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import symm
from models import ScaleGMN
from models.gmn import cross_entropy, make_train_step, warmup_adamw
from models.graph import stack, to_graph

SPACE = symm.WeightSpace.mlp((2, 3, 3, 1), ["tanh", "relu"])


def _batch(n, seed=0):
    return stack([to_graph(SPACE, SPACE.init(jax.random.key(seed + i))) for i in range(n)])


def test_jit_vmap_and_grad_agree(key):
    model = ScaleGMN(SPACE, 3, width=4, n_layers=2, bidirectional=True, key=key)
    graphs = _batch(3)
    labels = jnp.array([0, 2, 1])

    # Two programs, each returning its logits beside its gradient (a forward-only program per
    # mode would add two compilations and test nothing the aux output does not).
    def loss(m, g):
        logits = jax.vmap(m)(g)
        return cross_entropy(logits, labels), logits

    def loss_one(m, i):
        logits = m(jax.tree.map(lambda x: x[i], graphs))
        return cross_entropy(logits[None], labels[i][None]) / 3, logits

    g_jit, batched = eqx.filter_jit(eqx.filter_grad(loss, has_aux=True))(model, graphs)
    grad_one = eqx.filter_jit(eqx.filter_grad(loss_one, has_aux=True))
    g_sum, one_by_one = None, []
    for i in range(3):
        gi, logits = grad_one(model, jnp.asarray(i))  # an array index: one compilation for the three
        g_sum = gi if g_sum is None else jax.tree.map(jnp.add, g_sum, gi)
        one_by_one.append(logits)
    np.testing.assert_allclose(batched, jnp.stack(one_by_one), rtol=1e-12, atol=1e-14)
    for a, b in zip(jax.tree.leaves(g_jit), jax.tree.leaves(g_sum)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    assert any(float(jnp.abs(a).max()) > 0 for a in jax.tree.leaves(g_jit))


def test_training_step_traces_once_and_lowers_the_loss(key):
    model = ScaleGMN(SPACE, 2, width=4, n_layers=2, dropout=0.1, key=key)
    graphs = _batch(8, seed=10)
    labels = jnp.array([0, 1] * 4)
    optimizer = warmup_adamw(1e-2, warmup_steps=2)
    opt_state = optimizer.init(eqx.filter(model, eqx.is_inexact_array))
    step = make_train_step(optimizer, max_traces=1)
    losses = []
    for i in range(12):
        model, opt_state, loss = step(model, opt_state, graphs, labels, jax.random.fold_in(key, i))
        losses.append(float(loss))
    assert np.isfinite(losses).all()
    assert np.mean(losses[-3:]) < np.mean(losses[:3])
    # a retrace (here: a different batch size) is refused, proving the step really traced once
    with pytest.raises(RuntimeError):
        step(model, opt_state, _batch(4), labels[:4], key)


def test_dropout_needs_a_key_and_inference_mode_is_deterministic(key):
    model = ScaleGMN(SPACE, 2, width=4, n_layers=1, dropout=0.5, key=key)
    graph = to_graph(SPACE, SPACE.init(key))
    run = eqx.filter_jit(lambda m, g, k: m(g, key=k))
    with pytest.raises(RuntimeError, match="key"):
        eqx.filter_jit(lambda m, g: m(g))(model, graph)
    a, b = run(model, graph, jax.random.key(1)), run(model, graph, jax.random.key(2))
    assert float(jnp.abs(a - b).max()) > 0
    frozen = eqx.nn.inference_mode(model)
    np.testing.assert_array_equal(run(frozen, graph, jax.random.key(1)), run(frozen, graph, jax.random.key(2)))


def test_example_script_runs_and_separates_scalegmn_from_the_baseline():
    from examples.scalegmn_equivariance import main

    results = main(sizes=(2, 3, 1), activations=("relu",), width=4, n_layers=1, n=4)
    assert results["forward, invariant"].passed and results["bidirectional, equivariant ΔW Δb"].passed
    assert not results["permutation-only baseline"].passed
