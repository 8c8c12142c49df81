"""The `symm` command line.

Sub-commands are plug-ins registered under the ``symm.commands`` entry-point group,
so that ``symm`` itself never imports ``models`` or ``proofs`` (dependencies point one
way). Each plug-in is a ``register(subparsers)`` function that adds one sub-parser and
sets ``func`` on it; ``func(args)`` returns an exit code.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points


class UserError(Exception):
    """A problem with the user's input: printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="symm",
        description="Derive, prove and use the symmetries of neural-network weights.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for entry in sorted(entry_points(group="symm.commands"), key=lambda e: e.name):
        try:
            register = entry.load()
        except ModuleNotFoundError as error:
            # A plug-in whose package is not installed is simply absent.
            if error.name and entry.value.split(":")[0].startswith(error.name):
                continue
            raise
        register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as error:
        print(f"symm {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"symm {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
