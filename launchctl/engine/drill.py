"""Rollback drills: inject a failure at a step or a breach of a guard, then time the rollback.

A drill is a launch with one fault planted. Without ``--live`` it is a dry run
(nothing touched; the rollback it would run is printed); with ``--live`` the
launch runs for real up to the fault and the rollback runs for real.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from launchctl.journal.recorder import Recorder
from rollback.guards import Verdict, VerdictKind
from runbook import model
from runbook.durations import format_offset
from runbook.errors import EXIT_ROLLED_BACK, InputError
from runbook.model import GuardAction
from steps.clock import Clock


@dataclass(frozen=True)
class DrillSpec:
    fail_at: str | None = None
    breach: str | None = None
    live: bool = False

    def to_data(self) -> dict[str, Any]:
        return {"fail_at": self.fail_at, "breach": self.breach, "live": self.live}

    def check(self, runbook: model.Runbook) -> None:
        """The named step or guard must exist: a drill that injects nothing proves nothing."""
        if (self.fail_at is None) == (self.breach is None):
            raise InputError("drill: give exactly one of --fail-at STEP or --breach GUARD")
        if self.fail_at is not None and self.fail_at not in runbook.step_ids:
            raise InputError(
                f"drill: --fail-at {self.fail_at!r}: no such step (steps: {', '.join(runbook.step_ids)})"
            )
        guards = [g.id for g in runbook.guards]
        if self.breach is not None and self.breach not in guards:
            known = ", ".join(guards) or "none"
            raise InputError(f"drill: --breach {self.breach!r}: no such guard (guards: {known})")
        if not runbook.rollback and not runbook.roll_forward:
            raise InputError("drill: the runbook has no rollback or roll_forward sequence to drill")


def forced_breach(guard: model.Guard) -> Verdict:
    return Verdict(
        VerdictKind.BREACH,
        GuardAction.ROLLBACK,
        f"drill: guard '{guard.id}' forced into breach",
        None,
    )


class DrillDriver:
    """The launch's side of a drill: plant the fault, time the rollback, journal the figures.

    With no drill every method is a no-op, so the engine calls them unconditionally.
    It is given what it acts through (recorder, clock, the guard's window
    start, the loop's alert input); it holds no engine.
    """

    def __init__(
        self,
        spec: DrillSpec | None,
        runbook: model.Runbook,
        recorder: Recorder,
        clock: Clock,
        window_start: Callable[[model.Guard], datetime | None],
        alert: Callable[[model.Guard, Verdict], None],
        notify: Callable[[str, str], None],
    ) -> None:
        self.spec = spec
        self.recorder = recorder
        self.clock = clock
        self.window_start = window_start
        self.alert = alert
        self.notify = notify
        self.times: dict[str, float] = {}
        self.guard = (
            next(g for g in runbook.guards if g.id == spec.breach)
            if spec is not None and spec.breach is not None
            else None
        )
        self._injected = False

    def fails_at(self, step: model.Step) -> bool:
        return self.spec is not None and self.spec.fail_at == step.id

    def poll(self) -> None:
        """A loop source (live drills): force the breach once the guard's window has opened."""
        if self.guard is None or self._injected:
            return
        start = self.window_start(self.guard)
        if start is not None and start <= self.clock.now():
            self._inject_breach()

    def breach_if_due(self, before: datetime) -> None:
        """Dry drills: if the drilled guard's window opens before ``before``, jump there and breach."""
        if self.guard is None or self._injected or not self.clock.simulated:
            return
        start = self.window_start(self.guard)
        if start is not None and start <= before:
            self.clock.sleep_until(start)
            self._inject_breach()

    def _inject_breach(self) -> None:
        self._injected = True
        self.times["injected"] = time.monotonic()
        guard = self.guard
        self.recorder.emit("drill_injected", fault=f"breach of guard '{guard.id}'", guard=guard.id)
        self.alert(guard, forced_breach(guard))

    def inject_step_failure(self, step: model.Step, planned: datetime) -> str:
        """The step is not run: it is journaled as started and failed; returns the failure's reason."""
        self.times["injected"] = time.monotonic()
        self.recorder.emit(
            "step_started",
            step=step.id,
            title=step.title,
            offset=format_offset(step.at),
            planned=planned,
        )
        self.recorder.emit("drill_injected", fault=f"failure of step '{step.id}'", step=step.id)
        reason = f"drill: injected failure at step '{step.id}' (the step was not run)"
        self.recorder.emit("step_failed", step=step.id, status="failed", reason=reason)
        self.recorder.emit("step_finished", step=step.id, status="failed", reason=reason)
        return reason

    def rollback_started(self, at: float) -> None:
        self.times.setdefault("rollback", at)

    def finish(self, status: str, exit_code: int) -> None:
        """The drill's figures, journaled: time from injection to rollback start, rollback duration."""
        if self.spec is None:
            return
        injected, started, ended = (
            self.times.get("injected"),
            self.times.get("rollback"),
            time.monotonic(),
        )
        to_rollback = (
            round(started - injected, 3) if injected is not None and started is not None else None
        )
        duration = round(ended - started, 3) if started is not None else None
        passed = exit_code == EXIT_ROLLED_BACK
        self.recorder.emit(
            "drill_result",
            status="passed" if passed else "failed",
            injection_to_rollback_s=to_rollback,
            rollback_duration_s=duration,
            launch_status=status,
        )
        figures = (
            f"injection to rollback {to_rollback}s, rollback took {duration}s"
            if to_rollback is not None
            else status
        )
        self.notify(f"DRILL {'PASSED' if passed else 'FAILED'}: {figures}", "drill")
