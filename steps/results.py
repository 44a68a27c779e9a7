"""Results as values: what ran, how it ended, and why, kept whole for the journal and report."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class CommandResult:
    """One command on one host. ``reason`` says in one line why it did not succeed."""

    command: str
    host: str
    exit_code: int | None
    duration: float
    tail: tuple[str, ...] = ()
    stdout: str = ""
    timed_out: bool = False
    interrupted: bool = False
    error: str | None = None
    dry_run: bool = False
    timeout: float | None = None
    killed: str | None = None  # what the kill found and did on the host (SSH)
    never_started: bool = False  # the transport failed before the command could start there

    @property
    def reason(self) -> str | None:
        if self.error:
            return f"{self.error}; {self.killed}" if self.killed else self.error
        if self.timed_out:
            limit = self.timeout if self.timeout is not None else self.duration
            if self.killed:
                return f"timed out after {limit:g}s; {self.killed}"
            return f"timed out after {limit:g}s and was killed with its process group"
        if self.interrupted:
            return f"interrupted; {self.killed}" if self.killed else "interrupted"
        return None

    def to_event(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "command": self.command,
            "exit_code": self.exit_code,
            "duration_s": round(self.duration, 3),
            "timed_out": self.timed_out,
            "interrupted": self.interrupted,
            "error": self.error,
            "killed": self.killed,
            "tail": list(self.tail),
        }


@dataclass(frozen=True)
class CriterionResult:
    """One evaluation of one criterion: pass, fail or inconclusive, with what was observed."""

    kind: str
    subject: str
    outcome: Outcome
    reason: str
    value: Any = None
    host: str | None = None
    attempt: int = 1
    duration: float = 0.0
    dry_run: bool = False

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASS

    def to_event(self) -> dict[str, Any]:
        event: dict[str, Any] = {
            "kind": self.kind,
            "subject": self.subject,
            "status": self.outcome.value,
            "value": self.value,
            "reason": self.reason,
            "attempt": self.attempt,
            "duration_s": round(self.duration, 3),
        }
        if self.host is not None:
            event["host"] = self.host
        return event


@dataclass
class ActionOutcome:
    """How a step's or rollback step's command and checks went, with the cause when not ok."""

    ok: bool = True
    reason: str | None = None
    commands: list[CommandResult] = field(default_factory=list)
    checks: list[CriterionResult] = field(default_factory=list)
    interrupted: bool = False

    def fail(self, reason: str) -> ActionOutcome:
        self.ok = False
        if self.reason is None:
            self.reason = reason
        return self
