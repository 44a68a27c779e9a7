"""A guard judged against history: the live decision code fed recorded samples, with no clock.

``replay_guard`` walks the guard's window at its ``every`` exactly as the
live watch does (first sample when the window opens, then one per ``every``
while it is open) and hands each sample to ``GuardState.observe``, the same
object the live ``GuardWatch`` uses, so ``for``, the inconclusive limit and
re-firing are decided by one piece of code. Where the samples come from
(a Prometheus range query, a saved answer, a launch's journal) is the
caller's business: it hands in a ``Series``.
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rollback.guards import GuardState, LaunchTimes, SampleStatus, Verdict, window
from runbook.comparison import Comparison
from runbook.model import Guard
from steps.baseline import Baseline

Point = tuple[datetime, float | None, str]
"""(when, value or None, why there is no value)."""

SLACK = timedelta(seconds=1)  # a recorded sample this much after the moment still counts for it


class Series:
    """Recorded points of one query, looked up as a guard sampling at a moment would see them.

    The value at ``t`` is the latest point at or before ``t`` (a point up to
    ``SLACK`` later counts too: a live sample is taken a little after it is
    due) that is younger than the series' own spacing. Points at exactly the
    sample times (a range query at the guard's ``every``) are read as they are;
    coarser or shifted ones (a journal, another ``every``) resample sensibly.
    ``until`` is where the history ends: later moments are not judged at all.
    """

    def __init__(
        self, points: Sequence[Point], until: datetime | None = None, problem: str = ""
    ) -> None:
        self.points = sorted(points, key=lambda point: point[0])
        self.times = [point[0] for point in self.points]
        self.until = until
        self.problem = problem  # why the whole series is unusable, if it is
        gaps = [b - a for a, b in zip(self.times, self.times[1:], strict=False) if b > a]
        self.spacing = statistics.median(gaps) if gaps else None

    def covers(self, moment: datetime) -> bool:
        return self.until is None or moment <= self.until

    def value_at(self, moment: datetime, every: timedelta) -> tuple[float | None, str]:
        if self.problem:
            return None, self.problem
        slack = min(SLACK, every / 2)
        index = bisect.bisect_right(self.times, moment + slack) - 1
        if index < 0:
            return None, "no data (empty result)"
        when, value, why = self.points[index]
        if moment - when >= (self.spacing or every):
            return None, "no data (empty result)"
        return value, why


@dataclass(frozen=True)
class ReplaySample:
    at: datetime
    value: float | None
    status: SampleStatus
    reason: str = ""


@dataclass(frozen=True)
class Stretch:
    """Consecutive inconclusive samples: from, to, how many, and the first reason."""

    start: datetime
    end: datetime
    count: int
    reason: str


@dataclass
class GuardReplay:
    """What one guard would have done: its samples, first breach, verdict, blind stretches, margin."""

    guard: Guard
    window: tuple[datetime | None, datetime | None]
    samples: list[ReplaySample] = field(default_factory=list)
    first_breach: datetime | None = None
    fired_at: datetime | None = None
    verdict: Verdict | None = None
    breach_started: datetime | None = None  # the start of the breach that fired
    history_ends: datetime | None = None
    baseline: Baseline | None = None  # what a relative threshold was judged against

    @property
    def inconclusive(self) -> int:
        return sum(s.status is SampleStatus.INCONCLUSIVE for s in self.samples)

    @property
    def stretches(self) -> list[Stretch]:
        found: list[Stretch] = []
        run: list[ReplaySample] = []
        for sample in [*self.samples, None]:
            if sample is not None and sample.status is SampleStatus.INCONCLUSIVE:
                run.append(sample)
                continue
            if run:
                found.append(Stretch(run[0].at, run[-1].at, len(run), run[0].reason))
                run = []
        return found

    @property
    def margin(self) -> float | None:
        """Closest approach to the threshold on the safe side (negative: it crossed, briefly);
        None for a guard that fired or never had a value."""
        if self.verdict is not None:
            return None
        fixed, _ = GuardState(self.guard, self.baseline).threshold()
        if fixed is None:
            return None
        distances = [_distance(fixed, s.value) for s in self.samples if s.value is not None]
        return min(distances) if distances else None


def _distance(breach: Comparison, value: float) -> float:
    """How far ``value`` is from breaching: positive while safe, zero or below once breaching."""
    op, threshold = breach.op, breach.threshold
    if op in (">", ">="):
        return threshold - value
    if op in ("<", "<="):
        return value - threshold
    if op == "==":
        return abs(value - threshold)
    return -abs(value - threshold)


def sample_times(guard: Guard, times: LaunchTimes, until: datetime | None = None) -> list[datetime]:
    """When the live watch would sample: at the window's start, then every ``every`` while open."""
    start, end = window(guard, times)
    if start is None:
        return []
    if end is None and until is None:
        raise ValueError(f"guard '{guard.id}' has a window with no end to replay up to")
    moments = []
    moment = start
    while (end is None or moment < end) and (until is None or moment <= until):
        moments.append(moment)
        moment += guard.every
    return moments


def replay_guard(
    guard: Guard, times: LaunchTimes, series: Series, baseline: Baseline | None = None
) -> GuardReplay:
    """Feed the series to ``GuardState`` at the live sample times; stop at the first verdict
    whose action stops the launch (rollback or ask), as the launch itself would have. A
    relative threshold is judged against ``baseline``, measured by the caller from history."""
    result = GuardReplay(guard, window(guard, times), baseline=baseline)
    state = GuardState(guard, baseline)
    for moment in sample_times(guard, times, series.until):
        value, why = series.value_at(moment, guard.every)
        seen = state.observe(moment, value, why)
        result.samples.append(ReplaySample(moment, value, seen.status, seen.reason))
        if seen.breach_started and result.first_breach is None:
            result.first_breach = moment
        if seen.verdict is not None and result.verdict is None:
            result.verdict, result.fired_at = seen.verdict, moment
            result.breach_started = state.breach_since
            if seen.verdict.action.value != "warn":
                break
    if series.until is not None and result.verdict is None:
        _, end = result.window
        if end is None or series.until < end:
            result.history_ends = series.until
    return result
