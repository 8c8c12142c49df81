"""``symm derive``: print a derived symmetry with its proof, or the registry table."""

from __future__ import annotations

from symm.cli import UserError

_HEADER = ("name", "σ(x)", "group", "φ(a)", "c(a)", "t ∈", "β", "γ")


def _short(expr) -> str:
    """Text of ``expr`` with long float constants (SELU's) cut to 8 digits."""
    import sympy

    return sympy.sstr(expr.xreplace({f: sympy.Float(f, 8) for f in expr.atoms(sympy.Float)}))


def registry_table(markdown: bool = False, names: list[str] | None = None) -> str:
    """Registered activations (default: all) with their derived group, φ and offset."""
    import sympy

    from symm._activation import get_activation, registry_names
    from symm._derive import derive

    rows = []
    for name in registry_names() if names is None else names:
        activation = get_activation(name)
        symmetry = derive(activation)
        shift = symmetry.translation
        rows.append(
            (name, _short(activation.expr), symmetry.group, _short(symmetry.phi), _short(symmetry.offset),
             shift.group_text, _short(shift.beta), _short(shift.gamma))
        )
    if markdown:
        lines = ["| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
        for name, expr, group, phi, offset, shifts, beta, gamma in rows:
            lines.append(f"| {name} | `{expr}` | {group} | `{phi}` | `{offset}` | {shifts} | `{beta}` | `{gamma}` |")
        return "\n".join(lines)
    widths = [max(len(row[i]) for row in [_HEADER, *rows]) for i in range(len(_HEADER))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [_HEADER, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _run(args) -> int:
    from symm._symbols import DeriveError

    if args.all == (args.activation is not None):
        raise UserError("give one activation, e.g. symm derive 'tanh(x)', or --all for the registry table")
    if args.markdown and not args.all:
        raise UserError("--markdown applies to the --all table only")
    if args.all:
        print(registry_table(markdown=args.markdown))
        return 0
    from symm._activation import get_activation

    try:
        activation = get_activation(args.activation)
        symmetry = activation.symmetry
    except DeriveError as error:
        raise UserError(str(error)) from error
    import sympy

    for label, value in (
        ("activation", activation.name),
        ("group", symmetry.group),
        ("phi(a)", sympy.sstr(symmetry.phi)),
        ("offset c(a)", sympy.sstr(symmetry.offset)),
        ("translation", str(symmetry.translation).removeprefix("translations ")),
    ):
        print(f"{label + ':':13s}{value}")
    print()
    print(symmetry.certificate)
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "derive",
        help="derive and prove the scaling symmetry of an activation",
        description="Derive the largest group of scalings a with σ(a·x) = φ(a)·σ(x) + c(a), with its proof.",
    )
    parser.add_argument("activation", nargs="?", help="registry name or expression, e.g. relu, 'tanh(x)', 'x/(1+Abs(x))'")
    parser.add_argument("--all", action="store_true", help="print the table of every registered activation")
    parser.add_argument("--markdown", action="store_true", help="with --all: print the table as Markdown")
    parser.set_defaults(func=_run)
