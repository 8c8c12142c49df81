"""``symm simulate``: run the constructed ScaleGMN on a random network and print per-layer errors."""

from __future__ import annotations

from symm.cli import UserError


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise UserError(f"--layers must be comma-separated integers like 2,16,16,1; got {text!r}") from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise UserError(f"--layers needs at least an input and an output size, all >= 1; got {text!r}")
    return sizes


def simulation_table(activation, sizes, *, backward: bool, n_probes: int = 16, seed: int = 0, float32: bool = False
                     ) -> str:
    """The per-layer relative errors of the simulation against direct evaluation and ``jax.grad``."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    import symm

    import proofs

    dtype = jnp.float32 if float32 else jnp.float64
    space = symm.WeightSpace.mlp(sizes, activation)
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    params = space.init(k1, dtype=dtype)
    xs = jax.random.normal(k2, (n_probes, sizes[0]), dtype)
    ys = jax.random.normal(k3, (n_probes, sizes[-1]), dtype)

    @eqx.filter_jit
    def errors(params, xs, ys):
        if backward:
            sim = proofs.simulate_backward(space, params, xs, targets=ys)
            ref = proofs.reference_backward(space, params, xs, targets=ys)
            return (proofs.layer_errors(sim.forward, ref.forward), proofs.layer_errors(sim.deltas, ref.deltas),
                    proofs.grad_errors(sim.grads, ref.grads))
        sim = proofs.simulate_forward(space, params, xs)
        return (proofs.layer_errors(sim, proofs.reference_forward(space, params, xs)),)

    errs = errors(params, xs, ys)
    L = len(sizes) - 1
    steps = 2 * L if backward else L
    head = ["layer", "neurons", "h (post-activation)"] + (["δ = ∂L/∂z", "∂L/∂W", "∂L/∂b"] if backward else [])
    rows = []
    for l in range(L + 1):
        row = [str(l) + (" (input)" if l == 0 else " (output)" if l == L else ""), str(sizes[l]),
               f"{float(errs[0][l]):.2e}"]
        if backward:
            row.append(f"{float(errs[1][l]):.2e}" + (" (∂L/∂x)" if l == 0 else ""))
            row += ["-", "-"] if l == 0 else [f"{float(errs[2][l - 1][0]):.2e}", f"{float(errs[2][l - 1][1]):.2e}"]
        rows.append(row)
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    title = (f"{'bidirectional' if backward else 'forward'} simulation of a random {'-'.join(map(str, sizes))} "
             f"{symm.get_activation(activation).name} MLP, {n_probes} probes, {steps} message-passing steps, "
             f"{jnp.dtype(dtype).name}; max relative error per layer")
    return "\n".join([title, fmt(head), "  ".join("-" * w for w in widths), *map(fmt, rows)])


def _run(args) -> int:
    import jax

    import symm

    if not args.float32:
        jax.config.update("jax_enable_x64", True)
    sizes = _sizes(args.layers)
    try:
        act = symm.get_activation(args.activation)
    except Exception as error:  # noqa: BLE001 - the registry's own message names the problem
        raise UserError(str(error).splitlines()[0]) from None
    if not symm.derive(act).is_linear:
        raise UserError(f"{act.name} has an affine symmetry; the simulation theorem needs a linear group")
    if args.probes < 1:
        raise UserError(f"--probes must be >= 1, got {args.probes}")
    print(simulation_table(act, sizes, backward=args.backward, n_probes=args.probes, seed=args.seed,
                           float32=args.float32))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="run the constructed ScaleGMN that simulates a network's forward (or backward) pass",
        description="Build the ScaleGMN of the simulation theorem for a random MLP and print the per-layer "
        "relative errors of its vertex states against the network's own activations (and, with --backward, "
        "against jax.grad).",
    )
    p.add_argument("--activation", default="tanh", help="registry activation or expression (default tanh)")
    p.add_argument("--layers", default="2,16,16,1", help="layer sizes, comma-separated (default 2,16,16,1)")
    p.add_argument("--backward", action="store_true", help="bidirectional model: ∂L/∂z per neuron and ∂L/∂W")
    p.add_argument("--probes", type=int, default=16, help="number of random probe inputs (default 16)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--float32", action="store_true", help="run in float32 (default float64)")
    p.set_defaults(func=_run)
