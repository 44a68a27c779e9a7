"""The engine: the walk over the timeline, the same for a launch, a dry run, a drill and a plan.

What differs between those is injected: the clock (real, scaled, simulated),
the executor (real or describing), the operator (a person or the headless
rules) and the recorder's sinks. Blocking work runs through ``Blocker`` so
Ctrl-C, signals, guard alerts and rollback requests reach it promptly; guards
are supervised by ``GuardSupervisor``.
"""

from __future__ import annotations

import getpass
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from launchctl.engine.control import Blocker, EndMonitoring, Interrupt, PauseLaunch, StartRollback
from launchctl.engine.drill import DrillDriver, DrillSpec
from launchctl.engine.guard_supervisor import GuardSupervisor
from launchctl.engine.prompts import Operator
from launchctl.engine.rollback_phase import RollbackPhase
from launchctl.errors import JournalWriteFailed
from launchctl.journal.catalogue import iso
from launchctl.journal.recorder import Recorder
from launchctl.journal.replay import LaunchState
from rollback.policy import Decision, decide_on_failure
from runbook import model
from runbook.durations import format_offset
from runbook.errors import EXIT_OK, EXIT_PAUSED
from runbook.model import GuardAction
from runbook.templating import expand_secrets, render
from steps.action import ActionContext, run_action
from steps.cancel import CancelToken
from steps.clock import Clock
from steps.executor import Executor, render_text
from steps.notify import Notifier

ROLLBACK_REQUEST_FILE = "rollback.request"


@dataclass
class LaunchSettings:
    launch_id: str
    t0: datetime
    journal_dir: Path | None = None
    dry_run: bool = False
    no_wait: bool = False
    yes: bool = False
    cwd: str | None = None
    user: str = field(default_factory=getpass.getuser)
    drill: DrillSpec | None = None


