"""Numerical verification of weight-space symmetries: one public API for users and tests.

``check_function_preserved`` confirms that ``g · params`` computes the same function
(the numerical side of every derived symmetry). ``check_equivariance`` checks that a
function of weights is invariant or equivariant under the weight space's group.

Scale-adjusted relative error. Group elements rescale weights by factors up to 4 per
neuron and more per layer, so absolute errors mean little. For two arrays ``a``
(computed from transformed weights) and ``b`` (the transformed reference),

    rel(a, b) = ‖a − b‖₂ / max(½(‖a‖₂ + ‖b‖₂), floor)

is measured separately for every output leaf (every layer of an equivariant output),
and an element's error is the maximum over leaves, so a large-scale layer cannot hide
an error in a small one. ``floor`` only prevents 0/0 (defaults: 1e-12 in float64, 1e-6
in float32).

A check of ``f`` is vacuous when ``f`` ignores its weights: a constant, or a harness that
closes over the untransformed params, is "invariant" with error 0. So ``check_equivariance``
also evaluates ``f`` on probe networks (two independent networks with each leaf's scale, and
one perturbation of the given network by a tenth of that scale) and fails, with a reason,
when no probe moves the output by more than the tolerance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from symm._group_element import GroupElement
from symm._report import VerificationReport
from symm._weight_space import NeuronFeatures, WeightSpace, tree_float_dtype

_TOLERANCE = {  # (function preserved, equivariance)
    np.dtype("float64"): (1e-10, 1e-9),
    np.dtype("float32"): (1e-5, 1e-4),
}
_FLOOR = {np.dtype("float64"): 1e-12, np.dtype("float32"): 1e-6}


class Fixed(eqx.Module):
    """Marks an argument of ``f`` that has the shape of a network but must NOT be transformed.

    ``check_equivariance`` refuses undeclared weight-shaped arguments, because forgetting
    to transform an input that carries weights is the usual harness bug.
    """

    value: Any


def _tolerance(dtype, which: int) -> float:
    dtype = np.dtype(dtype)
    if dtype not in _TOLERANCE:
        raise ValueError(f"no default tolerance for dtype {dtype}; pass tol=... explicitly")
    return _TOLERANCE[dtype][which]


@eqx.filter_jit
def _sample_batch(space: WeightSpace, keys, scale_range, dtype, outside, translations=False) -> GroupElement:
    if outside:
        return jax.vmap(lambda k: space.sample_outside(k, scale_range=scale_range, dtype=dtype))(keys)
    return jax.vmap(lambda k: space.sample(k, scale_range=scale_range, dtype=dtype, translations=translations))(keys)


def sample_elements(
    space: WeightSpace,
    key: PRNGKeyArray,
    n: int,
    *,
    scale_range: tuple[float, float] | None = None,
    dtype=None,
    outside: bool = False,
    translations: bool = False,
) -> GroupElement:
    """``n`` group elements drawn in one vmapped, jitted call (a batched ``GroupElement``).

    ``outside=True`` draws from ``space.sample_outside`` instead (a larger group, for
    negative tests); ``scale_range`` then defaults to that method's (1.5, 4).
    ``translations=True`` adds the derived translations (``space.sample``).
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if scale_range is None:
        scale_range = (1.5, 4.0) if outside else (0.25, 4.0)
    dtype = jnp.result_type(float) if dtype is None else np.dtype(dtype)
    keys = jax.random.split(key, n)
    return _sample_batch(space, keys, tuple(float(v) for v in scale_range), dtype, bool(outside), bool(translations))


