"""How fast a guard can notice trouble, and the query shapes that make it slow or blind.

Worst case, a breach that starts now shows in a guard's decision only after
the next scrape (scrape interval), after the query's range window has filled
with it (a ``rate(...[5m])`` needs most of 5 minutes to follow a step), after
the samples ``for`` needs (``every`` each), and after the query itself
(its ``timeout``). A guard whose time to detect eats half its window mostly
watches history. Pure: ``validate``, ``plan`` and ``preflight`` print these.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta

from runbook.durations import format_duration, parse_duration
from runbook.model import Guard
from runbook.values import value

DEFAULT_SCRAPE = timedelta(minutes=1)  # Prometheus' own default when nothing else is known
_RANGE_FUNCTION = re.compile(r"\b(rate|irate|increase|delta|idelta|\w+_over_time)\s*\(")
_LONG_UNITS = {"w": timedelta(weeks=1), "y": timedelta(days=365)}  # PromQL's, not the runbook's
_RANGE = re.compile(r"\[\s*(\d+(?:ms|s|m|h|d|w|y))\s*(?::[^\]]*)?\]")


@value
class Detection:
    guard: Guard
    scrape: timedelta
    range_window: timedelta
    samples_needed: int
    time_to_detect: timedelta
    window: timedelta | None
    warnings: tuple[str, ...]

    def line(self, scrape_source: str) -> str:
        g = self.guard
        parts = [
            f"scrape {format_duration(self.scrape)} ({scrape_source})",
            f"range {format_duration(self.range_window)}",
            f"{self.samples_needed} x every {format_duration(g.every)}",
            f"evaluation {format_duration(g.timeout)}",
        ]
        return (
            f"guard {g.id}: worst-case time to detect {format_duration(self.time_to_detect)} "
            f"({' + '.join(parts)})"
        )


def ranges(query: str) -> list[timedelta]:
    """Every ``[5m]``-style range in a PromQL query (subquery ranges included)."""
    found = []
    for text in _RANGE.findall(query):
        number, unit = text[:-1], text[-1]
        if unit in _LONG_UNITS and number.isdigit():
            found.append(int(number) * _LONG_UNITS[unit])
            continue
        try:
            found.append(parse_duration(text))
        except ValueError:
            continue
    return found


def samples_for(guard: Guard) -> int:
    """Breaching samples in a row before ``for`` is satisfied (1 when ``for`` is 0)."""
    if guard.hold <= timedelta(0):
        return 1
    return math.ceil(guard.hold / guard.every) + 1


def analyse(guard: Guard, scrape: timedelta = DEFAULT_SCRAPE) -> Detection:
    found = ranges(guard.query)
    range_window = max(found) if found else timedelta(0)
    needed = samples_for(guard)
    ttd = scrape + range_window + guard.every * needed + guard.timeout
    span = guard.during[1] - guard.during[0] if guard.during else None
    warnings = []
    if span is not None and ttd > span / 2:
        warnings.append(
            f"guard {guard.id}: time to detect {format_duration(ttd)} is more than half its "
            f"window ({format_duration(span)}); it would notice a breach late or not at all"
        )
    if _RANGE_FUNCTION.search(guard.query):
        for short in sorted({r for r in found if r < scrape * 4}):
            warnings.append(
                f"guard {guard.id}: range [{format_duration(short)}] is shorter than 4x the scrape "
                f"interval ({format_duration(scrape * 4)}); rate()/increase() may see too few "
                "points and return nothing"
            )
    if can_be_empty_ratio(guard.query):
        warnings.append(
            f"guard {guard.id}: the ratio can return an empty result when its numerator has no "
            "series yet (no errors so far); that is inconclusive, not 0 - "
            "write the numerator as (... or vector(0))"
        )
    return Detection(guard, scrape, range_window, needed, ttd, span, tuple(warnings))


def can_be_empty_ratio(query: str) -> bool:
    """A division whose numerator selects by label (``code=~"5.."``) without ``or vector(...)``.

    When no series matches yet, the numerator is empty and so is the ratio.
    """
    if re.search(r"\bor\s+vector\s*\(", query):
        return False
    numerator, slash, _ = _top_level_split(query)
    return bool(slash) and bool(re.search(r"\{[^}]*[=!]~?\s*\"", numerator))


def _top_level_split(query: str) -> tuple[str, str, str]:
    """Split at the first ``/`` outside parentheses, brackets, braces and strings."""
    depth, quote = 0, ""
    for index, char in enumerate(query):
        if quote:
            quote = "" if char == quote and query[index - 1] != "\\" else quote
        elif char in "\"'`":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "/" and depth == 0:
            return query[:index], "/", query[index + 1 :]
    return query, "", ""
