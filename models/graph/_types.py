"""Representation types of feature channels.

A channel on a vertex scales by a character of that vertex's group; a channel on an
edge scales by a product of characters of two vertices' groups. ``StreamType`` keeps
those factors, each already restricted to its group (``symm.Group.restrict``), and
answers the two questions the layer generator asks: can the channel's magnitude
change (then normalise it) and can its sign flip (then symmetrise it)?
"""

from __future__ import annotations

import dataclasses

from symm import Character, Group


@dataclasses.dataclass(frozen=True)
class StreamType:
    """A product of characters, one per independent group: ((group, character), ...)."""

    factors: tuple[tuple[Group, Character], ...] = ()

    @classmethod
    def of(cls, group: Group | str, character: Character) -> "StreamType":
        return cls(((Group.named(group), character),))._simplified()

    def _simplified(self) -> "StreamType":
        restricted = ((g, g.restrict(c)) for g, c in self.factors)
        return StreamType(tuple((g, c) for g, c in restricted if not c.is_trivial))

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
        return any(g.changes_magnitude(c) for g, c in self.factors)

    @property
    def needs_sym(self) -> bool:
        """True if some group element flips the channel's sign."""
        return any(g.flips_sign(c) for g, c in self.factors)

    def __str__(self) -> str:
        if not self.factors:
            return "1"
        return "·".join(f"{c}[{g}]" for g, c in self.factors)


INVARIANT = StreamType()
