"""The engine: a launch's course, the same for a launch, a dry run, a drill and a plan.

It assembles the loop, guards, drills and the walk (``walk.TimelineWalk``) and
answers what stops the walk: a person's pause holds in this process with guards
watching; a rollback runs (``rollback.run``), or past the point of no return the
roll-forward, or a person decides. What differs between a launch and its
rehearsals is injected: the clock (real, scaled, simulated), the executor (real
or describing), who answers questions and the recorder's sinks.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping, Sequence
from typing import Any

from launchctl.engine.baselines import BaselineBook
from launchctl.engine.baselines import users as baseline_users
from launchctl.engine.contexts import ActionContexts
from launchctl.engine.control import PauseLaunch, StartRollback
from launchctl.engine.drill import DrillDriver
from launchctl.engine.guard_supervisor import GuardSupervisor
from launchctl.engine.inbox import Inbox
from launchctl.engine.loop import LaunchLoop
from launchctl.engine.milestones import Milestones
from launchctl.engine.prompts import HeadlessRules, Question, TerminalPrompter
from launchctl.engine.settings import LaunchSettings
from launchctl.engine.walk import TimelineWalk
from launchctl.errors import JournalWriteFailed
from launchctl.journal.catalogue import iso
from launchctl.journal.reader import read_journal
from launchctl.journal.recorder import Recorder
from launchctl.journal.replay import LaunchState, replay
from rollback.run import (
    PriorStep,
    Remedy,
    RollbackStepResult,
    run_rollback,
    run_rollback_step,
    worst_case_seconds,
)
from rollback.touched import undo_plan
from runbook import model
from runbook.errors import EXIT_OK, EXIT_PAUSED, EXIT_ROLLBACK_INCOMPLETE, EXIT_ROLLED_BACK
from runbook.resolve import template_values
from steps.clock import Clock
from steps.executor import Executor, prometheus_url
from steps.host_plan import HostPlan
from steps.host_records import RecordKey
from steps.notify import Notifier


class Engine:
    """One launch's parts, wired once: the loop, milestones, baselines and guards, drills, the
    action contexts and the walk; ``run`` then decides the course."""

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
        baselines: Sequence[Mapping[str, Any]] = (),
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
        self.milestones = Milestones(
            recorder,
            notifier,
            settings.launch_id,
            runbook.name,
            settings.t0,
            clock,
            executor.dry_run,
        )
        self.values = template_values(runbook, t0=iso(settings.t0), launch_id=settings.launch_id)
        self.baselines, self.guards = self._watchers(state, baselines)
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
        self.contexts, self.walk = self._walk(state)

    def _watchers(
        self, state: LaunchState | None, measured: Sequence[Mapping[str, Any]]
    ) -> tuple[BaselineBook, GuardSupervisor]:
        """The launch's baselines (those the journal or start-up already hold, and the rest on
        demand) and the guards that judge by them, their windows hung on the recorded go-live."""
        times = GuardSupervisor.recorded_times(self.settings.t0, state)
        book = BaselineBook(
            prometheus_url(self.runbook, self.values, self.environ),
            self.clock,
            times,
            self.recorder.emit,
            baseline_users(self.runbook, self.values),
            [*(state.baselines if state else ()), *measured],
        )
        guards = GuardSupervisor(
            self.runbook,
            self.clock,
            self.recorder,
            self.values,
            self.environ,
            self.loop.guard_alert,
            times,
            self.executor.dry_run,
            book,
        )
        return book, guards

    def _walk(self, state: LaunchState | None) -> tuple[ActionContexts, TimelineWalk]:
        """What each action runs with, and the walk over the timeline that runs them."""
        contexts = ActionContexts(
            self.runbook,
            self.settings,
            self.recorder,
            self.executor,
            self.clock,
            self.environ,
            self.values,
            self.milestones,
            self.drills,
            state,
            self.baselines.for_check,
        )
        walk = TimelineWalk(
            self.runbook,
            self.settings,
            self.recorder,
            self.loop,
            self.clock,
            self.executor,
            self.guards,
            self.drills,
            self.milestones,
            contexts,
            state,
        )
        return contexts, walk

    @property
    def started_ids(self) -> set[str]:
        return self.walk.started_ids

    @property
    def past_no_return(self) -> dict[str, Any] | None:
        return self.walk.past_no_return

    # -- the course ---------------------------------------------------------------------------

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
        self.walk.reload(self.state)
        self.contexts.reload(self.state)

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
        self.walk.drive()
        self._stop_watching()
        return self.finish("completed", EXIT_OK)

    def _stop_watching(self) -> None:
        self.guards.ended(self.clock.now())
        self.guards.stop()
        self.baselines.close()

    # -- rollback -------------------------------------------------------------------------------

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
            self.drills.estimate(worst_case_seconds(steps, self.started_ids))
        extra = {"forced_past_no_return_by": forced_by} if forced_by else {}
        result, _duration = run_rollback(
            steps,
            self.started_ids,
            reason,
            trigger,
            _RollbackHooks(self, reason, trigger),
            prior,
            remedy,
            lambda step: undo_plan(step, self.runbook, self.contexts.touched),
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

    def notify(
        self,
        message: str,
        milestone: str,
        step: str | None = None,
        guard: Mapping[str, Any] | None = None,
    ) -> None:
        self.milestones.notify(message, milestone, step, guard)

    @property
    def phase(self) -> str:
        return self.milestones.phase

    @phase.setter
    def phase(self, value: str) -> None:
        self.milestones.phase = value


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
        return self.engine.walk.rerun_in_flight(step_id, "rollback step")

    def perform(
        self, step: model.RollbackStep, remedy: Remedy, hosts: HostPlan | None
    ) -> RollbackStepResult:
        engine = self.engine
        if engine.loop.settle():
            engine.recorder.emit(
                "work_abandoned", reason="an interrupted step did not stop in time", step=step.id
            )
        engine.recorder.emit(
            f"{remedy}_step_started",
            step=step.id,
            title=step.title,
            phase=remedy.value,
            hosts=len(hosts.hosts) if hosts is not None else None,
            waves=[list(batch) for batch in hosts.batches] if hosts is not None else None,
            wave_numbers=list(hosts.numbers) if hosts is not None and hosts.in_waves else None,
            undoes=step.if_started if hosts is not None else None,
        )
        values = {**self.values, "step.id": step.id}
        record = RecordKey(engine.settings.launch_id, f"{remedy.value}.{step.id}")
        result = engine.loop.run(
            lambda cancel: run_rollback_step(
                step,
                engine.contexts.for_action(
                    step, cancel, values, phase=remedy.value, hosts=hosts, record=record
                ),
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
