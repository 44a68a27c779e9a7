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

from runbook.durations import format_duration
from runbook.model import Guard, GuardAction

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
    """A guard asks for action: ``action`` is what the runbook says to do about it."""

    kind: VerdictKind
    action: GuardAction
    reason: str
    value: float | None
    held: timedelta = timedelta(0)


@dataclass(frozen=True)
class Observation:
    """What one sample meant: its status, the breach transitions it made, and any verdict."""

    status: SampleStatus
    breach_started: bool = False
    recovered: bool = False
    verdict: Verdict | None = None


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


class GuardState:
    def __init__(self, guard: Guard) -> None:
        self.guard = guard
        self.breach_since: datetime | None = None
        self.last_breaching_value: float | None = None
        self.fired_at: datetime | None = None
        self.inconclusive_streak = 0

    @property
    def breaching(self) -> bool:
        return self.breach_since is not None

    def classify(self, value: float | None) -> SampleStatus:
        if value is None:
            return SampleStatus.INCONCLUSIVE
        holds = self.guard.breach.holds(value)
        if holds is None:
            return SampleStatus.INCONCLUSIVE
        return SampleStatus.BREACHING if holds else SampleStatus.OK

    def observe(self, at: datetime, value: float | None, problem: str = "") -> Observation:
        """Take one sample taken at launch time ``at``."""
        status = self.classify(value)
        if status is SampleStatus.INCONCLUSIVE:
            return Observation(status, verdict=self._blind(problem))
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

    def _breach(self, at: datetime, value: float) -> Verdict | None:
        held = at - self.breach_since
        if held < self.guard.hold:
            return None
        if self.fired_at is not None and at - self.fired_at < max(self.guard.hold, REFIRE_AFTER):
            return None
        self.fired_at = at
        lasting = f" (held {format_duration(held)})" if self.guard.hold > timedelta(0) else ""
        return Verdict(
            VerdictKind.BREACH,
            self.guard.then,
            f"guard '{self.guard.id}' breached: {value:g} {self.guard.breach}{lasting}",
            value,
            held,
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
