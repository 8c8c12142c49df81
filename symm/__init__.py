"""symm: derive, prove and use the symmetries of neural-network weights."""

from symm._character import IDENTITY, TRIVIAL, Character, character_of

__version__ = "0.1.0"
