"""Thresholds such as ``"< 0.001"``, ``"> 3"``, ``"> 1.5x baseline"`` or ``"> baseline + 0.01"``.

Used by Prometheus criteria (``expect``) and guards (``breach``). A threshold is
a comparator and a number, or a number relative to the *baseline*: the same
query's average before go-live, measured during the launch. A relative
threshold has no limit until its baseline is known, so ``holds`` answers
``None`` (inconclusive) without one, as it does for NaN: callers must never
read either as a pass.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable

from runbook.values import value

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_OP = r"(<=|>=|==|!=|<|>)"
_NUMBER = r"([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)"
_ABSOLUTE = re.compile(rf"^\s*{_OP}\s*{_NUMBER}\s*$")
_FACTOR = re.compile(rf"^\s*{_OP}\s*{_NUMBER}\s*(?:x|X|×|\*)\s*baseline\s*$")
_OFFSET = re.compile(
    rf"^\s*{_OP}\s*baseline\s*(?:([-+])\s*((?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?))?\s*$"
)

FACTOR = "x"  # limit = number × baseline
OFFSET = "+"  # limit = baseline + number

HINT = (
    "use a comparator and a number, e.g. '< 0.001' or '> 3', or one relative to the baseline, "
    "e.g. '> 1.5x baseline' or '> baseline + 0.01' (comparators: < <= > >= == !=)"
)


@value
class Comparison:
    """A comparator applied to an observed value: ``value <op> limit``.

    ``relative`` is None for a fixed ``threshold`` (the limit itself), ``"x"`` when
    the limit is ``threshold × baseline`` and ``"+"`` when it is ``baseline + threshold``.
    """

    op: str
    threshold: float
    relative: str | None = None

    @property
    def multiplies(self) -> bool:
        """A limit that scales the baseline: a baseline of 0 leaves nothing to compare with."""
        return self.relative == FACTOR

    def limit(self, baseline: float | None = None) -> float | None:
        """The number an observed value is compared with; None while a needed baseline is unknown."""
        if self.relative is None:
            return self.threshold
        if baseline is None or not math.isfinite(baseline):
            return None
        if self.relative == FACTOR:
            return self.threshold * baseline
        return baseline + self.threshold

    def against(self, baseline: float | None) -> tuple[Comparison | None, str]:
        """The fixed comparison this one is, given the measured baseline; or (None, why not)."""
        if self.relative is None:
            return self, ""
        if baseline is None or math.isnan(baseline):
            return None, "no baseline"
        if math.isinf(baseline):
            return (
                None,
                f"the baseline is {baseline:g} (a division by zero?): no limit comes from it",
            )
        if self.multiplies and baseline == 0:
            return None, (
                f"the baseline is 0, so {self} compares with 0 whatever the factor; "
                "use a threshold such as '> baseline + 0.01'"
            )
        if self.multiplies and baseline < 0:
            return None, (
                f"the baseline is {baseline:g}: a factor of a negative baseline turns {self} "
                "around (the normal would be past its limit); use a threshold such as "
                "'> baseline + 0.01'"
            )
        return Comparison(self.op, self.limit(baseline)), ""

    def holds(self, value: float | None, baseline: float | None = None) -> bool | None:
        """Whether ``value`` satisfies the comparison; ``None`` when the value is NaN or the
        comparison needs a baseline it was not given (or one it cannot use)."""
        if value is None or math.isnan(value):
            return None
        fixed, _ = self.against(baseline)
        if fixed is None:
            return None
        return _OPERATORS[fixed.op](value, fixed.threshold)

    def describe(self, baseline: float | None = None) -> str:
        """As journaled and notified: ``> 1.5x baseline (baseline 0.2: limit 0.3)`` once measured."""
        limit = self.limit(baseline)
        if self.relative is None or baseline is None or limit is None:
            return str(self)
        return f"{self} (baseline {baseline:.4g}: limit {limit:.4g})"

    def words(self) -> str:
        """As a plan reads it: ``> 1.5 × baseline``."""
        return f"{self.op} {self.threshold:g} × baseline" if self.multiplies else str(self)

    def __str__(self) -> str:
        if self.relative is None:
            return f"{self.op} {self.threshold:g}"
        if self.multiplies:
            return f"{self.op} {self.threshold:g}x baseline"
        if self.threshold == 0:
            return f"{self.op} baseline"
        sign = "-" if self.threshold < 0 else "+"
        return f"{self.op} baseline {sign} {abs(self.threshold):g}"


def parse_comparison(text: object) -> Comparison:
    """Parse ``"< 0.001"``, ``"> 1.5x baseline"``, ``"> baseline + 0.01"``; raises ``ValueError``
    with a user-facing message."""
    if not isinstance(text, str):
        raise ValueError(f"expected a threshold string, got {text!r} ({HINT})")
    if match := _ABSOLUTE.match(text):
        op, number = match.groups()
        return Comparison(op, _finite(number, text))
    if match := _FACTOR.match(text):
        op, number = match.groups()
        factor = _finite(number, text)
        if factor <= 0:
            raise ValueError(
                f"threshold {text!r}: a factor of {factor:g} does not scale the baseline "
                "(use a positive factor, e.g. '> 1.5x baseline')"
            )
        return Comparison(op, factor, FACTOR)
    if match := _OFFSET.match(text):
        op, sign, number = match.groups()
        offset = _finite(number, text) if number else 0.0
        return Comparison(op, -offset if sign == "-" else offset, OFFSET)
    raise ValueError(f"invalid threshold {text!r} ({HINT})")


def _finite(number: str, text: str) -> float:
    value = float(number)
    if math.isinf(value):
        raise ValueError(f"threshold {text!r} is out of range")
    return value
