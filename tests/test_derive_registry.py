"""Every registry activation yields the known group, φ and offset; registry mechanics."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy

import symm
from symm import Group
from symm import a

# The specification of the issue (these expectations are the spec, not computed results).
EXPECTED = {
    "identity": (Group.NONZERO, a, 0),
    "relu": (Group.POSITIVE, a, 0),
    "leaky_relu": (Group.POSITIVE, a, 0),
    "tanh": (Group.SIGN, a, 0),
    "sin": (Group.SIGN, a, 0),
    "cos": (Group.SIGN, 1, 0),
    "sigmoid": (Group.SIGN, a, (1 - a) / 2),
    "gelu": (Group.TRIVIAL, 1, 0),
    "silu": (Group.TRIVIAL, 1, 0),
    "elu": (Group.TRIVIAL, 1, 0),
    "selu": (Group.TRIVIAL, 1, 0),
    "softplus": (Group.TRIVIAL, 1, 0),
    "mish": (Group.TRIVIAL, 1, 0),
    "abs": (Group.NONZERO, sympy.Abs(a), 0),
    "square": (Group.NONZERO, a**2, 0),
    "cube": (Group.NONZERO, a**3, 0),
    "pow4": (Group.NONZERO, a**4, 0),
    "pow5": (Group.NONZERO, a**5, 0),
    "relu2": (Group.POSITIVE, a**2, 0),
    "softsign": (Group.SIGN, a, 0),
    "hardtanh": (Group.SIGN, a, 0),
    "arctan": (Group.SIGN, a, 0),
    "erf": (Group.SIGN, a, 0),
    "gaussian": (Group.SIGN, 1, 0),
    "signed_square": (Group.NONZERO, a * sympy.Abs(a), 0),
}

CHARACTERS = {
    "relu": symm.Character(1, 1),
    "cos": symm.TRIVIAL,
    "gelu": symm.TRIVIAL,
    "abs": symm.Character(1, 0),
    "cube": symm.Character(3, 1),
    "signed_square": symm.Character(2, 1),
    "relu2": symm.Character(2, 0),
}


def _same(got, expected) -> bool:
    return sympy.expand(sympy.sympify(got) - sympy.sympify(expected)) == 0


def test_registry_covers_the_issue():
    assert set(EXPECTED) <= set(symm.registry_names())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_known_symmetry(name):
    group, phi, offset = EXPECTED[name]
    symmetry = symm.derive(name)
    assert symmetry.group == group
    assert _same(symmetry.phi, phi), symmetry.phi
    assert _same(symmetry.offset, offset), symmetry.offset
    assert symmetry.is_linear == (offset == 0)
    assert symmetry.undecided == ()
    if name in CHARACTERS:
        assert symmetry.character == CHARACTERS[name]


@pytest.mark.parametrize(
    "spec, group, phi, offset",
    [
        ("Max(0, x)**2", Group.POSITIVE, a**2, 0),
        ("x/(1+Abs(x))", Group.SIGN, a, 0),
        ("sin(3*x)", Group.SIGN, a, 0),
        ("sin(0.5*x)", Group.SIGN, a, 0),
        ("3*tanh(2*x) + 1", Group.SIGN, a, 1 - a),
        ("x**3 + x", Group.SIGN, a, 0),
        ("x + 1", Group.NONZERO, a, 1 - a),
        ("Max(x, 0) + Min(x, 0)/2", Group.POSITIVE, a, 0),
        ("cos(x)*Heaviside(x)", Group.TRIVIAL, 1, 0),
        ("log(1 + x**2)", Group.SIGN, 1, 0),
        ("t**3", Group.NONZERO, a**3, 0),
        ("Heaviside(x)", Group.NONZERO, a / sympy.Abs(a), sympy.Piecewise((0, a > 0), (1, True))),
        ("Min(10, Max(-10, x))", Group.SIGN, a, 0),  # kinks far from 0: the search grid follows them
        ("sin(0.001*x)", Group.SIGN, a, 0),  # decimal literals are read exactly (1/1000)
        ("Abs(sin(x))", Group.SIGN, 1, 0),  # infinitely many kinks: proven without splitting
        ("Max(0, sin(x))", Group.TRIVIAL, 1, 0),
        ("Abs(x + 1) - Abs(x - 1)", Group.SIGN, a, 0),
    ],
)
def test_derived_not_looked_up(spec, group, phi, offset):
    """Expressions outside the registry are derived from their formula."""
    symmetry = symm.derive(spec)
    assert (symmetry.group, _same(symmetry.phi, phi), _same(symmetry.offset, offset)) == (group, True, True)
    assert symmetry.undecided == ()


def test_parameters_change_the_expression_not_the_symmetry():
    assert symm.derive("leaky_relu(0.2)").group == Group.POSITIVE
    assert symm.derive("leaky_relu", slope=0.2) is symm.derive("leaky_relu(0.2)")
    assert symm.get_activation("leaky_relu", slope=0.2).expr.subs(symm.x, -5) == -1
    # slope 1 is the identity: the derivation must notice the larger group
    assert symm.derive("leaky_relu", slope=1).group == Group.NONZERO
    assert symm.get_activation("sin").expr == sympy.sin(30 * symm.x)
    assert symm.get_activation("sin(7)").expr == sympy.sin(7 * symm.x)
    assert symm.derive("sin", omega=7).group == Group.SIGN


def test_derive_is_cached_and_accepts_every_spec_form():
    by_name = symm.derive("softsign")
    assert symm.derive("x/(1+Abs(x))") is by_name
    assert symm.derive(symm.x / (1 + sympy.Abs(symm.x))) is by_name
    assert symm.derive(symm.get_activation("softsign")) is by_name
    assert symm.get_activation("softsign").symmetry is by_name


def test_activation_is_hashable_and_static():
    relu = symm.get_activation("relu")
    assert relu == symm.get_activation("relu") and hash(relu) == hash(symm.get_activation("relu"))
    assert relu != symm.get_activation("tanh")

    class Layer(eqx.Module):
        activation: symm.Activation = eqx.field(static=True)

        def __call__(self, z):
            return self.activation(z)

    out = eqx.filter_jit(Layer(relu))(jnp.array([-1.0, 2.0]))
    assert np.array_equal(np.asarray(out), [0.0, 2.0])


def test_register_activation(monkeypatch):
    # A private copy of the registry: other tests in this worker (the committed certificates
    # cover every registered activation) must not see this one.
    monkeypatch.setattr(symm._activation, "_REGISTRY", dict(symm._activation._REGISTRY))
    name = "scaled_tanh_for_registry_test"
    symm.register_activation(name, "2*tanh(x/2)")
    assert name in symm.registry_names()
    symmetry = symm.derive(name)
    assert (symmetry.group, symmetry.phi) == (Group.SIGN, a)
    with pytest.raises(symm.DeriveError, match="already registered"):
        symm.register_activation(name, "x")
    with pytest.raises(symm.DeriveError, match="identifier"):
        symm.register_activation("not a name", "x")


# ------------------------------------------------------------- jax fn vs expression

_POINTS = sorted(
    {0.0, *(s * v for s in (1.0, -1.0) for v in (1e-300, 1e-12, 1e-8, 1e-5, 1e-3, 0.01, 0.1, 0.37, 0.5, 1.0, 1.5, 2.0, 3.3, 7.0, 20.0))}
)


def _exact(expr, value: float) -> float:
    return float(expr.subs(symm.x, sympy.Rational(value)).evalf(40, maxn=1200))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_jax_function_matches_expression(name):
    activation = symm.get_activation(name)
    got = np.asarray(jax.jit(activation.fn)(jnp.asarray(_POINTS, dtype=jnp.float64)))
    exact = np.array([_exact(activation.expr, p) for p in _POINTS])
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, exact, rtol=1e-10, atol=1e-300)


def test_jax_function_comparison_detects_a_wrong_function():
    """The check above fails for a hand-written function that is subtly wrong."""
    wrong = lambda z: jax.nn.gelu(z, approximate=True)  # noqa: E731  tanh approximation, not the erf form
    exact = np.array([_exact(symm.get_activation("gelu").expr, p) for p in _POINTS])
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(np.asarray(wrong(jnp.asarray(_POINTS))), exact, rtol=1e-10, atol=1e-300)


def test_float32_inputs_stay_float32():
    for name in ("relu", "gaussian", "gelu", "signed_square"):
        out = symm.get_activation(name).fn(jnp.ones(3, dtype=jnp.float32))
        assert out.dtype == jnp.float32



def test_custom_activation_example(capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "custom_activation.py"
    spec = importlib.util.spec_from_file_location("custom_activation_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    main = module.main

    symmetry = main("3*tanh(x/2) + 1", name="example_shifted_tanh")
    assert (symmetry.group, symmetry.phi) == (Group.SIGN, a)
    assert sympy.expand(symmetry.offset - (1 - a)) == 0
    out = capsys.readouterr().out
    assert "symmetry group: sign" in out
    assert float(out.rsplit("=", 1)[1]) <= 1e-12
