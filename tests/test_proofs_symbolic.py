"""The sympy mirror of the update rules stays in sync with the jax model; certificates are current."""

import pathlib

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import symm
import proofs
from proofs._construct import construct, probe_graph
from proofs._symbolic import (
    ACTIVATION_SIZES,
    THEOREM_SIZES,
    certificates,
    certified_activations,
    mirror_graph,
    mirror_run,
    prove,
)

CERTS = pathlib.Path(proofs.__file__).parent / "certificates"


@pytest.mark.parametrize("bidirectional", [False, True])
def test_numeric_mirror_equals_the_jax_model(bidirectional):
    space = symm.WeightSpace.mlp((2, 3, 2), "tanh")
    k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
    params = space.init(k1)
    xs, ys = jax.random.normal(k2, (2, 2)), jax.random.normal(k3, (2, 2))
    coeffs = proofs.loss_coefficients(None, 2, 2) if bidirectional else None
    model = construct(space, 2, loss=coeffs)
    state = eqx.filter_jit(model)(probe_graph(space, params, xs, ys))
    npp = [(np.asarray(w), np.asarray(b)) for w, b in params]
    vertices, edges = mirror_graph(space.layer_sizes, npp, np.asarray(xs), np.asarray(ys))
    act = space.activations[0].fn
    sigma = lambda l, t: np.asarray(act(jnp.asarray(t)))  # noqa: E731
    dsigma = lambda l, t: np.asarray(jax.vmap(jax.grad(act))(jnp.asarray(t).ravel())).reshape(t.shape)  # noqa: E731
    mirror = mirror_run(model, vertices, edges, sigma, dsigma, exact=False)
    pairs = list(zip(mirror.x, state.x)) + list(zip(mirror.h, state.h)) + list(zip(mirror.edges, state.edges))
    if bidirectional:
        pairs += list(zip(mirror.delta, state.delta))
    for m, s in pairs:
        np.testing.assert_allclose(m, np.asarray(s), rtol=1e-12, atol=1e-13)


def test_symbolic_check_fails_for_a_wrong_construction():
    """The same symbolic comparison with σ' replaced by 1 leaves a nonzero difference."""
    import sympy

    inst = prove((1, 1, 1), "tanh")
    assert inst.proved
    sym = {n: sympy.Symbol(n, real=True) for n in ("x0", "y0", "w1_00", "b1_0", "w2_00", "b2_0")}
    params = [
        (np.array([[sym["w1_00"]]], dtype=object), np.array([sym["b1_0"]], dtype=object)),
        (np.array([[sym["w2_00"]]], dtype=object), np.array([sym["b2_0"]], dtype=object)),
    ]
    xs, ys = np.array([[sym["x0"]]], dtype=object), np.array([[sym["y0"]]], dtype=object)
    vertices, edges = mirror_graph((1, 1, 1), params, xs, ys)
    model = construct(symm.WeightSpace.mlp((1, 1, 1), "tanh"), 1, loss=proofs.loss_coefficients(None, 1, 1))
    tanh = np.vectorize(sympy.tanh, otypes=[object])
    one = np.vectorize(lambda t: sympy.Integer(1), otypes=[object])
    wrong = mirror_run(model, vertices, edges, lambda l, t: tanh(t), lambda l, t: one(t), exact=True)
    (_, right_sim, net, diff), = [r for r in inst.rows if r[0].startswith("backward δ[1][0]")]
    assert diff == 0
    assert sympy.simplify(wrong.delta[1][0, 0] - net) != 0


def test_committed_certificates_cover_every_instance_and_are_proved():
    expected = {f"theorem_{'-'.join(map(str, s))}.txt" for s in THEOREM_SIZES}
    expected |= {f"activation_{n}.txt" for n in certified_activations()}
    assert {p.name for p in CERTS.glob("*.txt")} == expected
    for p in CERTS.glob("*.txt"):
        text = p.read_text(encoding="utf-8")
        assert "Result: PROVED" in text and "NOT PROVED" not in text, p.name


def test_theorem_certificates_are_up_to_date():
    for name, text in certificates([], THEOREM_SIZES).items():
        assert (CERTS / name).read_text(encoding="utf-8") == text, f"{name} is stale: run python -m proofs"


@pytest.mark.parametrize("act", ["relu", "tanh", "cube"])
def test_some_activation_certificates_are_up_to_date(act):
    (name, text), = certificates([act], ()).items()
    assert (CERTS / name).read_text(encoding="utf-8") == text, f"{name} is stale: run python -m proofs"


@pytest.mark.slow
def test_all_activation_certificates_are_up_to_date():
    for name, text in certificates(None, ()).items():
        assert (CERTS / name).read_text(encoding="utf-8") == text, f"{name} is stale: run python -m proofs"