class Engine:
    def __init__(
        self,
        runbook: model.Runbook,
        settings: LaunchSettings,
        recorder: Recorder,
        operator: Operator,
        clock: Clock,
        executor: Executor,
        environ: Mapping[str, str],
        notifier: Notifier | None = None,
        state: LaunchState | None = None,
    ) -> None:
        self.runbook = runbook
        self.settings = settings
        self.recorder = recorder
        self.operator = operator
        self.clock = clock
        self.executor = executor
        self.environ = environ
        self.notifier = notifier
        self.state = state
        self._started_ids: set[str] = set(state.started_step_ids) if state else set()
        self._went_live = False
        self.values: dict[str, str] = {
            **runbook.vars,
            "t0": iso(settings.t0),
            "launch.id": settings.launch_id,
            "launch.name": runbook.name,
        }
        self.blocker = Blocker(self._pending_interrupt, self._interrupted, clock.simulated)
        self.guards = GuardSupervisor(
            runbook,
            clock,
            recorder,
            self.values,
            environ,
            self.blocker.wake,
            GuardSupervisor.recorded_anchor(settings.t0, settings.no_wait, state),
            executor.dry_run,
        )
        self.drills = DrillDriver(self, settings.drill)

    # -- the walk -----------------------------------------------------------------------------

    def run(self) -> int:
        """Drive the launch to an end; returns the exit code (SPEC section 3)."""
        with self.blocker.signal_handlers():
            try:
                self.guards.start()
                self.drills.start_timer()
                return self._drive()
            except JournalWriteFailed:
                self._stop_watching()
                raise
            except PauseLaunch as pause:
                self._stop_watching()
                self.recorder.emit(
                    "launch_paused",
                    reason=pause.reason,
                    step=pause.step,
                    journal=str(self.settings.journal_dir or ""),
                )
                return EXIT_PAUSED

    def roll_back(self, reason: str, trigger: str) -> int:
        """Run the rollback sequence now (``launchctl rollback`` with no live driver)."""
        with self.blocker.signal_handlers():
            try:
                return self._rollback(reason, trigger)
            except PauseLaunch as pause:
                self.recorder.emit("launch_paused", reason=pause.reason, step=pause.step)
                return EXIT_PAUSED

    def _drive(self) -> int:
        if (
            self.state is not None
            and self.state.rollback is not None
            and self.state.rollback.status is None
        ):
            return self._rollback(
                self.state.rollback.reason or "resumed rollback", self.state.rollback.trigger or "?"
            )
        if self.state is None:
            self.notify(
                f"LAUNCH STARTED: {self.runbook.name} (T0 {self.values['t0']})", "launch_started"
            )
        try:
            self._run_steps()
            self.guards.anchor.set(self.clock.now())
            self._monitor()
        except StartRollback as start:
            return self._rollback(start.reason, start.trigger)
        self._stop_watching()
        return self.finish("completed", EXIT_OK)

    # -- guards, monitoring and drills -------------------------------------------------------

    def _stop_watching(self) -> None:
        self.drills.stop()
        self.guards.stop()

    def _monitor(self) -> None:
        """After the last step: stay until every guard window has closed, unless the operator ends it."""
        end = self.guards.monitoring_end()
        if end is None or end <= self.clock.now():
            return
        self.drills.breach_if_due(end)
        self.recorder.emit("monitoring_started", until=iso(end))
        try:
            self.blocker.run(lambda cancel: self.clock.sleep_until(end, cancel), phase="monitoring")
        except EndMonitoring as ended:
            self.recorder.emit("monitoring_finished", reason=str(ended))
            return
        self.recorder.emit("monitoring_finished", reason="every guard window has closed")

    @property
    def started_ids(self) -> set[str]:
        return self._started_ids

    def _host_count(self, step: model.Step) -> int | None:
        """How many hosts a step fans out to (for the view's progress), None for local."""
        if not step.run:
            return None
        target = self.runbook.target(step.on)
        return None if target.is_local else len(target.hosts)

    def _is_late(self, late_seconds: float) -> bool:
        """Late by at least a real second: at --speed 180 two launch-seconds are 11 ms and nobody's fault."""
        return not self.settings.no_wait and late_seconds >= max(1.0, self.clock.speed)

    def mark_started(self, step_id: str) -> None:
        """A launch step counts as started (for ``if_started``) from its step_started event on."""
        self._started_ids.add(step_id)

    def _run_steps(self) -> None:
        for step in self.runbook.steps:
            record = self.state.steps.get(step.id) if self.state else None
            if record is not None and record.finished_state:
                continue
            if record is not None and record.in_flight and not self._rerun_in_flight(step):
                continue
            self._run_step(step)

    def _rerun_in_flight(self, step: model.Step) -> bool:
        return self.ask_rerun(step.id, "step", "step_finished")

    def ask_rerun(self, step_id: str, kind: str, finished_event: str) -> bool:
        """On resume, a step the journal shows started but not finished: re-run it only if asked to.

        ``skip`` records it finished-as-skipped; ``rollback`` (launch steps only) starts the
        rollback; anything else pauses, because nobody was there to say yes.
        """
        answer = self.decide(
            "in-flight",
            f"{kind} '{step_id}' was in flight; re-run it?",
            step_id,
            lambda: self.operator.rerun_in_flight(step_id),
        )
        if answer == "rerun" or (answer == "rollback" and kind != "step"):
            return True
        if answer == "skip":
            self.recorder.emit(
                finished_event,
                step=step_id,
                status="skipped",
                reason="skipped on resume by operator",
            )
            return False
        if answer == "rollback":
            raise StartRollback(f"operator chose rollback on resume at '{step_id}'", "operator")
        raise PauseLaunch(
            f"{kind} '{step_id}' was in flight; re-run it with `launchctl resume --yes` or at a terminal",
            step_id,
        )

    def _run_step(self, step: model.Step) -> None:
        planned = self.settings.t0 + step.at
        if not self.settings.no_wait:
            self.drills.breach_if_due(planned)
            self.blocker.run(lambda cancel: self.clock.sleep_until(planned, cancel))
        if self.drills.fails_at(step):
            self.drills.inject_step_failure(step, planned)
        if step.confirm and not self._confirmed(step):
            return
        self._execute(step, planned)

    def _confirmed(self, step: model.Step) -> bool:
        """Ask the step's question; False means the operator chose to skip the step."""
        question = render_text(step.confirm, self._values(step))
        if self.executor.dry_run:
            self.recorder.emit("confirm_requested", step=step.id, question=question, dry_run=True)
            return True
        while True:
            self.recorder.emit("confirm_requested", step=step.id, question=question)
            answer = self.decide(
                "confirm", question, step.id, lambda: self.operator.confirm(question)
            )
            if answer == "yes":
                return True
            if answer == "skip":
                self.recorder.emit(
                    "step_finished",
                    step=step.id,
                    status="skipped",
                    reason="not confirmed; skipped by operator",
                )
                return False
            if answer == "rollback":
                raise StartRollback(
                    f"'{step.id}' not confirmed; operator chose rollback", "operator"
                )
            if answer == "pause":
                why = (
                    "waiting for confirmation"
                    if self.operator.interactive
                    else ("confirmation needed and no terminal (use --yes to confirm)")
                )
                raise PauseLaunch(f"{why}: {question}", step.id)

    def _execute(self, step: model.Step, planned: datetime) -> None:
        attempt = 0
        while True:
            attempt += 1
            actual = self.clock.now()
            late = (actual - planned).total_seconds()
            self._started_ids.add(step.id)
            self.guards.anchor_at(step, actual)
            self.recorder.emit(
                "step_started",
                step=step.id,
                title=step.title,
                offset=format_offset(step.at),
                planned=iso(planned),
                late_s=round(late, 3) if self._is_late(late) else None,
                attempt=attempt,
                target=step.on,
                hosts=self._host_count(step),
            )
            outcome = self.blocker.run(
                lambda cancel: run_action(step, self.action_context(step, cancel), soak=step.wait),
                step.id,
            )
            if outcome.ok:
                self.recorder.emit("step_finished", step=step.id, status="ok")
                if step.at >= timedelta(0) and not self._went_live:
                    self._went_live = True
                    self.notify(f"GO-LIVE DONE: {step.title}", "go_live", step=step.id)
                return
            reason = outcome.reason or "failed"
            self.recorder.emit("step_failed", step=step.id, status="failed", reason=reason)
            decision = decide_on_failure(
                step.on_failure, self.operator.interactive and not self.settings.yes
            )
            if decision is Decision.ASK:
                decision = Decision(
                    self.decide(
                        "on-failure",
                        f"step '{step.id}' failed: {reason}",
                        step.id,
                        lambda reason=reason: self.operator.on_failure(step.id, reason),
                    )
                )
            if decision is Decision.RETRY:
                continue
            if decision is Decision.CONTINUE:
                self.recorder.emit(
                    "step_finished", step=step.id, status="failed", reason=reason, continued=True
                )
                return
            if decision is Decision.PAUSE:
                raise PauseLaunch(f"paused after step '{step.id}' failed: {reason}", step.id)
            self.recorder.emit("step_finished", step=step.id, status="failed", reason=reason)
            raise StartRollback(f"step '{step.id}' failed: {reason}", step.id)

    # -- rollback -------------------------------------------------------------------------------

    def _rollback(self, reason: str, trigger: str) -> int:
        self._stop_watching()
        if self.settings.journal_dir is not None:
            (self.settings.journal_dir / ROLLBACK_REQUEST_FILE).unlink(missing_ok=True)
        return RollbackPhase(self).run(reason, trigger)

    def finish(self, status: str, exit_code: int) -> int:
        self.drills.finish(status, exit_code)
        self.notify(
            f"LAUNCH {status.upper().replace('_', ' ')}: {self.runbook.name}", "launch_finished"
        )
        self.recorder.emit("launch_finished", status=status, exit_code=exit_code)
        return exit_code

    # -- plumbing -------------------------------------------------------------------------------

    def _values(self, step: model.Action, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {**self.values, **(extra or {}), "step.id": step.id}

    def action_context(
        self,
        action: model.Action,
        cancel: CancelToken,
        values: Mapping[str, str] | None = None,
        phase: str | None = None,
    ) -> ActionContext:
        step_values = dict(values) if values is not None else self._values(action)

        def emit(event: str, fields: dict[str, Any]) -> None:
            self.recorder.emit(
                event, step=action.id, phase=phase, dry_run=self.executor.dry_run or None, **fields
            )

        return ActionContext(
            runbook=self.runbook,
            executor=self.executor,
            clock=self.clock,
            values=step_values,
            env=self._command_env(action, step_values),
            emit=emit,
            notify=lambda message: self.notify(message, "step", step=action.id),
            cancel=cancel,
            on_output=self.recorder.output_line,
        )

    def _command_env(self, action: model.Action, values: Mapping[str, str]) -> dict[str, str]:
        env = {
            "LAUNCHCTL_LAUNCH_ID": self.settings.launch_id,
            "LAUNCHCTL_STEP": action.id,
            "LAUNCHCTL_T0": self.values["t0"],
        }
        for name, template in action.env.items():
            env[name] = expand_secrets(render(template, values), self.environ)
        return env

    def notify(self, message: str, milestone: str, step: str | None = None) -> None:
        self.recorder.emit("notification", message=message, milestone=milestone, step=step)
        if self.notifier is not None and not self.executor.dry_run:
            self.notifier.send(
                self.recorder.masker.text(message),
                {
                    "launch": self.settings.launch_id,
                    "name": self.runbook.name,
                    "milestone": milestone,
                    "step": step,
                },
            )

    def decide(self, kind: str, question: str, step: str | None, ask: Callable[[], str]) -> str:
        answer = ask()
        self.recorder.emit(
            "operator_decision",
            kind=kind,
            question=question,
            answer=answer,
            step=step,
            user=self.settings.user
            if self.operator.interactive
            else f"{self.settings.user} (headless rules)",
        )
        return answer

    def _interrupted(self, step: str, interrupt: Interrupt) -> None:
        self.recorder.emit("step_interrupted", step=step, reason=interrupt.reason)

    def _pending_interrupt(self, phase: str) -> Interrupt | None:
        if self.recorder.failure is not None:
            # The journal cannot be written: stop everything rather than go on unrecorded.
            return Interrupt("journal", self.recorder.failure.message, "journal")
        while self.blocker.signals:
            signum = self.blocker.signals.pop(0)
            if signum != signal.SIGINT:
                name = signal.Signals(signum).name
                return Interrupt("pause", f"received {name}; launch paused, resumable", "signal")
            answer = self.decide(
                "interrupt", "Ctrl-C", None, lambda: self.operator.interrupted(phase)
            )
            if answer == "rollback" and phase != "rollback":
                return Interrupt("rollback", "operator requested rollback (Ctrl-C)", "operator")
            if answer == "pause":
                return Interrupt("pause", "paused by operator (Ctrl-C)", "operator")
            if answer == "end" and phase == "monitoring":
                return Interrupt("end", "monitoring ended by operator", "operator")
        if phase == "rollback":
            return None
        alert = self._pending_guard_alert()
        if alert is not None:
            return alert
        if self.settings.journal_dir is not None:
            request = self.settings.journal_dir / ROLLBACK_REQUEST_FILE
            if request.exists():
                return self._take_rollback_request(request)
        return None

    def _pending_guard_alert(self) -> Interrupt | None:
        while (alert := self.guards.next_alert()) is not None:
            guard, verdict = alert
            trigger = f"guard:{guard.id}"
            if verdict.action is GuardAction.WARN:
                self.notify(f"WARNING: {verdict.reason}", "guard_warning")
                continue
            self.notify(f"GUARD BREACH: {verdict.reason}", "guard_breach")
            if verdict.action is GuardAction.ROLLBACK:
                return Interrupt("rollback", verdict.reason, trigger)
            answer = self.decide(
                "guard",
                verdict.reason,
                None,
                lambda v=verdict, g=guard: self.operator.guard_alert(g.id, v.reason),
            )
            if answer == "rollback":
                return Interrupt("rollback", verdict.reason, trigger)
            if answer == "pause":
                return Interrupt("pause", f"paused on {verdict.reason}", trigger)
        return None

    def _take_rollback_request(self, request: Path) -> Interrupt:
        try:
            text = request.read_text(encoding="utf-8").strip()
        except OSError:
            text = ""
        request.unlink(missing_ok=True)
        reason = text.splitlines()[0] if text else "rollback requested from another terminal"
        self.recorder.emit("rollback_requested", reason=reason)
        return Interrupt("rollback", reason, "operator")
