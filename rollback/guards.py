"""Guard decisions, pure: samples in, observations out.

A guard watches one value while its window is open. ``for`` means the breach
must hold across consecutive samples spanning that long; a good sample resets
it; an inconclusive one neither confirms nor resets it (a flapping scrape must
not hide a real breach). ``inconclusive_limit`` inconclusive samples in a row
escalate to a person, because nobody should fly blind through a rollback window.

A breach is a state with a start and an end: the observation says when one
starts (``breach_started``) and ends (``recovered``), so the journal records
transitions, not every breaching sample. Once a breach has fired its verdict,
it fires again only if it is still going ``max(for, REFIRE_AFTER)`` later: an
operator who answered "continue" is asked again about a breach that persists,
not once a second.

The live guard watch and ``replay`` both feed samples through ``GuardState``:
one decision code, whatever the source of the samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from runbook.comparison import Comparison
from runbook.durations import format_duration
from runbook.model import BaselineWindow, Guard, GuardAction
from steps.baseline import Baseline

REFIRE_AFTER = timedelta(minutes=1)


class SampleStatus(StrEnum):
    OK = "ok"
    BREACHING = "breaching"
    INCONCLUSIVE = "inconclusive"


class VerdictKind(StrEnum):
    BREACH = "breach"
    BLIND = "inconclusive"


@dataclass(frozen=True)
class Verdict:
    """A guard asks for action: ``action`` is what the runbook says to do about it. ``limit`` is
    the number the value was compared with, and ``baseline`` what it was derived from (relative
    thresholds), for the people told about it."""

    kind: VerdictKind
    action: GuardAction
    reason: str
    value: float | None
    held: timedelta = timedelta(0)
    limit: float | None = None
    baseline: float | None = None


@dataclass(frozen=True)
class Observation:
    """What one sample meant: its status (and why it told nothing), the breach transitions it
    made, and any verdict."""

    status: SampleStatus
    breach_started: bool = False
    recovered: bool = False
    verdict: Verdict | None = None
    reason: str = ""


@dataclass
class LaunchTimes:
    """The launch moments guard windows hang on, in launch time.

    ``go_live`` is when the first step at or after T+0 actually started (None
    until then); ``ended`` is when the launch stopped needing its guards.
    T+ offsets are measured from ``go_live``, so a late start or a slipped
    go-live keeps its full protection; T- offsets from the scheduled ``t0``.
    """

    t0: datetime
    go_live: datetime | None = None
    ended: datetime | None = None
    finished: dict[str, datetime] = field(default_factory=dict)  # step id -> when it finished

    def at(self, offset: timedelta) -> datetime | None:
        if offset < timedelta(0):
            return self.t0 + offset
        return None if self.go_live is None else self.go_live + offset


def window(guard: Guard, times: LaunchTimes) -> tuple[datetime | None, datetime | None]:
    """(start, end) of a guard's window; None where not known yet.

    Without ``during`` a guard watches from go-live until the launch ends,
    the last step's ``wait`` and monitoring included. With ``after`` it opens
    no earlier than that step's end: its data does not exist before.
    """
    if guard.during is None:
        start, end = times.at(timedelta(0)), times.ended
    else:
        start, end = times.at(guard.during[0]), times.at(guard.during[1])
    if guard.after is not None:
        ready = times.finished.get(guard.after)
        start = None if ready is None or start is None else max(start, ready)
    return start, end


def baseline_range(
    window: BaselineWindow, times: LaunchTimes, judged_from: datetime | None = None
) -> tuple[datetime, datetime] | None:
    """The launch moments a baseline window covers; None while it hangs on a go-live to come.

    A baseline is the service before what it judges starts: when that comes
    before the window's end (``--no-wait`` runs steps and go-live early), the
    window moves back to end at ``judged_from``, keeping its length.
    """
    start, end = times.at(window.start), times.at(window.end)
    if start is None or end is None:
        return None
    if judged_from is not None and end > judged_from:
        shift = end - judged_from
        start, end = start - shift, end - shift
    return start, end


class GuardState:
    """One guard's decisions over its samples. ``baseline`` is the measured baseline a relative
    threshold is judged against (None until measured): an input, wherever it was measured."""

    def __init__(self, guard: Guard, baseline: Baseline | None = None) -> None:
        self.guard = guard
        self.baseline = baseline
        self.breach_since: datetime | None = None
        self.last_breaching_value: float | None = None
        self.fired_at: datetime | None = None
        self.inconclusive_streak = 0

    @property
    def breaching(self) -> bool:
        return self.breach_since is not None

    def threshold(self) -> tuple[Comparison | None, str]:
        """The fixed comparison samples are judged by now, or why there is none (a relative
        threshold whose baseline is unknown, has no data, or is 0 under a factor)."""
        breach = self.guard.breach
        if breach.relative is None:
            return breach, ""
        if self.baseline is None:
            return None, "the baseline is not measured yet"
        if self.baseline.value is None:
            return None, f"no baseline: {self.baseline.reason or 'no value'}"
        return breach.against(self.baseline.value)

    def classify(self, value: float | None, problem: str = "") -> tuple[SampleStatus, str]:
        """The sample's status, and why it told nothing when it is inconclusive."""
        if value is None:
            return SampleStatus.INCONCLUSIVE, problem or "no value"
        fixed, why = self.threshold()
        if fixed is None:
            return SampleStatus.INCONCLUSIVE, why
        holds = fixed.holds(value)
        if holds is None:
            return SampleStatus.INCONCLUSIVE, problem or "no value"
        return (SampleStatus.BREACHING if holds else SampleStatus.OK), ""

    def observe(self, at: datetime, value: float | None, problem: str = "") -> Observation:
        """Take one sample taken at launch time ``at``."""
        status, why = self.classify(value, problem)
        if status is SampleStatus.INCONCLUSIVE:
            return Observation(status, verdict=self._blind(why), reason=why)
        self.inconclusive_streak = 0
        if status is SampleStatus.OK:
            recovered = self.breaching
            self.breach_since = self.fired_at = None
            return Observation(status, recovered=recovered)
        started = not self.breaching
        if started:
            self.breach_since = at
        self.last_breaching_value = value
        return Observation(status, breach_started=started, verdict=self._breach(at, value))

    def describe(self) -> str:
        """The threshold as people read it: ``> 1.5x baseline (baseline 0.2: limit 0.3)``."""
        measured = self.baseline.value if self.baseline is not None else None
        return self.guard.breach.describe(measured)

    def _breach(self, at: datetime, value: float) -> Verdict | None:
        held = at - self.breach_since
        if held < self.guard.hold:
            return None
        if self.fired_at is not None and at - self.fired_at < max(self.guard.hold, REFIRE_AFTER):
            return None
        self.fired_at = at
        lasting = f" (held {format_duration(held)})" if self.guard.hold > timedelta(0) else ""
        fixed, _ = self.threshold()
        return Verdict(
            VerdictKind.BREACH,
            self.guard.then,
            f"guard '{self.guard.id}' breached: {value:g} {self.describe()}{lasting}",
            value,
            held,
            fixed.threshold if fixed is not None else None,
            self.baseline.value if self.baseline is not None else None,
        )

    def _blind(self, problem: str) -> Verdict | None:
        self.inconclusive_streak += 1
        if self.inconclusive_streak < self.guard.inconclusive_limit:
            return None
        streak, self.inconclusive_streak = self.inconclusive_streak, 0
        return Verdict(
            VerdictKind.BLIND,
            GuardAction.ASK,
            f"guard '{self.guard.id}' inconclusive {streak} times in a row ({problem or 'no value'})",
            None,
        )
