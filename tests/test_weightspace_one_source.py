"""One source of truth: derive, WeightSpace, certificates and models.graph.Layout read the same groups and φ."""

import jax
import sympy

import symm
from models.graph import Layout, stack, to_graph
from symm import TRIVIAL, Group


def test_derive_space_certificate_and_layout_hold_the_same_group_objects():
    activations = ["relu", "tanh", "cube", "gelu"]
    space = symm.WeightSpace.mlp((2, 3, 3, 3, 3, 1), activations)
    layout = Layout.from_space(space)
    for l, name in enumerate(activations):
        derived = symm.derive(name)
        assert derived.group is derived.certificate.group
        assert space.groups[l] is derived.group
        assert layout.groups[l] is space.groups[l]
        assert layout.group(l + 1) is space.groups[l]
        assert layout.phis[l] == space.characters[l]
        assert layout.activations[l] == space.activations[l]
    assert [str(g) for g in space.groups] == ["positive", "sign", "nonzero", "trivial"]
    assert layout.group(0) is Group.TRIVIAL and layout.group(5) is Group.TRIVIAL


def test_conv_to_conv_affine_layer_is_trivial_in_the_space_and_the_layout():
    # sigmoid: sign group with an offset. Between two convolutions the offset cannot pass zero
    # padding, so that layer keeps only the trivial group; before the dense layer it keeps sign.
    space = symm.WeightSpace.cnn(channels=(1, 2, 2), dense=(3,), kernel_size=3, activations="sigmoid")
    layout = Layout.from_space(space)
    assert space.groups == (Group.TRIVIAL, Group.SIGN)
    assert layout.groups == space.groups and layout.phis == space.characters
    assert space.characters[0] == TRIVIAL and space.characters[1] == symm.derive("sigmoid").character
    assert [s.affine for s in space.layer_symmetries] == [False, True]
    assert layout.affine == ("sigmoid",)
    assert Layout.from_activations((1, 2, 2, 3), "sigmoid", (3, 3, None)) == layout
    # the graph's channel types follow: the trivial layer's vertices are invariant
    assert layout.vertex_type(1).is_invariant and not layout.vertex_type(2).is_invariant


def test_trivial_phi_agrees_between_space_and_layout():
    space = symm.WeightSpace.mlp((2, 4, 1), "gelu")
    layout = Layout.from_space(space)
    assert space.groups == (Group.TRIVIAL,) and space.characters == (TRIVIAL,) and layout.phis == (TRIVIAL,)
    assert layout.permutation_only().phis == (TRIVIAL,)
    relu = Layout.from_space(symm.WeightSpace.mlp((2, 4, 1), "relu"))
    assert relu.permutation_only().groups == (Group.TRIVIAL,) and relu.phis != relu.permutation_only().phis


def test_sin_by_name_and_by_expression_give_equal_spaces_and_layouts(key):
    by_name = symm.WeightSpace.mlp((2, 3, 1), "sin")
    by_expr = symm.WeightSpace.mlp((2, 3, 1), sympy.sin(30 * symm.x))
    assert by_name == by_expr and hash(by_name) == hash(by_expr)
    assert Layout.from_space(by_name) == Layout.from_space(by_expr)
    assert hash(Layout.from_space(by_name)) == hash(Layout.from_space(by_expr))
    # graphs of the two spaces stack into one batch (same static layout)
    batch = stack([to_graph(by_name, by_name.init(key)), to_graph(by_expr, by_expr.init(jax.random.fold_in(key, 1)))])
    assert batch.edges[0].shape[0] == 2
    # a different frequency is a different space
    other = symm.WeightSpace.mlp((2, 3, 1), sympy.sin(20 * symm.x))
    assert other != by_name and Layout.from_space(other) != Layout.from_space(by_name)
