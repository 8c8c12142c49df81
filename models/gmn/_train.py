"""A jitted training step: vmapped model, AdamW with gradient clipping and linear warm-up."""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Int, PRNGKeyArray


def warmup_adamw(
    lr: float = 1e-3, *, weight_decay: float = 1e-2, warmup_steps: int = 1000, clip_norm: float = 10.0
) -> optax.GradientTransformation:
    """The official ScaleGMN optimiser: clip the global norm, AdamW, linear warm-up then constant."""
    schedule = optax.join_schedules(
        [optax.linear_schedule(0.0, lr, max(warmup_steps, 1)), optax.constant_schedule(lr)], [max(warmup_steps, 1)]
    )
    return optax.chain(optax.clip_by_global_norm(clip_norm), optax.adamw(schedule, weight_decay=weight_decay))


def cross_entropy(logits: Array, labels: Int[Array, " B"]) -> Array:
    """Mean softmax cross-entropy with integer labels."""
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))


def mse(outputs: Array, targets: Array) -> Array:
    return jnp.mean((outputs - targets) ** 2)


def make_train_step(
    optimizer: optax.GradientTransformation,
    loss: Callable[[Array, Array], Array] = cross_entropy,
    *,
    max_traces: int | None = None,
):
    """Return ``step(model, opt_state, graphs, targets, key) -> (model, opt_state, loss)``.

    ``graphs`` is a batch (leading axis) of ``NeuralGraph``; each example gets its own
    dropout key. ``max_traces`` makes a retrace raise (``eqx.debug.assert_max_traces``).
    """

    def step(model, opt_state, graphs, targets, key: PRNGKeyArray):
        batch = jax.tree.leaves(graphs)[0].shape[0]
        keys = jax.random.split(key, batch)

        def objective(m):
            out = jax.vmap(lambda g, k: m(g, key=k))(graphs, keys)
            return loss(out, targets)

        value, grads = eqx.filter_value_and_grad(objective)(model)
        with jax.numpy_dtype_promotion("standard"):  # optax mixes python/int32 step counts internally
            updates, opt_state = optimizer.update(grads, opt_state, eqx.filter(model, eqx.is_inexact_array))
        return eqx.apply_updates(model, updates), opt_state, value

    if max_traces is not None:
        step = eqx.debug.assert_max_traces(step, max_traces=max_traces)
    return eqx.filter_jit(step)
