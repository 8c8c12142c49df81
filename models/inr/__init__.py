"""Implicit neural representations: SIREN and friends, Neural Experts, STRAINER."""

from models.inr._siren import siren_apply, siren_init

__all__ = ["siren_apply", "siren_init"]
