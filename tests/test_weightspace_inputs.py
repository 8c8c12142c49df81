"""Bad WeightSpace input is refused with one line naming the problem; nothing is rounded or ignored."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import symm


@pytest.mark.parametrize(
    "sizes, match",
    [
        ((2, 3.5, 1), r"layer 1 width is 3\.5 \(float\); it must be a whole number"),
        ((2, 3.0, 1), r"layer 1 width is 3\.0"),
        ((2.5, 3, 1), r"layer 0 width is 2\.5"),
        ((2, True, 1), r"layer 1 width is True"),
        ((2, "3", 1), r"layer 1 width is '3'"),
        ((2, 0, 1), r"layer 1 has width 0; every layer needs at least one neuron"),
        ((2, -4, 1), r"layer 1 has width -4"),
        ((2,), r"at least an input and an output layer"),
        (5, r"layer sizes must be a sequence of widths"),
    ],
)
def test_bad_widths_are_refused(sizes, match):
    with pytest.raises(ValueError, match=match) as info:
        symm.WeightSpace.mlp(sizes, "relu")
    assert "\n" not in str(info.value)


def test_whole_numbers_of_any_integer_type_are_accepted():
    space = symm.WeightSpace.mlp((np.int64(2), jnp.int32(3), 1), "relu")
    assert space.layer_sizes == (2, 3, 1) and all(type(n) is int for n in space.layer_sizes)


def test_no_hidden_layer_needs_no_activation_and_refuses_one(key):
    with pytest.raises(ValueError, match=r"no hidden layer, so the activation 'relu' would never be applied"):
        symm.WeightSpace.mlp((2, 1), "relu")
    with pytest.raises(ValueError, match="would never be applied"):
        symm.WeightSpace.from_layers(((jnp.zeros((1, 2)), jnp.zeros(1)),), "tanh")
    linear = symm.WeightSpace.mlp((2, 1), ())
    assert linear.activations == () and linear.groups == ()
    params = linear.init(key)
    x = jnp.array([0.5, -2.0])
    np.testing.assert_allclose(linear.apply(params, x), params[0][0] @ x + params[0][1], rtol=1e-14)
    # an equinox MLP of depth 0 never applies its activation, so it maps to the linear space
    mlp = eqx.nn.MLP(2, 1, 4, 0, activation=jax.nn.relu, key=key)
    assert symm.WeightSpace.from_mlp(mlp) == linear


def test_activation_count_kind_and_kernel_are_checked():
    with pytest.raises(ValueError, match="got 2 activations for 1 hidden layers"):
        symm.WeightSpace.mlp((2, 3, 1), ["relu", "tanh"])
    with pytest.raises(ValueError, match=r"got 1 activations for 0 hidden layers.*activations=\(\)"):
        symm.WeightSpace.mlp((2, 1), ["relu"])
    with pytest.raises(symm.DeriveError, match="hidden layer 1: unknown activation 'rleu'"):
        symm.WeightSpace.mlp((2, 3, 1), "rleu")
    with pytest.raises(ValueError, match=r"weight layer 0 kernel size is 2\.5"):
        symm.WeightSpace.cnn(channels=(1, 2), dense=(3,), kernel_size=2.5)
    with pytest.raises(ValueError, match="kernel size must be a positive integer, got 0"):
        symm.WeightSpace.cnn(channels=(1, 2), dense=(3,), kernel_size=0)
