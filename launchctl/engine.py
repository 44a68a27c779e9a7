"""The engine: the walk over the timeline, the same for a launch, a dry run and a plan.

What differs between those is injected: the clock (real, scaled, simulated),
the executor (real or describing), the operator (a person or the headless
rules) and the recorder's sinks. Blocking work (waiting for a T-offset,
running a step) happens on a worker thread while the main thread stays free
to handle Ctrl-C, signals and rollback requests, so an interruption reaches
a running step within a fraction of a second.
"""

from __future__ import annotations

import getpass
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from launchctl.guard_watch import Anchor, GuardWatch
from launchctl.journal import iso
from launchctl.operator import Operator
from launchctl.recorder import Recorder
from launchctl.state import LaunchState
from rollback.guards import Verdict
from rollback.policy import Decision, decide_on_failure
from rollback.sequence import RollbackResult, RollbackStepResult, plan_rollback, run_rollback_step
from runbook import model
from runbook.durations import format_offset
from runbook.errors import EXIT_OK, EXIT_PAUSED, EXIT_ROLLBACK_INCOMPLETE, EXIT_ROLLED_BACK
from runbook.model import GuardAction
from runbook.templating import expand_secrets, render
from steps.action import ActionContext, run_action
from steps.cancel import CancelToken
from steps.clock import Clock
from steps.criteria import query_prometheus
from steps.executor import Executor, prometheus_url, render_text
from steps.notify import Notifier

T = TypeVar("T")
POLL_SECONDS = 0.2
ROLLBACK_REQUEST_FILE = "rollback.request"


