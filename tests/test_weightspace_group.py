"""symm.Group: one value per scaling group owns its lattice, samplers and character restriction."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy

import symm
from symm import Character, Group

# Written out by hand, independently of the implementation.
EXPECTED = {
    # name: (has_magnitude, has_sign, larger, generators a certificate must refute)
    "trivial": (False, False, Group.POSITIVE, {Group.SIGN, Group.POSITIVE}),
    "sign": (False, True, Group.NONZERO, {Group.POSITIVE}),
    "positive": (True, False, Group.NONZERO, {Group.SIGN}),
    "nonzero": (True, True, None, set()),
}
# Character(3, 1) = |q|^3 sign(q) as each group sees it.
RESTRICTED_CUBE = {
    "trivial": Character(0, 0),
    "sign": Character(0, 1),
    "positive": Character(3, 0),
    "nonzero": Character(3, 1),
}
# Scales and whether each group holds them: 1, -1, 2, -2, 0.5
PROBES = np.array([1.0, -1.0, 2.0, -2.0, 0.5])
MEMBERS = {
    "trivial": [True, False, False, False, False],
    "sign": [True, True, False, False, False],
    "positive": [True, False, True, False, True],
    "nonzero": [True, True, True, True, True],
}
# An activation whose derived group is each group, to compare with its certificate.
WITNESS = {"trivial": "gelu", "sign": "tanh", "positive": "relu", "nonzero": "cube"}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_group_structure_larger_and_restriction(name):
    group = Group.named(name)
    has_magnitude, has_sign, larger, missing = EXPECTED[name]
    assert str(group) == name and f"{group:>9}" == f"{name:>9}"
    assert (group.has_magnitude, group.has_sign) == (has_magnitude, has_sign)
    assert group.larger == larger
    assert set(group.missing_generators) == missing
    if larger is not None:
        assert group < larger and not larger <= group
    assert group.restrict(Character(3, 1)) == RESTRICTED_CUBE[name]
    np.testing.assert_array_equal(np.asarray(group.contains(PROBES)), MEMBERS[name])
    # a certificate proves exactly the group's scales, and refutes exactly its missing generators
    certificate = symm.derive(WITNESS[name]).certificate
    assert certificate.group is group
    assert {step.scale for step in certificate.identities} == set(group.proof_scales)
    assert {c.refutes for c in certificate.counterexamples} == missing


@pytest.mark.parametrize("name", list(EXPECTED))
def test_group_samples_are_inside_and_outside_samples_are_not(name):
    group = Group.named(name)
    key = jax.random.key(3)
    q = np.asarray(group.sample(key, (256,), scale_range=(0.5, 3.0)))
    assert np.all(np.asarray(group.contains(q)))
    magnitude = np.abs(q)
    if group.has_magnitude:
        assert np.all((magnitude >= 0.5) & (magnitude <= 3.0)) and len(np.unique(magnitude)) > 200
    else:
        assert np.all(magnitude == 1.0)
    assert np.any(q < 0) == group.has_sign and np.any(q > 0)
    # every restricted character agrees with the full one on the group's elements
    for c in (Character(1, 1), Character(-2, 1), Character(3, 0), Character(sympy.Rational(1, 2), 1)):
        np.testing.assert_allclose(np.asarray(group.restrict(c)(q)), np.asarray(c(q)), rtol=1e-12)
    if group.larger is None:
        with pytest.raises(ValueError, match="largest"):
            group.sample_outside(key, (4,))
        return
    out = np.asarray(group.sample_outside(key, (256,)))
    assert not np.any(np.asarray(group.contains(out)))
    assert np.all(np.asarray(group.larger.contains(out)))
    # ... where the identity character q and its restriction differ for some element
    assert not np.allclose(np.asarray(group.restrict(Character(1, 1))(out)), out)


def test_groups_are_hashable_static_values_and_refuse_string_comparison():
    assert len({Group.named(n) for n in EXPECTED} | set(Group.ALL)) == 4
    assert Group.named("sign") is Group.SIGN and Group(False, True) == Group.SIGN
    assert hash(Group(True, False)) == hash(Group.POSITIVE)
    assert Group.SIGN | Group.POSITIVE == Group.NONZERO and Group.SIGN & Group.POSITIVE == Group.TRIVIAL
    assert not Group.SIGN <= Group.POSITIVE and not Group.POSITIVE <= Group.SIGN
    with pytest.raises(TypeError, match=r"Group.named\('sign'\)"):
        _ = Group.SIGN == "sign"
    with pytest.raises(ValueError, match="unknown group 'signs'"):
        Group.named("signs")
    with pytest.raises(TypeError, match="two bools"):
        Group(1, 0)

    class Holder(eqx.Module):
        group: Group = eqx.field(static=True)
        x: jax.Array

    traces = []

    @eqx.filter_jit
    def scale(h):
        traces.append(h.group)
        return h.x * (2.0 if h.group.has_magnitude else 1.0)

    assert len(jax.tree_util.tree_leaves(Holder(Group.SIGN, jnp.ones(2)))) == 1
    assert float(scale(Holder(Group.POSITIVE, jnp.ones(())))) == 2.0
    assert float(scale(Holder(Group(True, False), jnp.ones(())))) == 2.0  # equal value: no retrace
    assert float(scale(Holder(Group.SIGN, jnp.ones(())))) == 1.0
    assert traces == [Group.POSITIVE, Group.SIGN]
