"""Register a new activation in one line, derive its symmetry and print the proof.

    .venv/bin/python examples/custom_activation.py "x**3 + x"
"""

from __future__ import annotations

import argparse

import jax.numpy as jnp

import symm


def main(expression: str = "2*tanh(x/2) + 1", name: str = "shifted_tanh") -> symm.ActivationSymmetry:
    if name not in symm.registry_names():
        symm.register_activation(name, expression)  # the one line that adds an activation
    activation = symm.get_activation(name)
    symmetry = symm.derive(name)
    print(symmetry.certificate)
    symmetry.certificate.check()

    # The symmetry in action: rescale the pre-activation by a scale from the group.
    scale = {symm.Group.TRIVIAL: 1.0, symm.Group.SIGN: -1.0, symm.Group.POSITIVE: 2.5, symm.Group.NONZERO: -2.5}[symmetry.group]
    z = jnp.linspace(-3.0, 3.0, 7)
    q = jnp.asarray(scale)
    gap = activation.fn(q * z) - (symmetry.phi_fn(q) * activation.fn(z) + symmetry.offset_fn(q))
    print(f"\nscale a = {scale}: max |σ(a·z) − φ(a)σ(z) − c(a)| = {float(jnp.max(jnp.abs(gap))):.2e}")
    return symmetry


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("expression", nargs="?", default="2*tanh(x/2) + 1")
    parser.add_argument("--name", default="my_activation")
    arguments = parser.parse_args()
    main(arguments.expression, arguments.name)
