"""``symm simulate``: run the constructed ScaleGMN on a random network and print per-layer errors."""

from __future__ import annotations

from symm.cli import UserError


def _sizes(text: str, flag: str = "--layers", example: str = "2,16,16,1", minimum: int = 2) -> tuple[int, ...]:
    try:
        sizes = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise UserError(f"{flag} must be comma-separated integers like {example}; got {text!r}") from None
    if len(sizes) < minimum or min(sizes) < 1:
        what = "at least an input and an output size" if minimum == 2 else f"at least {minimum} size(s)"
        raise UserError(f"{flag} needs {what}, all >= 1; got {text!r}")
    return sizes


def _image(text: str) -> tuple[int, int]:
    try:
        hw = tuple(int(s) for s in text.lower().split("x"))
    except ValueError:
        hw = ()
    if len(hw) == 1:
        hw = hw * 2
    if len(hw) != 2 or min(hw) < 1:
        raise UserError(f"--image must be a positive size like 6 or 6x8 (H x W); got {text!r}")
    return hw


def simulation_table(activation, sizes, *, backward: bool, n_probes: int = 16, seed: int = 0, float32: bool = False,
                     conv: tuple[int, ...] | None = None, kernel: int = 3, image: tuple[int, int] = (6, 6)) -> str:
    """The per-layer relative errors of the simulation against direct evaluation and ``jax.grad``.

    ``conv=None``: an MLP of layer ``sizes``. Otherwise a CNN: convolutions with channels ``conv``
    (``kernel``×``kernel``, same padding), global average pooling, dense layers ``sizes`` (forward only).
    """
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    import symm

    import proofs

    dtype = jnp.float32 if float32 else jnp.float64
    if conv is None:
        space = symm.WeightSpace.mlp(sizes, activation)
        all_sizes, kinds, probe_shape = tuple(sizes), ["dense"] * (len(sizes) - 1), (sizes[0],)
    else:
        space = symm.WeightSpace.cnn(conv, sizes, kernel_size=kernel, activations=activation)
        all_sizes = tuple(conv) + tuple(sizes)
        kinds = [f"conv {kernel}x{kernel}"] * (len(conv) - 1) + ["pool+dense"] + ["dense"] * (len(sizes) - 1)
        probe_shape = (conv[0],) + tuple(image)
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    params = space.init(k1, dtype=dtype)
    xs = jax.random.normal(k2, (n_probes,) + probe_shape, dtype)
    ys = jax.random.normal(k3, (n_probes, all_sizes[-1]), dtype)

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
    L = len(all_sizes) - 1
    steps = 2 * L if backward else L
    cnn = conv is not None  # a CNN's table names each layer's kind
    head = ["layer", "channels/neurons" if cnn else "neurons"] + (["kind"] if cnn else []) + ["h (post-activation)"]
    head += ["δ = ∂L/∂z", "∂L/∂W", "∂L/∂b"] if backward else []
    rows = []
    for l in range(L + 1):
        row = [str(l) + (" (input)" if l == 0 else " (output)" if l == L else ""), str(all_sizes[l])]
        row += (["input" if l == 0 else kinds[l - 1]] if cnn else []) + [f"{float(errs[0][l]):.2e}"]
        if backward:
            row.append(f"{float(errs[1][l]):.2e}" + (" (∂L/∂x)" if l == 0 else ""))
            row += ["-", "-"] if l == 0 else [f"{float(errs[2][l - 1][0]):.2e}", f"{float(errs[2][l - 1][1]):.2e}"]
        rows.append(row)
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    if conv is None:
        net = f"{'-'.join(map(str, all_sizes))} {symm.get_activation(activation).name} MLP"
    else:
        net = (f"CNN (conv {'-'.join(map(str, conv))}, {kernel}x{kernel} kernels, pool, dense "
               f"{'-'.join(map(str, sizes))}, {symm.get_activation(activation).name}) on {image[0]}x{image[1]} images")
    title = (f"{'bidirectional' if backward else 'forward'} simulation of a random {net}, {n_probes} probes, "
             f"{steps} message-passing steps, {jnp.dtype(dtype).name}; max relative error per layer")
    return "\n".join([title, fmt(head), "  ".join("-" * w for w in widths), *map(fmt, rows)])


def _run(args) -> int:
    import jax

    import symm

    if not args.float32:
        jax.config.update("jax_enable_x64", True)
    conv = None
    if args.conv is not None:
        conv = _sizes(args.conv, "--conv", "1,4,4", minimum=2)
        sizes = _sizes(args.layers or "1", "--layers (the dense layers after pooling)", "8,1", minimum=1)
        if args.backward:
            raise UserError("--backward supports MLPs only; the CNN simulation is forward (drop --backward)")
        if args.kernel < 1:
            raise UserError(f"--kernel must be >= 1, got {args.kernel}")
    else:
        sizes = _sizes(args.layers or "2,16,16,1")
    try:
        act = symm.get_activation(args.activation)
    except Exception as error:  # noqa: BLE001 - the registry's own message names the problem
        raise UserError(str(error).splitlines()[0]) from None
    if not symm.derive(act).is_linear:
        raise UserError(f"{act.name} has an affine symmetry; the simulation theorem needs a linear group")
    # the CNN construction's width grows as probes · pixels · (1 + k²): few probes by default
    probes = args.probes if args.probes is not None else (16 if conv is None else 2)
    if probes < 1:
        raise UserError(f"--probes must be >= 1, got {probes}")
    print(simulation_table(act, sizes, backward=args.backward, n_probes=probes, seed=args.seed,
                           float32=args.float32, conv=conv, kernel=args.kernel, image=_image(args.image)))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="run the constructed ScaleGMN that simulates a network's forward (or backward) pass",
        description="Build the ScaleGMN of the simulation theorem for a random MLP (or, with --conv, a CNN) and "
        "print the per-layer relative errors of its vertex states against the network's own activations (and, "
        "with --backward, against jax.grad).",
    )
    p.add_argument("--activation", default="tanh", help="registry activation or expression (default tanh)")
    p.add_argument("--layers", default=None,
                   help="layer sizes, comma-separated (default 2,16,16,1); with --conv, the dense layers after "
                   "global average pooling (default 1)")
    p.add_argument("--conv", default=None,
                   help="simulate a CNN: convolution channels, comma-separated, input channels first (e.g. 1,4,4)")
    p.add_argument("--kernel", type=int, default=3, help="with --conv: kernel size (default 3)")
    p.add_argument("--image", default="6", help="with --conv: probe image size, H or HxW (default 6)")
    p.add_argument("--backward", action="store_true", help="bidirectional model: ∂L/∂z per neuron and ∂L/∂W")
    p.add_argument("--probes", type=int, default=None,
                   help="number of random probe inputs (default 16; 2 with --conv)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--float32", action="store_true", help="run in float32 (default float64)")
    p.set_defaults(func=_run)
