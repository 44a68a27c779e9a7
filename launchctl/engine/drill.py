"""Rollback drills: inject a failure at a step or a breach of a guard, then time the rollback.

A drill is a launch with one fault planted. Without ``--live`` it is a dry run
(nothing touched; the rollback it would run is printed); with ``--live`` the
launch runs for real up to the fault and the rollback runs for real.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from launchctl.journal.recorder import Recorder
from rollback.guards import LaunchTimes, Verdict, VerdictKind, window
from runbook import model
from runbook.durations import format_offset, parse_offset
from runbook.errors import EXIT_ROLLED_BACK, InputError
from runbook.model import GuardAction
from runbook.waves import split_into_waves
from steps.clock import Clock


@dataclass(frozen=True)
class DrillSpec:
    """``--fail-at STEP`` (with ``--wave N``: in that wave of the step) or ``--breach GUARD``."""

    fail_at: str | None = None
    breach: str | None = None
    live: bool = False
    at: str | None = None  # --breach ... --at T+5m: when to force it (default: the window opens)
    wave: int | None = None  # --fail-at STEP --wave N: fail that wave of the step

    def to_data(self) -> dict[str, Any]:
        return {
            "fail_at": self.fail_at,
            "breach": self.breach,
            "live": self.live,
            "at": self.at,
            "wave": self.wave,
        }

    @property
    def offset(self) -> timedelta | None:
        return None if self.at is None else parse_offset(self.at)

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
        if self.at is not None and self.breach is None:
            raise InputError("drill: --at goes with --breach GUARD (when to force the breach)")
        if self.at is not None:
            try:
                parse_offset(self.at)
            except ValueError as exc:
                raise InputError(f"drill: --at {self.at!r}: {exc}") from None
        if not runbook.rollback and not runbook.roll_forward:
            raise InputError("drill: the runbook has no rollback or roll_forward sequence to drill")
        if self.wave is not None:
            self._check_wave(runbook)

    def _check_wave(self, runbook: model.Runbook) -> None:
        if self.fail_at is None:
            raise InputError("drill: --wave N goes with --fail-at STEP (a step with waves)")
        step = runbook.step(self.fail_at)
        waves, _ = runbook.waves_of(step)
        if waves is None:
            raise InputError(
                f"drill: --wave {self.wave}: step '{step.id}' has no waves (no waves: on the step "
                "or its target, or it does not run on an SSH target)"
            )
        count = len(split_into_waves(runbook.target(step.on).hosts, waves.sizes))
        if not 1 <= self.wave <= count:
            raise InputError(
                f"drill: --wave {self.wave}: step '{step.id}' has {count} waves (1..{count})"
            )


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
        times: LaunchTimes,
        alert: Callable[[model.Guard, Verdict], None],
        notify: Callable[[str, str], None],
    ) -> None:
        self.spec = spec
        self.recorder = recorder
        self.clock = clock
        self.launch_times = times
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
        """The whole step fails before it runs (``--fail-at`` without ``--wave``)."""
        return self.spec is not None and self.spec.fail_at == step.id and self.spec.wave is None

    def fail_wave(self, step: model.Step) -> int | None:
        """The wave of ``step`` a ``--fail-at STEP --wave N`` drill fails (the waves before run)."""
        if self.spec is None or self.spec.fail_at != step.id:
            return None
        return self.spec.wave

    def injected_in_wave(self) -> None:
        """The step's rollout planted the wave's failure: the clock to the rollback starts now."""
        self.times.setdefault("injected", time.monotonic())

    def _moment(self) -> datetime | None:
        """When to force the breach, in launch time: ``--at`` (T+ from the actual go-live), else
        when the guard's window opens; None while that is not known yet."""
        offset = self.spec.offset if self.spec is not None else None
        if offset is not None:
            return self.launch_times.at(offset)
        return window(self.guard, self.launch_times)[0]

    def poll(self) -> None:
        """A loop source (live drills): force the breach once its moment has come."""
        if self.guard is None or self._injected:
            return
        moment = self._moment()
        if moment is not None and moment <= self.clock.now():
            self._inject_breach()

    def breach_if_due(self, before: datetime) -> None:
        """Dry drills: if the breach is due before ``before``, jump there and breach."""
        if self.guard is None or self._injected or not self.clock.simulated:
            return
        moment = self._moment()
        if moment is not None and moment <= before:
            self.clock.sleep_until(moment)
            self._inject_breach()

    def _inject_breach(self) -> None:
        self._injected = True
        self.times["injected"] = time.monotonic()
        guard = self.guard
        when = f" at {self.spec.at}" if self.spec.at else ""
        self.recorder.emit(
            "drill_injected", fault=f"breach of guard '{guard.id}'{when}", guard=guard.id
        )
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

    def estimate(self, seconds: float) -> None:
        """A dry drill's worst case for the sequence it would run (nothing ran, so no timing)."""
        self.times["estimate"] = seconds

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
            rollback_duration_s=None if self.clock.simulated else duration,
            estimated_worst_case_s=self.times.get("estimate"),
            launch_status=status,
        )
        if self.clock.simulated:
            figures = f"worst case {self.times.get('estimate', 0):.0f}s (estimate)"
        elif to_rollback is not None:
            figures = f"injection to rollback {to_rollback}s, rollback took {duration}s"
        else:
            figures = status
        self.notify(f"DRILL {'PASSED' if passed else 'FAILED'}: {figures}", "drill")
