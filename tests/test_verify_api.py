"""The public verification API: invariance/equivariance checks, planted bugs, reports."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import symm

SPACE = symm.WeightSpace.mlp((2, 5, 4, 1), "relu")
XS = jax.random.uniform(jax.random.key(7), (6, 2), jnp.float64, -1.0, 1.0)


def network_outputs(params):
    """A genuinely invariant function of the weights: the function values on fixed inputs."""
    return jax.vmap(SPACE.apply, in_axes=(None, 0))(params, XS)


def hidden_row_abs_sum(params):
    """The planted bug: invariant under permutations only (|W| summed over hidden rows)."""
    return sum(jnp.sum(jnp.abs(w)) + jnp.sum(jnp.abs(b)) for w, b in params[:-1])


def test_invariant_function_passes(key):
    params = SPACE.init(key)
    report = symm.check_equivariance(network_outputs, SPACE, jax.random.fold_in(key, 1), params=params, n=16)
    assert report.passed and report.max_rel_error <= 1e-9 and report.n_elements == 16
    assert report.weight_sensitivity > 1e-2 and report.reason is None


def test_permutation_only_function_is_reported_not_scale_invariant(key):
    params = SPACE.init(key)
    report = symm.check_equivariance(hidden_row_abs_sum, SPACE, jax.random.fold_in(key, 1), params=params, n=16)
    assert not report.passed
    assert report.max_rel_error > 1e-2
    text = str(report)
    assert "FAILED" in text and f"worst element #{report.worst_index}" in text and "scales [" in text
    # The offending element is really in the batch and replays the failure.
    g = report.worst_element
    moved = SPACE.act(symm.GroupElement(tuple(map(jnp.asarray, g.perms)), tuple(map(jnp.asarray, g.scales))), params)
    assert abs(float(hidden_row_abs_sum(moved)) - float(hidden_row_abs_sum(params))) > 1e-3
    with pytest.raises(AssertionError, match="FAILED"):
        symm.assert_equivariant(hidden_row_abs_sum, SPACE, jax.random.fold_in(key, 1), params=params, n=16)
    # ...while it IS invariant when the scales are 1 (permutations only).
    perm_only = symm.check_equivariance(
        hidden_row_abs_sum, SPACE, jax.random.fold_in(key, 1), params=params, n=16, scale_range=(1.0, 1.0)
    )
    assert perm_only.passed, str(perm_only)


def _scaled_by_invariant(params):
    """Equivariant (linear action): params times an invariant of the params."""
    s = jnp.mean(network_outputs(params) ** 2) + 1.0
    return jax.tree_util.tree_map(lambda a: a * s, params)


def test_params_shaped_equivariant_output(key):
    params = SPACE.init(key)
    good = symm.check_equivariance(_scaled_by_invariant, SPACE, key, params=params, mode="equivariant", n=8)
    assert good.passed, str(good)
    squared = symm.check_equivariance(
        lambda p: jax.tree_util.tree_map(jnp.square, p), SPACE, key, params=params, mode="equivariant", n=8
    )
    assert not squared.passed and "output" in squared.worst_part


@pytest.mark.parametrize("activation", ["cube", "abs"])
def test_neuron_features_with_their_types_are_equivariant(activation, key):
    """Pre-activations have type q, post-activations type φ(q): check both, and a wrong type fails."""
    space = symm.WeightSpace.mlp((2, 4, 3, 1), activation)
    phi = symm.derive(activation).character
    x = jnp.array([0.3, -0.8])

    def features(params, types):
        h, zs, hs = x, [x], [x]
        for i, (w, b) in enumerate(params):
            z = w @ h + b
            h = space.activations[i].fn(z) if i < len(params) - 1 else z
            zs.append(z)
            hs.append(h)
        stacked = [jnp.stack([z, hh], axis=-1) for z, hh in zip(zs, hs)]
        return symm.NeuronFeatures(stacked, (symm.TRIVIAL,) + (types,) * (len(params) - 1) + (symm.TRIVIAL,))

    params = space.init(key)
    right = symm.check_equivariance(
        lambda p: features(p, (symm.IDENTITY, phi)), space, key, params=params, mode="equivariant", n=8
    )
    assert right.passed, str(right)
    wrong = symm.check_equivariance(
        lambda p: features(p, (symm.IDENTITY, symm.TRIVIAL)), space, key, params=params, mode="equivariant", n=8
    )
    assert not wrong.passed and "features" in wrong.worst_part


def _spliced(p1, p2):
    """Outputs of the network with p1's first layer and p2's others: invariant only when the
    same element acts on both networks."""
    return network_outputs((p1[0],) + tuple(p2[1:]))


def test_every_weight_argument_must_be_declared(key):
    p1, p2 = SPACE.init(key), SPACE.init(jax.random.fold_in(key, 1))
    with pytest.raises(ValueError, match=r"others\[0\] has the structure of the weight space"):
        symm.check_equivariance(_spliced, SPACE, key, params=p1, others=(p2,))
    with pytest.raises(ValueError, match=r"others\[0\]\['net'\]"):
        symm.check_equivariance(lambda p, d: _spliced(p, d["net"]), SPACE, key, params=p1, others=({"net": p2},))
    both = symm.check_equivariance(_spliced, SPACE, key, params=[p1, p2], n=8)
    assert both.passed, str(both)
    # Declared fixed on purpose: allowed, and (correctly) not invariant.
    fixed = symm.check_equivariance(_spliced, SPACE, key, params=p1, others=(symm.Fixed(p2),), n=8)
    assert not fixed.passed


def test_bad_arguments_are_clear_errors(key):
    params = SPACE.init(key)
    with pytest.raises(ValueError, match="mode must be"):
        symm.check_equivariance(network_outputs, SPACE, key, params=params, mode="covariant")
    with pytest.raises(ValueError, match=r"params does not match the weight space: layer 0: W should have shape"):
        symm.check_equivariance(network_outputs, SPACE, key, params=symm.WeightSpace.mlp((3, 5, 4, 1), "relu").init(key))
    with pytest.raises(ValueError, match="out_action"):
        symm.check_equivariance(lambda p: jnp.ones(3), SPACE, key, params=params, mode="equivariant")
    with pytest.raises(ValueError, match=r"xs must be a batch of inputs of shape \[N, 2\]"):
        symm.check_function_preserved(SPACE, params, key, XS[:, :1])
    with pytest.raises(ValueError, match="dtype float32 but params are float64"):
        symm.check_function_preserved(SPACE, params, key, XS.astype(jnp.float32))


def test_function_report_round_trips_through_json(key):
    params = SPACE.init(key)
    g = SPACE.sample(key)
    single = symm.check_function_preserved(SPACE, params, g, XS)
    assert single.n_elements == 1 and single.passed
    report = symm.check_function_preserved(SPACE, params, jax.random.fold_in(key, 1), XS, n=5)
    again = symm.VerificationReport.from_json(report.to_json())
    assert again.to_dict() == report.to_dict() and again == report
    assert again != symm.check_function_preserved(SPACE, params, jax.random.fold_in(key, 2), XS, n=5)
    assert again.passed == report.passed and str(again) == str(report)
    assert report.worst_input == np.asarray(XS[report.worst_input_index]).tolist()
    data = report.to_dict()
    assert set(data) >= {"max_rel_error", "mean_rel_error", "max_abs_error", "worst_element", "worst_input", "passed"}


def test_chunked_and_vmapped_checks_agree(key):
    params = SPACE.init(key)
    whole = symm.check_function_preserved(SPACE, params, key, XS, n=6)
    chunked = symm.check_function_preserved(SPACE, params, key, XS, n=6, chunk_size=4)
    assert whole.to_dict() == chunked.to_dict()


def test_float32_uses_float32_tolerances(key):
    params32 = jax.tree_util.tree_map(lambda a: a.astype(jnp.float32), SPACE.init(key))
    report = symm.check_function_preserved(SPACE, params32, key, XS.astype(jnp.float32), n=8)
    assert report.dtype == "float32" and report.tolerance == 1e-5 and report.passed, str(report)
    bad = symm.check_equivariance(
        lambda p: hidden_row_abs_sum(p), SPACE, key, params=params32, n=8
    )
    assert bad.tolerance == 1e-4 and not bad.passed


# ---- functions that ignore their weights are not "invariant" ----------------------------------
def test_constant_function_fails_with_a_reason(key):
    params = SPACE.init(key)
    report = symm.check_equivariance(lambda q: jnp.ones(3), SPACE, key, params=params, n=8)
    assert report.max_rel_error == 0.0  # the group error alone would pass...
    assert not report.passed and report.weight_sensitivity == 0.0  # ...but the check is vacuous
    assert "does not depend on params" in report.reason and "FAILED" in str(report)
    with pytest.raises(AssertionError, match="close over the untransformed params"):
        symm.assert_equivariant(lambda q: jnp.ones(3), SPACE, key, params=params, n=8)


def test_closure_over_the_untransformed_params_fails(key):
    params = SPACE.init(key)
    report = symm.check_equivariance(lambda q: network_outputs(params), SPACE, key, params=params, n=8)
    assert not report.passed and report.max_rel_error == 0.0 and "does not depend" in report.reason
    # equivariant mode: returning the captured params unchanged is the same bug
    same = symm.check_equivariance(lambda q: params, SPACE, key, params=params, mode="equivariant", n=8)
    assert not same.passed and "does not depend" in same.reason


def test_ignoring_one_of_several_networks_names_it(key):
    p1, p2 = SPACE.init(key), SPACE.init(jax.random.fold_in(key, 1))
    report = symm.check_equivariance(lambda a, b: network_outputs(a), SPACE, key, params=[p1, p2], n=4)
    assert not report.passed and "params[1]" in report.reason and "params[0]" not in report.reason


def test_invariant_function_constant_near_the_network_still_passes(key):
    """The outputs (less the output bias) of a network whose hidden ReLUs are all dead on the
    inputs: exactly 0 and unchanged by small perturbations, yet a genuine invariant. The
    independent probes leave that dead region, so the dependence is found."""
    space = symm.WeightSpace.mlp((2, 5, 1), "relu")
    (w1, b1), (w2, b2) = space.init(key)
    dead = ((w1, jnp.full_like(b1, -10.0)), (w2, b2))

    def outputs_less_bias(p):
        return network_outputs_of(space, p) - p[-1][1]

    assert float(jnp.max(jnp.abs(outputs_less_bias(dead)))) == 0.0
    report = symm.check_equivariance(outputs_less_bias, space, key, params=dead, n=8)
    assert report.passed, str(report)
    assert report.reason is None and report.weight_sensitivity > 1e-3


def network_outputs_of(space, params):
    return jax.vmap(space.apply, in_axes=(None, 0))(params, XS)


def test_invariant_features_only_pass_and_the_report_round_trips(key):
    """A function of invariant features only (the network's outputs' norm) passes, and its
    dependence figure survives JSON."""
    params = SPACE.init(key)
    report = symm.check_equivariance(lambda p: jnp.linalg.norm(network_outputs(p)), SPACE, key, params=params, n=8)
    assert report.passed and report.reason is None and report.weight_sensitivity > 1e-3
    again = symm.VerificationReport.from_json(report.to_json())
    assert again == report and again.weight_sensitivity == report.weight_sensitivity
    bad = symm.check_equivariance(lambda p: jnp.ones(()), SPACE, key, params=params, n=4)
    assert symm.VerificationReport.from_json(bad.to_json()).reason == bad.reason
