"""Building weight spaces, their structure, sampling, per-neuron features, and bad input."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import symm
from symm import Group


def test_from_mlp_matches_the_equinox_forward_pass(key):
    for fn in (jax.nn.relu, jnp.tanh, jax.nn.gelu):
        mlp = eqx.nn.MLP(3, 2, 5, 2, activation=fn, key=key, dtype=jnp.float64)
        space = symm.WeightSpace.from_mlp(mlp)
        params = space.params_from_mlp(mlp)
        xs = jax.random.normal(jax.random.fold_in(key, 1), (6, 3), jnp.float64)
        ours = jax.vmap(space.apply, in_axes=(None, 0))(params, xs)
        theirs = jax.vmap(mlp)(xs)
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)
        assert space.layer_sizes == (3, 5, 5, 2)
    # jax.nn.gelu is the tanh approximation: it must NOT be mapped to the registry's erf gelu.
    assert symm.WeightSpace.from_mlp(mlp).activations[0].name != "gelu"


def test_from_mlp_groups_come_from_derive(key):
    mlp = eqx.nn.MLP(2, 1, 4, 2, activation=jax.nn.relu, key=key)
    space = symm.WeightSpace.from_mlp(mlp)
    assert space.hidden_symmetries == (symm.derive("relu"),) * 2
    assert space.groups == (symm.derive("relu").group,) * 2
    overridden = symm.WeightSpace.from_mlp(mlp, activation="leaky_relu")
    assert overridden.activations[0] == symm.get_activation("leaky_relu")


def test_from_mlp_unknown_activation_and_final_activation_are_clear_errors(key):
    odd = eqx.nn.MLP(2, 1, 4, 1, activation=lambda z: jnp.maximum(z, 0.3 * z) + 1.0, key=key)
    with pytest.raises(ValueError, match='activation="'):
        symm.WeightSpace.from_mlp(odd)
    assert symm.WeightSpace.from_mlp(odd, activation="x/(1+Abs(x))").num_layers == 2
    squashed = eqx.nn.MLP(2, 1, 4, 1, final_activation=jnp.tanh, key=key)
    with pytest.raises(ValueError, match="final_activation"):
        symm.WeightSpace.from_mlp(squashed)


def test_from_layers_infers_structure_and_allows_mixed_activations(key):
    reference = symm.WeightSpace.cnn(channels=(2, 3), dense=(4, 2), kernel_size=(5,), activations=["tanh", "relu"])
    params = reference.init(key)
    space = symm.WeightSpace.from_layers(params, ["tanh", "relu"])
    assert space == reference
    assert space.kernel_sizes == (5, None, None)
    assert space.is_cnn and space.num_layers == 3
    assert space.num_params == 3 * 2 * 25 + 3 + 4 * 3 + 4 + 2 * 4 + 2
    assert space.num_params == sum(a.size for a in jax.tree_util.tree_leaves(params))


def test_from_layers_names_the_layer_and_shapes(key):
    good = symm.WeightSpace.mlp((3, 4, 2), "relu").init(key)
    bad = (good[0], (jnp.zeros((2, 5)), good[1][1]))
    with pytest.raises(ValueError, match=r"layer 1: W has shape \(2, 5\), so it expects 5 inputs, but layer 0 has 4"):
        symm.WeightSpace.from_layers(bad, "relu")
    with pytest.raises(ValueError, match=r"layer 0: W has shape \(4, 3\) so b must have shape \(4,\), got \(3,\)"):
        symm.WeightSpace.from_layers(((good[0][0], jnp.zeros(3)), good[1]), "relu")
    with pytest.raises(ValueError, match=r"layer 0: W has shape \(4, 3, 2\)"):
        symm.WeightSpace.from_layers(((jnp.zeros((4, 3, 2)), good[0][1]), good[1]), "relu")


def test_validate_names_layer_expected_and_actual_shapes(key):
    space = symm.WeightSpace.mlp((3, 4, 2), "tanh")
    params = space.init(key)
    space.validate(params)
    with pytest.raises(ValueError, match=r"layer 1: W should have shape \(2, 4\), got \(2, 3\)"):
        space.validate((params[0], (jnp.zeros((2, 3)), params[1][1])))
    with pytest.raises(ValueError, match="params has 1 layers but the weight space"):
        space.validate(params[:1])
    with pytest.raises(ValueError, match="dtype float32 but earlier arrays are float64"):
        space.validate((params[0], (params[1][0].astype(jnp.float32), params[1][1])))
    with pytest.raises(ValueError, match="tuple of"):
        space.validate({"W": 1})
    batched = jax.vmap(space.init)(jax.random.split(key, 3))
    space.validate(batched, batched=True)
    with pytest.raises(ValueError, match="layer 0: W should have shape"):
        space.validate(batched)
    assert space.matches(params) and not space.matches(batched)


def test_unknown_activation_and_wrong_count_are_clear_errors():
    with pytest.raises(symm.DeriveError, match="hidden layer 2: unknown activation 'relux'.*did you mean"):
        symm.WeightSpace.mlp((2, 3, 3, 1), ["tanh", "relux"])
    with pytest.raises(ValueError, match="got 3 activations for 2 hidden layers"):
        symm.WeightSpace.mlp((2, 3, 3, 1), ["tanh", "relu", "sin"])
    with pytest.raises(ValueError, match="convolution after dense layer"):
        symm.WeightSpace((2, 3, 3, 1), (None, 3, None), "relu")
    with pytest.raises(ValueError, match="at least one neuron"):
        symm.WeightSpace.mlp((2, 0, 1), "relu")


def test_space_is_static_and_hashable():
    a = symm.WeightSpace.mlp((2, 3, 1), "relu")
    b = symm.WeightSpace.mlp((2, 3, 1), "relu")
    assert a == b and hash(a) == hash(b)
    assert jax.tree_util.tree_leaves(a) == []
    assert a != symm.WeightSpace.mlp((2, 3, 1), "tanh")


@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu", "cube"])
def test_sample_draws_scales_from_each_neurons_derived_group(activation, key):
    space = symm.WeightSpace.mlp((2, 64, 64, 1), activation)
    group = symm.derive(activation).group
    gs = jax.vmap(lambda k: space.sample(k, scale_range=(0.5, 3.0)))(jax.random.split(key, 4))
    assert gs.scales[0].shape == (4, 64) and gs.perms[0].shape == (4, 64)
    q = np.concatenate([np.asarray(s).ravel() for s in gs.scales])
    for perm in gs.perms:
        for row in np.asarray(perm):
            assert sorted(row.tolist()) == list(range(64))
    magnitude = np.abs(q)
    if group == Group.TRIVIAL:
        assert np.all(q == 1.0)
    elif group == Group.SIGN:
        assert np.all(magnitude == 1.0) and np.any(q < 0) and np.any(q > 0)
    else:
        assert np.all((magnitude >= 0.5) & (magnitude <= 3.0)) and len(np.unique(magnitude)) > 100
        assert np.any(q < 0) == (group == Group.NONZERO)


@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu"])
def test_sample_outside_leaves_every_neurons_group(activation, key):
    space = symm.WeightSpace.mlp((2, 32, 1), activation)
    q = np.asarray(space.sample_outside(key).scales[0])
    group = symm.derive(activation).group
    if group == Group.POSITIVE:
        assert np.all(q < 0)
    else:
        assert np.all(np.abs(q) != 1.0)
    with pytest.raises(ValueError, match="largest group"):
        symm.WeightSpace.mlp((2, 3, 1), "cube").sample_outside(key)


def test_act_linear_equals_act_without_offsets_and_differs_with_them(key):
    for activation, same in (("tanh", True), ("sigmoid", False)):
        space = symm.WeightSpace.mlp((2, 4, 3), activation)
        params = space.init(key)
        g = symm.GroupElement(space.identity().perms, (-jnp.ones(4),))
        affine, linear = space.act(g, params), space.act_linear(g, params)
        np.testing.assert_array_equal(affine[0][0], linear[0][0])
        np.testing.assert_array_equal(affine[1][0], linear[1][0])
        assert np.array_equal(affine[1][1], linear[1][1]) == same


def test_act_neurons_scales_each_channel_by_its_type_and_fixes_io(key):
    space = symm.WeightSpace.mlp((2, 3, 1), "cube")
    q = jnp.array([2.0, -0.5, 3.0])
    g = symm.GroupElement((jnp.array([2, 0, 1], dtype=jnp.int32),), (q,))
    feats = [jax.random.normal(jax.random.fold_in(key, l), (n, 2), jnp.float64) for l, n in enumerate((2, 3, 1))]
    types = (symm.IDENTITY, (symm.IDENTITY, symm.character_of(symm.a**3, symm.a)), symm.IDENTITY)
    moved = space.act_neurons(g, symm.NeuronFeatures(feats, types))
    expected = (feats[1] * jnp.stack([q, q**3], axis=-1))[jnp.array([2, 0, 1])]
    np.testing.assert_allclose(moved.features[1], expected, rtol=1e-15)
    np.testing.assert_array_equal(moved.features[0], feats[0])
    np.testing.assert_array_equal(moved.features[2], feats[2])
    with pytest.raises(ValueError, match=r"2 channel types need features of shape"):
        symm.NeuronFeatures([f[..., 0] for f in feats], (symm.IDENTITY, (symm.IDENTITY,) * 2, symm.IDENTITY))
    with pytest.raises(ValueError, match=r"layer 1: expected shape \[3, ...\]"):
        space.act_neurons(g, symm.NeuronFeatures([feats[0], feats[1][:2], feats[2]], symm.IDENTITY))


def test_group_element_checks_its_space(key):
    space = symm.WeightSpace.mlp((2, 3, 1), "relu")
    other = symm.WeightSpace.mlp((2, 4, 1), "relu")
    with pytest.raises(ValueError, match=r"hidden layer sizes \(4,\) but the weight space has \(3,\)"):
        space.act(other.sample(key), space.init(key))
    with pytest.raises(ValueError, match="one permutation and one scale vector per hidden layer"):
        symm.GroupElement((jnp.arange(3),), ())