def _as_batch(space: WeightSpace, g_or_key, n: int, scale_range, dtype, translations: bool = False) -> GroupElement:
    if isinstance(g_or_key, GroupElement):
        if not g_or_key.perms:
            return jax.tree_util.tree_map(lambda a: a[None], g_or_key)  # no hidden layers: one element
        ndim = g_or_key.perms[0].ndim
        g = jax.tree_util.tree_map(lambda a: a[None], g_or_key) if ndim == 1 else g_or_key
        for layer, (perm, n_l) in enumerate(zip(g.perms, space.hidden_sizes), start=1):
            if perm.ndim != 2 or perm.shape[1] != n_l:
                raise ValueError(
                    f"group element hidden layer {layer}: permutation shape {tuple(perm.shape)} does not match "
                    f"the weight space's width {n_l}"
                )
        return jax.tree_util.tree_map(lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a, g)
    if isinstance(g_or_key, jax.Array) and (
        jnp.issubdtype(g_or_key.dtype, jax.dtypes.prng_key) or g_or_key.dtype == jnp.uint32
    ):
        return sample_elements(space, g_or_key, n, scale_range=scale_range, dtype=dtype, translations=translations)
    raise TypeError(f"expected a symm.GroupElement or a jax PRNG key, got {type(g_or_key).__name__}")


def _batch_size(g: GroupElement) -> int:
    leaves = jax.tree_util.tree_leaves(g)
    return int(leaves[0].shape[0]) if leaves else 1


def _element(g: GroupElement, i: int) -> GroupElement:
    return jax.tree_util.tree_map(lambda a: np.asarray(a[i]), g)


def _map_elements(fn, gs: GroupElement, chunk_size: int | None):
    if chunk_size is None:
        return jax.vmap(fn)(gs)
    return jax.lax.map(fn, gs, batch_size=chunk_size)


# ------------------------------------------------------------------ function preservation
@eqx.filter_jit
def _function_errors(space: WeightSpace, params, xs, gs: GroupElement, floor, chunk_size):
    apply = jax.vmap(space.apply, in_axes=(None, 0))
    reference = apply(params, xs).reshape(xs.shape[0], -1)
    ref_norm = jnp.linalg.norm(reference, axis=-1)
    scale = jnp.maximum(jnp.maximum(ref_norm, jnp.sqrt(jnp.mean(ref_norm**2))), floor)

    def one(g):
        moved = apply(space.act(g, params), xs).reshape(xs.shape[0], -1)
        diff = moved - reference
        return jnp.max(jnp.abs(diff), axis=-1), jnp.linalg.norm(diff, axis=-1) / scale

    return _map_elements(one, gs, chunk_size)


def check_function_preserved(
    space: WeightSpace,
    params: Any,
    g_or_key: GroupElement | PRNGKeyArray,
    xs: Array,
    *,
    n: int = 16,
    tol: float | None = None,
    scale_range: tuple[float, float] = (0.25, 4.0),
    chunk_size: int | None = None,
    translations: bool = True,
) -> VerificationReport:
    """Check that the network ``g · params`` computes the same outputs as ``params`` on ``xs``.

    Elements drawn from a key include the derived translations (``translations=True``).

    ``g_or_key``: one element, a batch of elements (leading axis), or a key from which ``n``
    elements are drawn. ``xs`` is a batch of inputs (leading axis). For element ``g`` and
    input ``x`` the error is ``‖f_g(x) − f(x)‖ / max(‖f(x)‖, rms_x ‖f(x)‖)``: relative to
    the output, floored at the output's typical size so that inputs where ``f(x) ≈ 0`` do
    not inflate it. The report's ``mean_rel_error`` averages each element's worst input.
    Run it in float64 (default tolerance 1e-10; float32 1e-5).
    """
    space.validate(params)
    dtype = tree_float_dtype(params)
    xs = jnp.asarray(xs)
    expected = (space.layer_sizes[0],) if not space.is_cnn else None
    if xs.dtype != dtype:
        raise ValueError(f"inputs xs have dtype {xs.dtype} but params are {dtype}; cast one of them")
    if expected is not None and (xs.ndim != 2 or xs.shape[1:] != expected):
        raise ValueError(f"xs must be a batch of inputs of shape [N, {expected[0]}], got {tuple(xs.shape)}")
    if space.is_cnn and (xs.ndim != 4 or xs.shape[1] != space.layer_sizes[0]):
        raise ValueError(
            f"xs must be a batch of images of shape [N, {space.layer_sizes[0]}, H, W], got {tuple(xs.shape)}"
        )
    gs = _as_batch(space, g_or_key, n, scale_range, dtype, translations)
    tol = _tolerance(dtype, 0) if tol is None else float(tol)
    abs_err, rel_err = _function_errors(space, params, xs, gs, _FLOOR.get(np.dtype(dtype), 1e-12), chunk_size)
    abs_err, rel_err = np.asarray(abs_err), np.asarray(rel_err)
    worst_g, worst_x = np.unravel_index(int(np.argmax(rel_err)), rel_err.shape)
    return VerificationReport(
        check="function preserved",
        space=str(space),
        dtype=str(np.dtype(dtype)),
        n_elements=int(rel_err.shape[0]),
        max_rel_error=float(rel_err.max()),
        mean_rel_error=float(rel_err.max(axis=1).mean()),
        max_abs_error=float(abs_err.max()),
        tolerance=tol,
        worst_index=int(worst_g),
        worst_element=_element(gs, int(worst_g)),
        worst_part="network output",
        worst_input_index=int(worst_x),
        worst_input=np.asarray(xs[int(worst_x)]).tolist(),
    )


