"""The walk over the timeline: the same for a launch, a dry run, a drill and a plan.

What differs between those is injected: the clock (real, scaled, simulated),
the executor (real or describing), who answers questions (a person or the
headless rules) and the recorder's sinks. The walk never blocks on its own:
every wait goes through the ``LaunchLoop``, which takes guard verdicts,
signals, second-terminal requests and answers meanwhile and raises when the
course changes; this module decides what each step means.
"""

from __future__ import annotations

import contextlib
import getpass
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from launchctl.engine.control import EndMonitoring, PauseLaunch, StartRollback
from launchctl.engine.drill import DrillDriver, DrillSpec
from launchctl.engine.guard_supervisor import GuardSupervisor
from launchctl.engine.inbox import Inbox
from launchctl.engine.loop import LaunchLoop
from launchctl.engine.prompts import HeadlessRules, Question, TerminalPrompter
from launchctl.errors import JournalWriteFailed
from launchctl.journal.catalogue import iso, parse_iso
from launchctl.journal.reader import read_journal
from launchctl.journal.recorder import Recorder
from launchctl.journal.replay import LaunchState, replay
from rollback.policy import Decision, decide_on_failure
from rollback.run import (
    PriorStep,
    Remedy,
    RollbackStepResult,
    plan_rollback,
    run_rollback,
    run_rollback_step,
    worst_case_seconds,
)
from runbook import model
from runbook.durations import format_offset
from runbook.errors import EXIT_OK, EXIT_PAUSED, EXIT_ROLLBACK_INCOMPLETE, EXIT_ROLLED_BACK
from runbook.resolve import template_values
from runbook.templating import render
from steps.action import ActionContext, run_action
from steps.cancel import CancelToken
from steps.clock import Clock
from steps.executor import Executor, render_text
from steps.notify import Notifier


@dataclass
class LaunchSettings:
    """The one configuration of a launch: written whole into ``launch_started`` (``record``) and
    read back by ``resume``, ``launchctl rollback`` and drills (``from_record``), so nothing a
    launch was started with can be dropped on the way."""

    launch_id: str
    t0: datetime
    journal_dir: Path | None = None
    dry_run: bool = False
    no_wait: bool = False
    speed: float = 1.0
    yes: bool = False
    cwd: str | None = None
    user: str = field(default_factory=getpass.getuser)
    drill: DrillSpec | None = None
    var_overrides: dict[str, str] = field(default_factory=dict)
    targets_file: str | None = None
    gate_caution: bool = False  # the go/no-go said GO WITH CAUTION
    gate_override: str | None = None

    def record(self) -> dict[str, Any]:
        return {
            "t0": iso(self.t0),
            "dry_run": self.dry_run,
            "no_wait": self.no_wait,
            "speed": self.speed,
            "yes": self.yes,
            "cwd": self.cwd,
            "user": self.user,
            "drill": self.drill.to_data() if self.drill else None,
            "var_overrides": self.var_overrides or None,
            "targets_file": self.targets_file,
            "gate_caution": self.gate_caution or None,
            "gate_override": self.gate_override,
        }

    @classmethod
    def from_record(
        cls, launch: Mapping[str, Any], journal_dir: Path, yes: bool, user: str | None = None
    ) -> LaunchSettings:
        """Settings from a ``launch_started`` event; ``yes`` and the user are this process's own."""
        drill = launch.get("drill")
        return cls(
            launch_id=str(launch["launch_id"]),
            t0=parse_iso(launch["t0"]),
            journal_dir=journal_dir,
            dry_run=bool(launch.get("dry_run")),
            no_wait=bool(launch.get("no_wait")),
            speed=float(launch.get("speed") or 1),
            yes=yes,
            cwd=launch.get("cwd"),
            user=user or getpass.getuser(),
            drill=DrillSpec(**drill) if isinstance(drill, dict) else None,
            var_overrides=dict(launch.get("var_overrides") or {}),
            targets_file=launch.get("targets_file"),
            gate_caution=bool(launch.get("gate_caution")),
            gate_override=launch.get("gate_override"),
        )


