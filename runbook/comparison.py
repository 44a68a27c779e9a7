"""Thresholds such as ``"< 0.001"`` or ``"> 3"``: a comparator and a number.

Used by Prometheus criteria (``expect``) and guards (``breach``). NaN compares
as *no answer*, never as a pass: ``holds`` returns ``None`` for it so callers
must treat the sample as inconclusive.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_PATTERN = re.compile(
    r"^\s*(<=|>=|==|!=|<|>)\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*$"
)

HINT = "use a comparator and a number, e.g. '< 0.001' or '> 3' (comparators: < <= > >= == !=)"


@dataclass(frozen=True)
class Comparison:
    """A comparator applied to an observed value: ``value <op> threshold``."""

    op: str
    threshold: float

    def holds(self, value: float) -> bool | None:
        """Whether ``value`` satisfies the comparison; ``None`` when the value is NaN."""
        if value is None or math.isnan(value):
            return None
        return _OPERATORS[self.op](value, self.threshold)

    def __str__(self) -> str:
        return f"{self.op} {self.threshold:g}"


def parse_comparison(text: object) -> Comparison:
    """Parse ``"< 0.001"``; raises ``ValueError`` with a user-facing message."""
    if not isinstance(text, str):
        raise ValueError(f"expected a threshold string, got {text!r} ({HINT})")
    match = _PATTERN.match(text)
    if not match:
        raise ValueError(f"invalid threshold {text!r} ({HINT})")
    op, number = match.groups()
    threshold = float(number)
    if math.isinf(threshold):
        raise ValueError(f"threshold {text!r} is out of range")
    return Comparison(op, threshold)