def assert_function_preserved(*args, **kwargs) -> VerificationReport:
    """``check_function_preserved`` that raises ``AssertionError`` with the report on failure."""
    report = check_function_preserved(*args, **kwargs)
    if not report.passed:
        raise AssertionError("\n" + str(report))
    return report


# ------------------------------------------------------------------ equivariance
def _leaf_errors(moved, target, floor):
    """Per-leaf scale-adjusted relative error and max absolute error."""
    moved_leaves = jax.tree_util.tree_leaves(moved)
    target_leaves = jax.tree_util.tree_leaves(target)
    rel, absolute = [], []
    for a, b in zip(moved_leaves, target_leaves):
        a, b = jnp.ravel(a), jnp.ravel(b)
        diff = jnp.linalg.norm(a - b)
        denom = jnp.maximum(0.5 * (jnp.linalg.norm(a) + jnp.linalg.norm(b)), floor)
        rel.append(diff / denom)
        absolute.append(jnp.max(jnp.abs(a - b)) if a.size else jnp.zeros((), a.dtype))
    return jnp.stack(rel), jnp.stack(absolute)


def _output_action(space: WeightSpace, example_output: Any) -> Callable:
    if isinstance(example_output, NeuronFeatures):
        return space.act_neurons
    if space.matches(example_output):
        return space.act_linear
    raise ValueError(
        "mode='equivariant' needs f to return params-shaped output (acted on linearly, like ΔW, Δb) or "
        "symm.NeuronFeatures (per-neuron typed features); for anything else pass out_action=callable(g, y)"
    )


def _check_undeclared(space: WeightSpace, others: Sequence[Any]) -> None:
    def carries_weights(x):
        if isinstance(x, Fixed):
            return True
        if not isinstance(x, (tuple, list)) or len(x) != space.num_layers:
            return False
        try:
            space.validate(x)
            return True
        except ValueError:
            pass
        try:
            space.validate(x, batched=True)
            return True
        except ValueError:
            return False

    for position, arg in enumerate(others):
        for path, leaf in jax.tree_util.tree_flatten_with_path(arg, is_leaf=carries_weights)[0]:
            if carries_weights(leaf) and not isinstance(leaf, Fixed):
                where = f"others[{position}]{jax.tree_util.keystr(path)}"
                raise ValueError(
                    f"{where} has the structure of the weight space but is not declared as weights, so the "
                    "group would not act on it. Pass it in params=[...] to transform it, or wrap it in "
                    "symm.Fixed(...) if it must stay fixed"
                )


# Probes of weight dependence: (relative size, independent?). Independent probes are fresh
# zero-mean draws with each leaf's root-mean-square, so they leave any neighbourhood of the given
# network (a function that is legitimately constant near it still moves); the perturbation stays near.
_PROBES = ((1.0, True), (1.0, True), (0.1, False))