class PauseLaunch(Exception):
    def __init__(self, reason: str, step: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.step = step


class StartRollback(Exception):
    def __init__(self, reason: str, trigger: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.trigger = trigger


class EndMonitoring(Exception):
    """The operator ended monitoring before the last guard window closed."""


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


@dataclass
class _Interrupt:
    action: str  # rollback | pause
    reason: str
    trigger: str

    def as_exception(self, step: str | None) -> Exception:
        if self.action == "rollback":
            return StartRollback(self.reason, self.trigger)
        if self.action == "end":
            return EndMonitoring(self.reason)
        return PauseLaunch(self.reason, step)


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
        self._signals: list[int] = []
        self._alerts: queue.Queue[tuple[model.Guard, Verdict]] = queue.Queue()
        self._wake = threading.Event()
        self.anchor = Anchor(self._recorded_anchor(state))
        self.guard_watch: GuardWatch | None = None
        self._started_ids: set[str] = set(state.started_step_ids) if state else set()
        self._rollback_done = False
        self.values: dict[str, str] = {
            **runbook.vars,
            "t0": iso(settings.t0),
            "launch.id": settings.launch_id,
            "launch.name": runbook.name,
        }

    # -- the walk -----------------------------------------------------------------------------

    def run(self) -> int:
        """Drive the launch to an end; returns the exit code (SPEC section 3)."""
        with self._signal_handlers():
            try:
                self._start_guards()
                return self._drive()
            except PauseLaunch as pause:
                self._stop_guards()
                self.recorder.emit(
                    "launch_paused",
                    reason=pause.reason,
                    step=pause.step,
                    journal=str(self.settings.journal_dir or ""),
                )
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
        try:
            self._run_steps()
            self.anchor.set(self.clock.now())
            self._monitor()
        except StartRollback as start:
            return self._rollback(start.reason, start.trigger)
        self._stop_guards()
        return self._finish("completed", EXIT_OK)

    # -- guards -----------------------------------------------------------------------------

    def _recorded_anchor(self, state: LaunchState | None) -> datetime | None:
        if not self.settings.no_wait:
            return self.settings.t0
        for event in reversed(state.guard_events if state else []):
            if event["event"] == "guards_anchored":
                return datetime.fromisoformat(event["anchor"].replace("Z", "+00:00"))
        return None

    def _start_guards(self) -> None:
        if not self.runbook.guards:
            return
        if self.executor.dry_run:
            for guard in self.runbook.guards:
                window = (
                    "T+0 until the last step"
                    if guard.during is None
                    else (f"{format_offset(guard.during[0])}..{format_offset(guard.during[1])}")
                )
                self.recorder.emit(
                    "guard_planned",
                    guard=guard.id,
                    query=render_text(guard.query, self.values),
                    threshold=str(guard.breach),
                    window=window,
                    then=guard.then.value,
                    dry_run=True,
                )
            return
        url = prometheus_url(self.runbook, self.values, self.environ) or ""
        queries = {guard.id: render_text(guard.query, self.values) for guard in self.runbook.guards}

        def sample(guard: model.Guard) -> tuple[float | None, str]:
            return query_prometheus(url, queries[guard.id], guard.timeout.total_seconds())

        self.guard_watch = GuardWatch(
            self.runbook.guards,
            self.clock,
            self.recorder,
            sample,
            self._on_verdict,
            self.anchor,
            self.runbook.steps[-1].at,
        )
        self.guard_watch.start()

    def _on_verdict(self, guard: model.Guard, verdict: Verdict) -> None:
        self._alerts.put((guard, verdict))
        self._wake.set()

    def _stop_guards(self) -> None:
        if self.guard_watch is not None:
            self.guard_watch.stop()

    def _anchor_guards_at(self, step: model.Step) -> None:
        if step.at >= timedelta(0) and self.anchor.set(self.clock.now()):
            self.recorder.emit("guards_anchored", anchor=iso(self.anchor.value), step=step.id)

    def _monitor(self) -> None:
        """After the last step: stay until every guard window has closed, unless the operator ends it."""
        if self.executor.dry_run:
            end = self._dry_run_monitoring_end()
        else:
            end = self.guard_watch.last_window_end() if self.guard_watch else None
        if end is None or end <= self.clock.now():
            return
        self.recorder.emit("monitoring_started", until=iso(end))
        try:
            self._block(lambda cancel: self.clock.sleep_until(end, cancel), phase="monitoring")
        except EndMonitoring as ended:
            self.recorder.emit("monitoring_finished", reason=str(ended))
            return
        self.recorder.emit("monitoring_finished", reason="every guard window has closed")

    def _dry_run_monitoring_end(self) -> datetime | None:
        ends = [g.during[1] for g in self.runbook.guards if g.during is not None]
        return self.anchor.value + max(ends) if ends and self.anchor.value else None

    def _run_steps(self) -> None:
        for step in self.runbook.steps:
            record = self.state.steps.get(step.id) if self.state else None
            if record is not None and record.finished_state:
                continue
            if record is not None and record.in_flight and not self._rerun_in_flight(step):
                continue
            self._run_step(step)

    def _rerun_in_flight(self, step: model.Step) -> bool:
        answer = self._decide(
            "in-flight",
            f"step '{step.id}' was in flight; re-run it?",
            step.id,
            lambda: self.operator.rerun_in_flight(step.id),
        )
        if answer == "rerun":
            return True
        if answer == "skip":
            self.recorder.emit(
                "step_finished",
                step=step.id,
                status="skipped",
                reason="skipped on resume by operator",
            )
            return False
        if answer == "rollback":
            raise StartRollback(f"operator chose rollback on resume at '{step.id}'", "operator")
        raise PauseLaunch(
            f"step '{step.id}' was in flight; re-run it with `launchctl resume --yes` or at a terminal",
            step.id,
        )

    def _run_step(self, step: model.Step) -> None:
        planned = self.settings.t0 + step.at
        if not self.settings.no_wait:
            self._block(lambda cancel: self.clock.sleep_until(planned, cancel))
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
            answer = self._decide(
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
            self._anchor_guards_at(step)
            self.recorder.emit(
                "step_started",
                step=step.id,
                title=step.title,
                offset=format_offset(step.at),
                planned=iso(planned),
                late_s=round(late, 3) if late >= 1 and not self.settings.no_wait else None,
                attempt=attempt,
                target=step.on,
            )
            outcome = self._block(
                lambda cancel: run_action(step, self._action_context(step, cancel), soak=step.wait),
                step.id,
            )
            if outcome.ok:
                self.recorder.emit("step_finished", step=step.id, status="ok")
                return
            reason = outcome.reason or "failed"
            self.recorder.emit("step_failed", step=step.id, status="failed", reason=reason)
            decision = decide_on_failure(
                step.on_failure, self.operator.interactive and not self.settings.yes
            )
            if decision is Decision.ASK:
                decision = Decision(
                    self._decide(
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
        self._stop_guards()
        previous = self.state.rollback if self.state and self.state.rollback else None
        planned = plan_rollback(self.runbook.rollback, self._started_ids)
        started = time.monotonic()
        if previous is None or previous.status is not None:
            self.recorder.emit(
                "rollback_started",
                reason=reason,
                trigger=trigger,
                steps=[p.step.id for p in planned if p.applies],
            )
            self._notify(f"ROLLBACK INITIATED - reason: {reason}", "rollback_started")
        values = {**self.values, "rollback.reason": reason, "rollback.trigger": trigger}
        result = RollbackResult()
        for item in planned:
            prior = previous.steps.get(item.step.id) if previous else None
            if prior is not None and prior.finished_state:
                result.steps.append(RollbackStepResult(item.step.id, prior.status, prior.reason))
                continue
            if prior is not None and prior.in_flight and not self._rerun_rollback_step(item.step):
                result.steps.append(
                    RollbackStepResult(item.step.id, "skipped", "skipped on resume by operator")
                )
                continue
            if not item.applies:
                self.recorder.emit(
                    "rollback_step_finished",
                    step=item.step.id,
                    status="skipped",
                    reason=item.why_not,
                )
                result.steps.append(RollbackStepResult(item.step.id, "skipped", item.why_not))
                continue
            result.steps.append(self._run_rollback_step(item.step, values))
        status = "complete" if result.complete else "incomplete"
        self.recorder.emit(
            "rollback_finished",
            status=status,
            duration_s=round(time.monotonic() - started, 3),
            failed=[r.step_id for r in result.failed] or None,
        )
        self._notify(
            "ROLLBACK COMPLETE" if result.complete else "ROLLBACK INCOMPLETE - a person must act",
            "rollback_finished",
        )
        if result.complete:
            return self._finish("rolled_back", EXIT_ROLLED_BACK)
        return self._finish("rollback_incomplete", EXIT_ROLLBACK_INCOMPLETE)

    def _rerun_rollback_step(self, step: model.RollbackStep) -> bool:
        answer = self._decide(
            "in-flight",
            f"rollback step '{step.id}' was in flight; re-run it?",
            step.id,
            lambda: self.operator.rerun_in_flight(step.id),
        )
        if answer in ("rerun", "rollback"):
            return True
        if answer == "skip":
            self.recorder.emit(
                "rollback_step_finished",
                step=step.id,
                status="skipped",
                reason="skipped on resume by operator",
            )
            return False
        raise PauseLaunch(
            f"rollback step '{step.id}' was in flight; re-run it with `launchctl resume --yes` or at a terminal",
            step.id,
        )

    def _run_rollback_step(
        self, step: model.RollbackStep, values: dict[str, str]
    ) -> RollbackStepResult:
        self.recorder.emit(
            "rollback_step_started", step=step.id, title=step.title, phase="rollback"
        )
        step_values = {**values, "step.id": step.id}
        result = self._block(
            lambda cancel: run_rollback_step(
                step, self._action_context(step, cancel, step_values, phase="rollback")
            ),
            step.id,
            phase="rollback",
        )
        self.recorder.emit(
            "rollback_step_finished",
            step=step.id,
            status=result.status,
            reason=result.reason,
            attempts=result.attempts,
        )
        return result

    def _finish(self, status: str, exit_code: int) -> int:
        self._notify(
            f"LAUNCH {status.upper().replace('_', ' ')}: {self.runbook.name}", "launch_finished"
        )
        self.recorder.emit("launch_finished", status=status, exit_code=exit_code)
        return exit_code

    # -- plumbing -------------------------------------------------------------------------------

    def _values(self, step: model.Action, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {**self.values, **(extra or {}), "step.id": step.id}

    def _action_context(
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
            notify=lambda message: self._notify(message, "step", step=action.id),
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

    def _notify(self, message: str, milestone: str, step: str | None = None) -> None:
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

    def _decide(self, kind: str, question: str, step: str | None, ask: Callable[[], str]) -> str:
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

    def _block(
        self, work: Callable[[CancelToken], T], step: str | None = None, phase: str = "launch"
    ) -> T:
        """Run ``work`` on a worker thread; meanwhile handle interrupts, cancelling the work when they demand it."""
        cancel = CancelToken()
        if self.clock.simulated:
            return self._run_inline(work, cancel, step, phase)
        box: dict[str, Any] = {}
        done = threading.Event()

        def target() -> None:
            try:
                box["value"] = work(cancel)
            except BaseException as exc:  # re-raised on the main thread below
                box["error"] = exc
            finally:
                done.set()
                self._wake.set()

        worker = threading.Thread(target=target, name=f"step-{step or 'wait'}", daemon=True)
        worker.start()
        interrupt: _Interrupt | None = None
        while not done.is_set():
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()
            found = self._pending_interrupt(phase)
            if found is not None and interrupt is None:
                interrupt = found
                cancel.cancel(found.reason)
        worker.join()
        if interrupt is None:
            interrupt = self._pending_interrupt(phase)
        if "error" in box:
            raise box["error"]
        if interrupt is not None:
            if step is not None and phase == "launch":
                self.recorder.emit("step_interrupted", step=step, reason=interrupt.reason)
            raise interrupt.as_exception(step)
        return box["value"]

    def _run_inline(
        self, work: Callable[[CancelToken], T], cancel: CancelToken, step: str | None, phase: str
    ) -> T:
        """On a simulated clock nothing blocks, so no worker thread: run, then look for interrupts."""
        value = work(cancel)
        interrupt = self._pending_interrupt(phase)
        if interrupt is not None:
            if step is not None and phase == "launch":
                self.recorder.emit("step_interrupted", step=step, reason=interrupt.reason)
            raise interrupt.as_exception(step)
        return value

    def _pending_interrupt(self, phase: str) -> _Interrupt | None:
        while self._signals:
            signum = self._signals.pop(0)
            if signum != signal.SIGINT:
                name = signal.Signals(signum).name
                return _Interrupt("pause", f"received {name}; launch paused, resumable", "signal")
            answer = self._decide(
                "interrupt", "Ctrl-C", None, lambda: self.operator.interrupted(phase)
            )
            if answer == "rollback" and phase != "rollback":
                return _Interrupt("rollback", "operator requested rollback (Ctrl-C)", "operator")
            if answer == "pause":
                return _Interrupt("pause", "paused by operator (Ctrl-C)", "operator")
            if answer == "end" and phase == "monitoring":
                return _Interrupt("end", "monitoring ended by operator", "operator")
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

    def _pending_guard_alert(self) -> _Interrupt | None:
        while True:
            try:
                guard, verdict = self._alerts.get_nowait()
            except queue.Empty:
                return None
            trigger = f"guard:{guard.id}"
            if verdict.action is GuardAction.WARN:
                self._notify(f"WARNING: {verdict.reason}", "guard_warning")
                continue
            if verdict.action is GuardAction.ROLLBACK:
                return _Interrupt("rollback", verdict.reason, trigger)
            answer = self._decide(
                "guard",
                verdict.reason,
                None,
                lambda v=verdict, g=guard: self.operator.guard_alert(g.id, v.reason),
            )
            if answer == "rollback":
                return _Interrupt("rollback", verdict.reason, trigger)
            if answer == "pause":
                return _Interrupt("pause", f"paused on {verdict.reason}", trigger)

    def _take_rollback_request(self, request: Path) -> _Interrupt:
        try:
            text = request.read_text(encoding="utf-8").strip()
        except OSError:
            text = ""
        request.unlink(missing_ok=True)
        reason = text.splitlines()[0] if text else "rollback requested from another terminal"
        self.recorder.emit("rollback_requested", reason=reason)
        return _Interrupt("rollback", reason, "operator")

    @contextmanager
    def _signal_handlers(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        wanted = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        previous = {signum: signal.getsignal(signum) for signum in wanted}
        for signum in wanted:
            signal.signal(signum, lambda s, _f: self._signals.append(s))
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
