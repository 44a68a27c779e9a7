"""A baseline: a query's average over a past range, read with one ``query_range``.

What a relative threshold (``"> 1.5x baseline"``) compares with: the service's
own behaviour before go-live. The range is evaluated at up to ``MAX_POINTS``
evenly spaced moments (never closer than a second: no scrape is faster), and
the points with a value are averaged. No point with a value is no baseline,
with the reason why, never a number that could pass for one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from steps.deadline import Deadline
from steps.http import HttpSession
from steps.prometheus import range_query

Point = tuple[datetime, float | None, str]
MAX_POINTS = 120
MIN_STEP_SECONDS = 1.0


@dataclass(frozen=True)
class Baseline:
    """A measured baseline: ``value`` (None: none, ``reason`` says why), how many points it
    averages, the range it covers (wall-clock moments) and how long the fetch took."""

    value: float | None
    reason: str = ""
    points: int = 0
    start: datetime | None = None
    end: datetime | None = None
    fetch_s: float = 0.0
    readings: tuple[Point, ...] = field(default=(), repr=False, compare=False)  # what was read


def range_step(start: datetime, end: datetime) -> float:
    """Seconds between the evaluated points: ``MAX_POINTS`` over the range, at least a second."""
    return max((end - start).total_seconds() / MAX_POINTS, MIN_STEP_SECONDS)


def measure_baseline(
    session: HttpSession,
    base_url: str,
    query: str,
    start: datetime,
    end: datetime,
    deadline: Deadline,
) -> Baseline:
    """The average of ``query`` from ``start`` to ``end`` (wall clock), within ``deadline``."""
    began = time.monotonic()
    reading = range_query(
        session,
        base_url,
        query,
        start=start,
        end=end,
        step_seconds=range_step(start, end),
        deadline=deadline,
    )
    took = round(time.monotonic() - began, 3)
    if reading.points is None:
        return Baseline(None, reading.problem, 0, start, end, took)
    return from_points(reading.points, start, end, took)


def from_points(
    points: Sequence[Point], start: datetime, end: datetime, fetch_s: float = 0.0
) -> Baseline:
    """The baseline of points already read (a range answer, a saved series): their mean."""
    # A point at +-Inf (a division by zero in the window) would make the average, and every
    # limit drawn from it, infinite: it is left out like a NaN.
    values = [value for _, value, _ in points if value is not None and math.isfinite(value)]
    readings = tuple(points)
    if not values:
        why = next((reason for _, _, reason in points if reason), "")
        if not why and points:
            why = "every value is infinite"
        reason = "no data in the range" + (f" ({why})" if why else "")
        return Baseline(None, reason, 0, start, end, fetch_s, readings)
    return Baseline(sum(values) / len(values), "", len(values), start, end, fetch_s, readings)