def _probe_networks(p, key):
    """A batch (leading axis) of networks that are not in the orbit of ``p``, one per probe."""
    leaves, treedef = jax.tree_util.tree_flatten(p)
    total = sum(float(np.prod(leaf.shape)) for leaf in leaves)
    overall = jnp.sqrt(sum(jnp.sum(jnp.square(leaf)) for leaf in leaves) / max(total, 1.0))
    overall = jnp.where(overall > 0, overall, 1.0)
    probes = []
    for j, (size, independent) in enumerate(_PROBES):
        keys = jax.random.split(jax.random.fold_in(key, j), len(leaves))
        out = []
        for k, leaf in zip(keys, leaves):
            rms = jnp.sqrt(jnp.mean(jnp.square(leaf))) if leaf.size else overall
            scale = jnp.where(rms > 0, rms, overall)
            noise = size * scale * jax.random.normal(k, leaf.shape, leaf.dtype)
            out.append(noise if independent else leaf + noise)
        probes.append(out)
    stacked = [jnp.stack([probe[i] for probe in probes]) for i in range(len(leaves))]
    return jax.tree_util.tree_unflatten(treedef, stacked)


@eqx.filter_jit
def _equivariance_errors(f, space, weights, others, gs, probe_key, mode, out_action, floor, chunk_size):
    """Errors under every element of ``gs``, and how far each weight argument's probes move ``f``.

    One program, one batched ``f``: the given networks, the ``n`` moved copies and the probes
    (one weight argument replaced at a time) are stacked and mapped together, so ``f`` is
    compiled once instead of once per batch shape.
    """
    n, m = jax.tree_util.tree_leaves(gs)[0].shape[0], len(weights)
    probes = [_probe_networks(p, jax.random.fold_in(probe_key, i)) for i, p in enumerate(weights)]
    n_probes = len(_PROBES)

    def rows(k, p):
        repeat = lambda count: jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (count, *a.shape)), p)
        parts = [repeat(1), jax.vmap(lambda g: space.act(g, p))(gs)]
        parts += [probes[k] if i == k else repeat(n_probes) for i in range(m)]
        return jax.tree_util.tree_map(lambda *leaves: jnp.concatenate(leaves), *parts)

    batch = tuple(rows(k, p) for k, p in enumerate(weights))
    call = lambda ws: f(*ws, *others)
    outputs = jax.vmap(call)(batch) if chunk_size is None else jax.lax.map(call, batch, batch_size=chunk_size)
    take = lambda lo, hi: jax.tree_util.tree_map(lambda a: a[lo:hi], outputs)
    reference = jax.tree_util.tree_map(lambda a: a[0], outputs)

    def errors(g, moved):
        target = reference if mode == "invariant" else out_action(g, reference)
        return _leaf_errors(moved, target, floor)

    rel, absolute = jax.vmap(errors)(gs, take(1, 1 + n))
    changes = []
    for i in range(m):
        lo = 1 + n + i * n_probes
        change = jax.vmap(lambda out: jnp.max(_leaf_errors(out, reference, floor)[0]))(take(lo, lo + n_probes))
        changes.append(jnp.max(jnp.where(jnp.isnan(change), jnp.inf, change)))
    return rel, absolute, jnp.stack(changes)


def _unwrap_fixed(x):
    return jax.tree_util.tree_map(
        lambda leaf: leaf.value if isinstance(leaf, Fixed) else leaf, x, is_leaf=lambda y: isinstance(y, Fixed)
    )


