"""Verify derived symmetries numerically, and catch a function that only respects permutations.

    .venv/bin/python examples/verify_equivariance.py
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def main(sizes=(2, 16, 16, 1), activation="relu", n: int = 64, n_inputs: int = 32, seed: int = 0) -> dict:
    jax.config.update("jax_enable_x64", True)
    import symm

    space = symm.WeightSpace.mlp(sizes, activation)
    key = jax.random.key(seed)
    params = space.init(key, dtype=jnp.float64)
    xs = jax.random.uniform(jax.random.fold_in(key, 1), (n_inputs, sizes[0]), jnp.float64, -1.0, 1.0)
    print(space, "| group per hidden layer:", space.groups)

    # 1. The derived group preserves the network's function.
    preserved = symm.check_function_preserved(space, params, jax.random.fold_in(key, 2), xs, n=n)
    print(preserved, end="\n\n")

    # 2. A function of the weights that is invariant: the network's outputs on fixed inputs.
    def outputs(p):
        return jax.vmap(space.apply, in_axes=(None, 0))(p, xs)

    invariant = symm.check_equivariance(outputs, space, jax.random.fold_in(key, 3), params=params, n=n)
    print(invariant, end="\n\n")

    # 3. A planted bug: summing |W| over hidden rows respects permutations but not scalings.
    def row_norms(p):
        return sum(jnp.sum(jnp.abs(w)) for w, _ in p[:-1])

    planted = symm.check_equivariance(row_norms, space, jax.random.fold_in(key, 3), params=params, n=n)
    print(planted)
    return {"preserved": preserved, "invariant": invariant, "planted": planted}


if __name__ == "__main__":
    main()
