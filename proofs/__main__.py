"""``python -m proofs``: regenerate the symbolic certificates under proofs/certificates/."""

import argparse
import pathlib
import sys

DEFAULT_DIRECTORY = pathlib.Path(__file__).parent / "certificates"


def build_parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(
        prog="python -m proofs",
        description="Regenerate the symbolic certificates of the simulation theorem: for 1-2-1, 2-3-1 and 2-2-2-1 "
        "MLPs with a generic activation, and one per linear-group activation, every simulated state minus the "
        "network's own expression simplifies to exactly 0. Takes minutes.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_DIRECTORY,
                        help="folder the certificates are written to")
    args = parser.parse_args(argv)  # --help and bad arguments stop here, before any work
    if args.out.exists() and not args.out.is_dir():
        parser.exit(2, f"python -m proofs: error: --out {args.out} is a file; give a folder\n")

    import jax

    jax.config.update("jax_enable_x64", True)
    from proofs._symbolic import write_certificates

    names = write_certificates(args.out)
    print(f"wrote {len(names)} certificates to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
