"""Representation types of feature channels.

A channel on a vertex scales by a character of that vertex's group; a channel on an
edge scales by a product of characters of two vertices' groups. ``StreamType`` keeps
those factors and answers the only two questions the layer generator asks: can the
channel's magnitude change (then normalise it) and can its sign flip (then
symmetrise it)?
"""

from __future__ import annotations

import dataclasses

from symm import Character

GROUPS = ("trivial", "sign", "positive", "nonzero")
_HAS_MAGNITUDE = {"positive", "nonzero"}
_HAS_SIGN = {"sign", "nonzero"}


def _restrict(group: str, c: Character) -> Character:
    """The character as seen by ``group`` (trivial parts dropped)."""
    s = c.s if group in _HAS_MAGNITUDE else 0
    eps = c.eps if group in _HAS_SIGN else 0
    return Character(s, eps)


@dataclasses.dataclass(frozen=True)
class StreamType:
    """A product of characters, one per independent group: ((group, character), ...)."""

    factors: tuple[tuple[str, Character], ...] = ()

    @classmethod
    def of(cls, group: str, character: Character) -> "StreamType":
        if group not in GROUPS:
            raise ValueError(f"unknown group {group!r}; expected one of {GROUPS}")
        return cls(((group, character),))._simplified()

    def _simplified(self) -> "StreamType":
        kept = tuple((g, _restrict(g, c)) for g, c in self.factors if not _restrict(g, c).is_trivial)
        return StreamType(kept)

    def __mul__(self, other: "StreamType") -> "StreamType":
        return StreamType(self.factors + other.factors)._simplified()

    def inverse(self) -> "StreamType":
        return StreamType(tuple((g, c.inverse()) for g, c in self.factors))

    @property
    def is_invariant(self) -> bool:
        return not self.factors

    @property
    def needs_norm(self) -> bool:
        """True if some group element changes the channel's magnitude."""
        return any(g in _HAS_MAGNITUDE and c.s != 0 for g, c in self.factors)

    @property
    def needs_sym(self) -> bool:
        """True if some group element flips the channel's sign."""
        return any(g in _HAS_SIGN and c.eps == 1 for g, c in self.factors)

    def __str__(self) -> str:
        if not self.factors:
            return "1"
        return "·".join(f"{c}[{g}]" for g, c in self.factors)


INVARIANT = StreamType()