def check_equivariance(
    f: Callable,
    space: WeightSpace,
    key: PRNGKeyArray,
    *,
    params: Any,
    mode: Literal["invariant", "equivariant"] = "invariant",
    n: int = 32,
    others: Sequence[Any] = (),
    elements: GroupElement | None = None,
    out_action: Callable[[GroupElement, Any], Any] | None = None,
    tol: float | None = None,
    floor: float | None = None,
    scale_range: tuple[float, float] = (0.25, 4.0),
    chunk_size: int | None = None,
    translations: bool = False,
) -> VerificationReport:
    """Check ``f(g·p) == f(p)`` (invariant) or ``f(g·p) == g·f(p)`` (equivariant) for ``n`` random ``g``.

    ``f`` is called as ``f(*weights, *others)``. ``params`` is one network of ``space``, or a
    LIST of networks (all transformed by the same ``g``). Everything in ``others`` is passed
    unchanged; an argument in ``others`` that has the structure of the weight space is
    refused unless wrapped in ``symm.Fixed`` (a forgotten transformation is the usual
    harness bug). ``n`` elements are drawn from ``key`` in one vmapped, jitted call, or
    given directly as ``elements`` (a batched ``GroupElement``, e.g. from
    ``space.sample_outside`` for a negative test). ``translations=True`` also draws the
    derived translations (off by default: models built from the scaling groups are not
    translation-invariant).

    Equivariant outputs are acted on by ``out_action(g, y)``; by default
    ``space.act_neurons`` for ``symm.NeuronFeatures`` and ``space.act_linear`` for
    params-shaped outputs (ΔW, Δb). Errors are the scale-adjusted relative errors of the
    module docstring; default tolerance 1e-9 in float64, 1e-4 in float32.

    The check also FAILS, whatever the errors, when ``f`` does not depend on one of its
    weight arguments: its output stays within the tolerance on independent and perturbed
    networks (``report.reason`` says which argument). That is the signature of a constant
    or of a harness that closes over the untransformed params.
    """
    if mode not in ("invariant", "equivariant"):
        raise ValueError(f"mode must be 'invariant' or 'equivariant', got {mode!r}")
    weights = list(params) if isinstance(params, list) else [params]
    if not weights:
        raise ValueError("params=[] declares no weights; pass at least one network")
    for i, p in enumerate(weights):
        try:
            space.validate(p)
        except ValueError as err:
            label = "params" if not isinstance(params, list) else f"params[{i}]"
            raise ValueError(f"{label} does not match the weight space: {err}") from None
    if not isinstance(others, (tuple, list)):
        raise TypeError("others must be a tuple of the extra positional arguments of f")
    _check_undeclared(space, others)
    others = tuple(_unwrap_fixed(o) for o in others)
    dtype = tree_float_dtype(weights[0])
    if elements is None:
        gs = sample_elements(space, key, n, scale_range=scale_range, dtype=dtype, translations=translations)
    else:
        gs = _as_batch(space, elements, n, scale_range, dtype)
    if mode == "equivariant" and out_action is None:
        out_action = _output_action(space, eqx.filter_eval_shape(f, *weights, *others))
    tol = _tolerance(dtype, 1) if tol is None else float(tol)
    floor = _FLOOR.get(np.dtype(dtype), 1e-12) if floor is None else float(floor)
    probe_key = jax.random.key(0) if key is None else jax.random.fold_in(key, 0x5EED)
    rel, absolute, changes = _equivariance_errors(f, space, tuple(weights), others, gs, probe_key, mode, out_action,
                                                  floor, chunk_size)
    rel, absolute, changes = np.asarray(rel), np.asarray(absolute), np.asarray(changes)  # [n, leaves], [weights]
    per_element = rel.max(axis=1)
    worst = int(np.argmax(per_element))
    reference = eqx.filter_eval_shape(f, *weights, *others)
    paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(reference)[0]]
    worst_leaf = int(np.argmax(rel[worst]))
    reason = None
    ignored = [i for i, c in enumerate(changes) if not c > tol]
    if ignored:
        labels = ", ".join("params" if not isinstance(params, list) else f"params[{i}]" for i in ignored)
        reason = (
            f"f does not depend on {labels}: its output moves by at most {changes[ignored].max():.1e} (relative) "
            "when those weights are replaced by independent or perturbed networks, so the check is vacuous. "
            "Does f ignore its argument or close over the untransformed params?"
        )
    return VerificationReport(
        check=mode,
        space=str(space),
        dtype=str(np.dtype(dtype)),
        n_elements=int(rel.shape[0]),
        max_rel_error=float(per_element.max()),
        mean_rel_error=float(per_element.mean()),
        max_abs_error=float(absolute.max()),
        tolerance=tol,
        worst_index=worst,
        worst_element=_element(gs, worst),
        worst_part=f"output {paths[worst_leaf] or '(whole)'}" if paths else None,
        weight_sensitivity=float(changes.min()),
        reason=reason,
    )


def assert_equivariant(*args, **kwargs) -> VerificationReport:
    """``check_equivariance`` that raises ``AssertionError`` with the report when it fails."""
    report = check_equivariance(*args, **kwargs)
    if not report.passed:
        raise AssertionError("\n" + str(report))
    return report
