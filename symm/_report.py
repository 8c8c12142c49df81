"""The result of a symmetry check: printable, comparable to a tolerance, JSON round-trip."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from symm._group_element import GroupElement


@dataclasses.dataclass(frozen=True, eq=False)
class VerificationReport:
    """Errors of a symmetry check over a batch of group elements.

    ``max_rel_error`` / ``mean_rel_error`` are over elements of the per-element error
    (see the checking function's docstring for its exact definition); ``passed`` compares
    ``max_rel_error`` with ``tolerance``. ``worst_element`` is the element that produced
    the largest error (index ``worst_index`` in the batch), so a failure can be replayed.
    ``reason`` is set when the check fails for a reason other than its error (for example a
    function that does not depend on its weights; ``weight_sensitivity`` is then how far
    its output moved on probe networks), and ``passed`` is then False.
    """

    check: str
    space: str
    dtype: str
    n_elements: int
    max_rel_error: float
    mean_rel_error: float
    max_abs_error: float
    tolerance: float
    worst_index: int
    worst_element: GroupElement | None
    worst_part: str | None = None
    worst_input_index: int | None = None
    worst_input: Any = None
    weight_sensitivity: float | None = None
    reason: str | None = None

    @property
    def passed(self) -> bool:
        return self.reason is None and bool(self.max_rel_error <= self.tolerance)

    def __bool__(self) -> bool:
        return self.passed

    def __eq__(self, other: object) -> bool:  # by value; the element holds arrays
        return isinstance(other, VerificationReport) and self.to_dict() == other.to_dict()

    __hash__ = None

    def __str__(self) -> str:
        verdict = "PASSED" if self.passed else "FAILED"
        lines = [
            f"{self.check} check {verdict} on {self.space} ({self.dtype}, {self.n_elements} group elements)",
            f"  max relative error  {self.max_rel_error:.3e}  (tolerance {self.tolerance:.1e})",
            f"  mean relative error {self.mean_rel_error:.3e}",
            f"  max absolute error  {self.max_abs_error:.3e}",
        ]
        if self.reason is not None:
            lines.insert(1, f"  reason: {self.reason}")
        if self.weight_sensitivity is not None:
            lines.append(f"  output change on probe networks {self.weight_sensitivity:.3e}  (must exceed the tolerance)")
        where = f"  worst element #{self.worst_index}"
        if self.worst_part is not None:
            where += f", in {self.worst_part}"
        if self.worst_input_index is not None:
            where += f", on input #{self.worst_input_index}"
        lines.append(where + ":")
        lines.append(str(self.worst_element) if self.worst_element is not None else "  (none)")
        if self.worst_input is not None:
            text = json.dumps(self.worst_input)
            lines.append("  worst input: " + (text if len(text) <= 200 else text[:200] + " …"))
        return "\n".join(lines)

    def to_dict(self) -> dict:
        data = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        data["worst_element"] = None if self.worst_element is None else self.worst_element.to_dict()
        data["passed"] = self.passed
        return data

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, data: dict) -> "VerificationReport":
        data = dict(data)
        data.pop("passed", None)
        element = data.get("worst_element")
        if element is not None:
            data["worst_element"] = GroupElement.from_dict(element, dtype=data["dtype"])
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> "VerificationReport":
        return cls.from_dict(json.loads(text))
