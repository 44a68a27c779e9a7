"""Guard decisions, pure: samples in, verdicts out.

A guard watches one value while its window is open. ``for`` means the breach
must hold across consecutive samples spanning that long; a good sample resets
it; an inconclusive one neither confirms nor resets it (a flapping scrape must
not hide a real breach). ``inconclusive_limit`` inconclusive samples in a row
escalate to a person, because nobody should fly blind through a rollback window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from runbook.model import Guard, GuardAction


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


def window_bounds(
    guard: Guard, anchor: datetime, default_end: timedelta
) -> tuple[datetime, datetime]:
    """The guard's window in launch time; without ``during`` it runs from T+0 to the last step."""
    start, end = (
        guard.during if guard.during is not None else (timedelta(0), max(default_end, timedelta(0)))
    )
    return anchor + start, anchor + end


class GuardState:
    def __init__(self, guard: Guard) -> None:
        self.guard = guard
        self.breach_since: datetime | None = None
        self.inconclusive_streak = 0

    def classify(self, value: float | None) -> SampleStatus:
        if value is None:
            return SampleStatus.INCONCLUSIVE
        holds = self.guard.breach.holds(value)
        if holds is None:
            return SampleStatus.INCONCLUSIVE
        return SampleStatus.BREACHING if holds else SampleStatus.OK

    def observe(
        self, at: datetime, value: float | None, problem: str = ""
    ) -> tuple[SampleStatus, Verdict | None]:
        """Take one sample; returns its status and a verdict when the guard demands action.

        After a verdict the state starts over, so a breach that continues must
        hold for ``for`` again before it asks again.
        """
        status = self.classify(value)
        if status is SampleStatus.INCONCLUSIVE:
            self.inconclusive_streak += 1
            if self.inconclusive_streak >= self.guard.inconclusive_limit:
                streak = self.inconclusive_streak
                self.inconclusive_streak = 0
                return status, Verdict(
                    VerdictKind.BLIND,
                    GuardAction.ASK,
                    f"guard '{self.guard.id}' inconclusive {streak} times in a row ({problem or 'no value'})",
                    None,
                )
            return status, None
        self.inconclusive_streak = 0
        if status is SampleStatus.OK:
            self.breach_since = None
            return status, None
        if self.breach_since is None:
            self.breach_since = at
        held = at - self.breach_since
        if held < self.guard.hold:
            return status, None
        self.breach_since = None
        lasting = f" for {_fmt(held)}" if self.guard.hold > timedelta(0) else ""
        return status, Verdict(
            VerdictKind.BREACH,
            self.guard.then,
            f"guard '{self.guard.id}' breached: {value:g} {self.guard.breach}{lasting}",
            value,
        )


def _fmt(delta: timedelta) -> str:
    from runbook.durations import format_duration

    return format_duration(delta)