class Engine:
    def __init__(
        self,
        runbook: model.Runbook,
        settings: LaunchSettings,
        recorder: Recorder,
        prompter: TerminalPrompter | None,
        clock: Clock,
        executor: Executor,
        environ: Mapping[str, str],
        notifier: Notifier | None = None,
        state: LaunchState | None = None,
    ) -> None:
        self.runbook = runbook
        self.settings = settings
        self.recorder = recorder
        self.clock = clock
        self.loop = loop = LaunchLoop(
            clock,
            recorder,
            HeadlessRules(settings.yes),
            prompter,
            Inbox(settings.journal_dir),
            self.notify,
            settings.user,
        )
        self.executor = executor
        self.environ = environ
        self.notifier = notifier
        self.state = state
        self._started_ids: set[str] = set(state.started_step_ids) if state else set()
        self.past_no_return: dict[str, Any] | None = state.point_of_no_return if state else None
        self.phase = "launch"  # what notifications say the launch is doing
        self._went_live = False
        self.values = template_values(runbook, t0=iso(settings.t0), launch_id=settings.launch_id)
        self.guards = GuardSupervisor(
            runbook,
            clock,
            recorder,
            self.values,
            environ,
            loop.guard_alert,
            GuardSupervisor.recorded_times(settings.t0, state),
            executor.dry_run,
        )
        self.drills = DrillDriver(
            settings.drill,
            runbook,
            recorder,
            clock,
            self.guards.times,
            loop.guard_alert,
            self.notify,
        )
        loop.sources.append(self.drills.poll)
        loop.guards_watching = self.guards.watching

    # -- the walk -----------------------------------------------------------------------------

    def run(self) -> int:
        """Drive the launch to an end; returns the exit code."""
        with self.loop.signal_handlers(), contextlib.closing(self.loop):
            try:
                self.guards.start()
                return self._course()
            except JournalWriteFailed:
                self._stop_watching()
                raise
            except PauseLaunch as pause:
                return self._leave_paused(pause)

    def roll_back(self, reason: str, trigger: str, forced_by: str | None = None) -> int:
        """Run the rollback sequence now (``launchctl rollback`` with no live driver)."""
        with self.loop.signal_handlers(), contextlib.closing(self.loop):
            try:
                return self._remedy(Remedy.ROLLBACK, reason, trigger, forced_by)
            except PauseLaunch as pause:
                return self._leave_paused(pause)

    def _course(self) -> int:
        """Drive; then answer what stopped the walk: a person's pause holds here after go-live
        (guards watching), a rollback is run, or past the point of no return rolls forward or
        waits for a person. Going on after either re-reads the journal and drives again."""
        while True:
            try:
                return self._drive()
            except PauseLaunch as pause:
                if not (pause.hold_ok and self.loop.interactive and self.guards.watching()):
                    raise
                wanted = self._hold(pause)
            except StartRollback as start:
                wanted = start
            while wanted is not None:
                try:
                    code = self._undo(wanted)
                    wanted = None
                except StartRollback as again:  # forced while a person was deciding
                    wanted = again
                    continue
                if code is not None:
                    return code
            self._reload_state()

    def _hold(self, pause: PauseLaunch) -> StartRollback | None:
        """Stay in this process, timeline held, guards watching, until the operator says.

        Returns the rollback decided while held, or None to go on.
        """
        stopping = self.loop.settle()
        self.phase = "held"
        self.recorder.emit(
            "launch_held",
            reason=pause.reason,
            step=pause.step,
            guards=self.guards.watch.open_guards() if self.guards.watch else None,
            still_stopping=stopping or None,
        )
        while True:
            try:
                answer = self.loop.ask(
                    Question(
                        "held",
                        f"Launch held ({pause.reason}); guards are watching.",
                        ("resume", "rollback", "exit"),
                        "resume",
                    ),
                    phase="hold",
                )
            except StartRollback as start:
                return start
            if answer.value == "resume":
                break
            if answer.value == "rollback":
                return StartRollback("operator chose rollback while held", "operator")
            if self._confirm_leaving():
                raise PauseLaunch(pause.reason, pause.step)
        self.recorder.emit("launch_unheld", user=self.settings.user)
        self.phase = "launch"
        return None

    def _confirm_leaving(self) -> bool:
        if not self.guards.watching():
            return True
        leave = self.loop.ask(
            Question(
                "leave", "Guards stop watching when launchctl exits. Leave anyway?", ("yes", "no")
            ),
            phase="hold",
        )
        return leave.value == "yes"

    def _reload_state(self) -> None:
        """Going on after a hold is resuming from the journal: it is the truth of what finished."""
        if self.settings.journal_dir is None:
            return
        read = read_journal(self.settings.journal_dir)
        self.state = replay(read.events, read.torn_lines)
        self._started_ids |= self.state.started_step_ids

    def _leave_paused(self, pause: PauseLaunch) -> int:
        still = self.loop.settle()
        self._stop_watching()
        self.recorder.emit(
            "launch_paused",
            reason=pause.reason,
            step=pause.step,
            journal=str(self.settings.journal_dir or ""),
            still_stopping=still or None,
        )
        return EXIT_PAUSED

    def _drive(self) -> int:
        """The timeline from where the journal says the launch is, to its end (or an exception)."""
        for remedy in Remedy:
            unfinished = getattr(self.state, remedy.value, None) if self.state else None
            if unfinished is not None and unfinished.status is None:
                return self._remedy(
                    remedy, unfinished.reason or f"resumed {remedy}", unfinished.trigger or "?"
                )
        if self.state is None:
            self.notify(
                f"LAUNCH STARTED: {self.runbook.name} (T0 {self.values['t0']})", "launch_started"
            )
        self._run_steps()
        self.guards.steps_done(self.clock.now())
        self._monitor()
        self._stop_watching()
        return self.finish("completed", EXIT_OK)

    def _stop_watching(self) -> None:
        self.guards.ended(self.clock.now())
        self.guards.stop()

    def _monitor(self) -> None:
        """After the last step: stay until every guard window has closed, unless the operator ends it."""
        end = self.guards.monitoring_end()
        if end is None or end <= self.clock.now():
            return
        self.drills.breach_if_due(end)
        self.phase = "monitoring"
        self.recorder.emit("monitoring_started", until=end)
        try:
            self.loop.sleep_until(end, phase="monitoring")
        except EndMonitoring as ended:
            self.recorder.emit("monitoring_finished", reason=ended.reason)
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

    def _run_steps(self) -> None:
        for step in self.runbook.steps:
            record = self.state.steps.get(step.id) if self.state else None
            if record is not None and record.finished_state:
                continue
            if (
                record is not None
                and record.in_flight
                and not self.rerun_in_flight(step.id, "step")
            ):
                continue
            self._run_step(step)

    def rerun_in_flight(self, step_id: str, kind: str) -> bool:
        """On resume, a step the journal shows started but not finished: re-run it only if asked to.

        ``skip`` records it finished-as-skipped; ``rollback`` (launch steps only) starts the
        rollback; anything else pauses, because nobody was there to say yes.
        """
        phase = "launch" if kind == "step" else "rollback"
        answer = self.loop.ask(
            Question(
                "in-flight",
                f"{kind} {step_id} was in flight when the launch stopped",
                ("rerun", "skip", "rollback", "pause"),
                "rerun",
                step=step_id,
            ),
            phase=phase,
        ).value
        if answer == "rerun" or (answer == "rollback" and kind != "step"):
            return True
        if answer == "skip":
            self.recorder.emit(
                "step_finished" if kind == "step" else "rollback_step_finished",
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
            self.loop.sleep_until(planned)
        if self.drills.fails_at(step):
            self._started_ids.add(step.id)
            reason = self.drills.inject_step_failure(step, planned)
            raise StartRollback(reason, step.id)
        if step.confirm and not self._confirmed(step):
            return
        if step.irreversible is not None and self.past_no_return is None:
            self._pass_point_of_no_return(step)
        self._execute(step, planned)

    def _pass_point_of_no_return(self, step: model.Step) -> None:
        """From here on a failure rolls forward or asks a person: say so, and under a GO WITH
        CAUTION gate ask a person first, ``--yes`` or not, unless ``--override-gate`` said why."""
        if (
            self.settings.gate_caution
            and not self.settings.gate_override
            and not self.executor.dry_run
        ):
            answer = self.loop.ask(
                Question(
                    "caution",
                    f"GO WITH CAUTION: '{step.id}' is the point of no return ({step.irreversible}). "
                    "Go past it?",
                    ("yes", "no"),
                    "no",
                    step=step.id,
                    remote=True,
                )
            )
            if answer.value != "yes":
                raise PauseLaunch(
                    f"not past the point of no return '{step.id}' ({answer.by}, {answer.how})",
                    step.id,
                )
        self.past_no_return = self.recorder.emit(
            "point_of_no_return", step=step.id, reason=step.irreversible
        )
        self.notify(f"POINT OF NO RETURN: {step.title} ({step.irreversible})", "point_of_no_return")

    def _confirmed(self, step: model.Step) -> bool:
        """Ask the step's question; False means the operator chose to skip the step."""
        confirm = step.confirm
        question = render_text(confirm.question, self._values(step))
        if self.executor.dry_run:
            self.recorder.emit("confirm_requested", step=step.id, question=question, dry_run=True)
            return True
        timeout = confirm.timeout.total_seconds() if confirm.timeout else None
        while True:
            self.recorder.emit(
                "confirm_requested",
                step=step.id,
                question=question,
                timeout_s=timeout,
                on_timeout=confirm.on_timeout if timeout else None,
            )
            answer = self.loop.ask(
                Question(
                    "confirm",
                    question,
                    ("yes", "no"),
                    "no",
                    step=step.id,
                    timeout=timeout,
                    on_timeout=confirm.on_timeout,
                    remote=True,
                )
            )
            outcome = self._after_confirm(step, question, answer.value, answer.how)
            if outcome is not None:
                return outcome

    def _after_confirm(self, step: model.Step, question: str, value: str, how: str) -> bool | None:
        """What an answer to a confirmation means: True go on, False skip, None ask again."""
        if value in ("yes", "continue"):
            return True
        if value == "rollback":
            raise StartRollback(f"'{step.id}' not confirmed ({how}); rollback", "operator")
        if value == "pause" or (value == "reject" and not self.loop.interactive):
            why = (
                "waiting for confirmation"
                if self.loop.interactive
                else ("confirmation needed and no terminal (use --yes, or `launchctl approve`)")
            )
            if value == "reject":
                why = "confirmation rejected from another terminal"
            raise PauseLaunch(f"{why}: {question}", step.id)
        follow = self.loop.ask(
            Question(
                "not-confirmed",
                question,
                ("rollback", "pause", "skip", "ask-again"),
                "pause",
                step=step.id,
            )
        ).value
        if follow == "skip":
            self.recorder.emit(
                "step_finished",
                step=step.id,
                status="skipped",
                reason="not confirmed; skipped by operator",
            )
            return False
        if follow == "ask-again":
            return None
        return self._after_confirm(step, question, follow, "terminal")

    def _execute(self, step: model.Step, planned: datetime) -> None:
        attempt = 0
        while True:
            attempt += 1
            actual = self.clock.now()
            late = (actual - planned).total_seconds()
            self._started_ids.add(step.id)
            self.guards.went_live(step, actual)
            self.recorder.emit(
                "step_started",
                step=step.id,
                title=step.title,
                offset=format_offset(step.at),
                planned=planned,
                late_s=round(late, 3) if self._is_late(late) else None,
                attempt=attempt,
                target=step.on,
                hosts=self._host_count(step),
            )
            if self.executor.dry_run:
                self._preview_remedy(step)
            outcome = self.loop.run(
                lambda cancel: run_action(step, self.action_context(step, cancel), soak=step.wait),
                step.id,
            )
            if outcome.ok:
                self.recorder.emit("step_finished", step=step.id, status="ok")
                self.guards.times.finished[step.id] = self.clock.now()
                if step.at >= timedelta(0) and not self._went_live:
                    self._went_live = True
                    self.notify(f"GO-LIVE DONE: {step.title}", "go_live", step=step.id)
                return
            if not self._after_failure(step, outcome.reason or "failed"):
                return

    def _after_failure(self, step: model.Step, reason: str) -> bool:
        """Follow ``on_failure``; True means run the step again."""
        self.recorder.emit("step_failed", step=step.id, status="failed", reason=reason)
        decision = decide_on_failure(
            step.on_failure, self.loop.interactive and not self.settings.yes
        )
        if decision is Decision.ASK:
            decision = Decision(
                self.loop.ask(
                    Question(
                        "on-failure",
                        f"step {step.id} failed: {reason}",
                        ("rollback", "retry", "continue", "pause"),
                        "rollback",
                        step=step.id,
                    )
                ).value
            )
        if decision is Decision.RETRY:
            return True
        if decision is Decision.CONTINUE:
            self.recorder.emit(
                "step_finished", step=step.id, status="failed", reason=reason, continued=True
            )
            return False
        if decision is Decision.PAUSE:
            raise PauseLaunch(
                f"paused after step '{step.id}' failed: {reason}", step.id, hold_ok=True
            )
        self.recorder.emit("step_finished", step=step.id, status="failed", reason=reason)
        raise StartRollback(f"step '{step.id}' failed: {reason}", step.id)

    # -- rollback -------------------------------------------------------------------------------

    def _preview_remedy(self, step: model.Step) -> None:
        """Dry runs: what a failure of this step would run (rollback, or roll-forward past the point)."""
        forward = self.past_no_return is not None and bool(self.runbook.roll_forward)
        steps = self.runbook.roll_forward if forward else self.runbook.rollback
        planned = plan_rollback(steps, self._started_ids)
        self.recorder.emit(
            "remedy_preview",
            step=step.id,
            remedy="roll_forward" if forward else "rollback",
            would_run=[p.step.id for p in planned if p.applies],
            would_skip=[p.step.id for p in planned if not p.applies] or None,
            person_decides=self.past_no_return is not None and not forward or None,
            dry_run=True,
        )

    def _undo(self, start: StartRollback) -> int | None:
        """A rollback was asked for. Before the point of no return it runs; past it the runbook's
        roll_forward runs instead, or a person decides (guards still watching). None: go on."""
        if self.past_no_return is None or start.forced_by:
            return self._remedy(Remedy.ROLLBACK, start.reason, start.trigger, start.forced_by)
        if self.runbook.roll_forward:
            return self._remedy(Remedy.ROLL_FORWARD, start.reason, start.trigger)
        return self._decide_past_no_return(start)

    def _decide_past_no_return(self, start: StartRollback) -> int | None:
        step = self.past_no_return
        why = (
            f"{start.reason} -- past the point of no return ('{step['step']}': {step['reason']}), "
            "a rollback would not undo it and there is no roll_forward"
        )
        self.phase = "waiting for a decision"
        self.recorder.emit("decision_needed", reason=why, trigger=start.trigger)
        self.notify(f"A PERSON MUST DECIDE: {why}", "decision_needed")
        answer = self.loop.ask(
            Question(
                "past-no-return",
                why,
                ("rollback-anyway", "continue", "pause"),
                "pause",
                remote=True,
                step=step["step"],
            ),
            phase="past-no-return",
        )
        if answer.value == "rollback-anyway":
            return self._remedy(Remedy.ROLLBACK, start.reason, start.trigger, answer.by)
        if answer.value in ("continue", "yes"):
            return None
        raise PauseLaunch(f"a person must decide: {why}", step["step"])

    def _remedy(
        self, remedy: Remedy, reason: str, trigger: str, forced_by: str | None = None
    ) -> int:
        """Run the rollback or the roll-forward sequence, resuming it if the journal shows it begun."""
        self._stop_watching()
        self.phase = remedy.value
        self.loop.inbox.discard_rollback()
        previous = getattr(self.state, remedy.value, None) if self.state else None
        resuming = previous is not None and previous.status is None
        self.drills.rollback_started(time.monotonic())
        prior = (
            {
                sid: PriorStep(rec.status if rec.finished_state else None, rec.reason)
                for sid, rec in previous.steps.items()
            }
            if resuming
            else None
        )
        steps = self.runbook.rollback if remedy is Remedy.ROLLBACK else self.runbook.roll_forward
        if self.executor.dry_run:
            self.drills.estimate(worst_case_seconds(steps, self._started_ids))
        extra = {"forced_past_no_return_by": forced_by} if forced_by else {}
        result, _duration = run_rollback(
            steps,
            self._started_ids,
            reason,
            trigger,
            _RollbackHooks(self, reason, trigger),
            prior,
            remedy,
            **extra,
        )
        done = "rolled_back" if remedy is Remedy.ROLLBACK else "rolled_forward"
        if result.complete:
            return self.finish(done, EXIT_ROLLED_BACK)
        return self.finish(f"{remedy}_incomplete", EXIT_ROLLBACK_INCOMPLETE)

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
            env[name] = render(template, values, self.environ)
        return env

    def notify(
        self,
        message: str,
        milestone: str,
        step: str | None = None,
        guard: Mapping[str, Any] | None = None,
    ) -> None:
        """Journal a milestone and send it (a dry run only says it would)."""
        self.recorder.emit(
            "notification",
            message=message,
            milestone=milestone,
            step=step,
            guard=dict(guard) if guard else None,
            dry_run=self.executor.dry_run or None,
        )
        if self.notifier is None or self.executor.dry_run:
            return
        now = self.clock.now()
        self.notifier.send(
            self.recorder.masker.text(message),
            self.recorder.masker.data(
                {
                    "time": iso(self.clock.real_now()),
                    "launch": self.settings.launch_id,
                    "name": self.runbook.name,
                    "milestone": milestone,
                    "step": step,
                    "t_offset": format_offset(
                        timedelta(seconds=round((now - self.settings.t0).total_seconds()))
                    ),
                    "phase": self.phase,
                    "guard": dict(guard) if guard else None,
                }
            ),
        )


class _RollbackHooks:
    """What the rollback run acts through: the engine's journal, notifications and loop."""

    def __init__(self, engine: Engine, reason: str, trigger: str) -> None:
        self.engine = engine
        self.values = {**engine.values, "rollback.reason": reason, "rollback.trigger": trigger}

    def emit(self, event: str, **fields: Any) -> None:
        self.engine.recorder.emit(event, **fields)

    def notify(self, message: str, milestone: str) -> None:
        self.engine.notify(message, milestone)

    def rerun_in_flight(self, step_id: str) -> bool:
        return self.engine.rerun_in_flight(step_id, "rollback step")

    def perform(self, step: model.RollbackStep, remedy: Remedy) -> RollbackStepResult:
        engine = self.engine
        if engine.loop.settle():
            engine.recorder.emit(
                "work_abandoned", reason="an interrupted step did not stop in time", step=step.id
            )
        engine.recorder.emit(
            f"{remedy}_step_started", step=step.id, title=step.title, phase=remedy.value
        )
        values = {**self.values, "step.id": step.id}
        result = engine.loop.run(
            lambda cancel: run_rollback_step(
                step, engine.action_context(step, cancel, values, phase=remedy.value)
            ),
            step.id,
            phase="rollback",
        )
        engine.recorder.emit(
            f"{remedy}_step_finished",
            step=step.id,
            status=result.status,
            reason=result.reason,
            attempts=result.attempts,
        )
        return result
