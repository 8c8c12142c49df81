"""``python -m proofs``: regenerate the symbolic certificates under proofs/certificates/."""

import pathlib
import sys

import jax

jax.config.update("jax_enable_x64", True)

from proofs._symbolic import write_certificates  # noqa: E402


def main() -> int:
    directory = pathlib.Path(__file__).parent / "certificates"
    names = write_certificates(directory)
    print(f"wrote {len(names)} certificates to {directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
