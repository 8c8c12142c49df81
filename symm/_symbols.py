"""The canonical sympy symbols and the error type of the symbolic layer.

Every activation is an expression in ``x`` and every symmetry a function of the
scale ``a``; fixing the two symbols once lets expressions from different places
be compared and cached.
"""

from __future__ import annotations

import sympy

x = sympy.Symbol("x", real=True)
a = sympy.Symbol("a", real=True)


class DeriveError(ValueError):
    """Bad input to the activation registry or to ``symm.derive`` (one clear line)."""
