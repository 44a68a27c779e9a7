"""The walk over the timeline: each step at its T-offset, confirmed, run and checked, then
monitoring until the last guard window closes.

The walk decides what a step means (a confirmation's answer, ``on_failure``, the point of no
return) and waits for nothing by itself: every wait goes through the ``LaunchLoop``. It ends
by returning (the timeline is done) or by raising what changes the course (``StartRollback``,
``PauseLaunch``), which the engine answers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from launchctl.engine.contexts import ActionContexts
from launchctl.engine.control import EndMonitoring, PauseLaunch, StartRollback
from launchctl.engine.drill import DrillDriver
from launchctl.engine.fleet import host_plan, hosts_in_flight
from launchctl.engine.guard_supervisor import GuardSupervisor
from launchctl.engine.loop import LaunchLoop
from launchctl.engine.milestones import Milestones
from launchctl.engine.prompts import Question
from launchctl.engine.settings import LaunchSettings
from launchctl.journal.recorder import Recorder
from launchctl.journal.replay import LaunchState, StepRecord
from rollback.policy import Decision, decide_on_failure
from rollback.run import plan_rollback
from runbook import model
from runbook.durations import format_offset
from steps.action import run_action
from steps.clock import Clock
from steps.executor import Executor, render_text
from steps.host_records import RecordKey


class TimelineWalk:
    def __init__(
        self,
        runbook: model.Runbook,
        settings: LaunchSettings,
        recorder: Recorder,
        loop: LaunchLoop,
        clock: Clock,
        executor: Executor,
        guards: GuardSupervisor,
        drills: DrillDriver,
        milestones: Milestones,
        contexts: ActionContexts,
        state: LaunchState | None,
    ) -> None:
        self.runbook = runbook
        self.settings = settings
        self.recorder = recorder
        self.loop = loop
        self.clock = clock
        self.executor = executor
        self.guards = guards
        self.drills = drills
        self.milestones = milestones
        self.contexts = contexts
        self.reload(state)
        self._went_live = False

    def reload(self, state: LaunchState | None) -> None:
        """Where the launch stands, from its journal: what finished, what started, the point."""
        self.state = state
        self.started_ids: set[str] = set(state.started_step_ids) if state else set()
        self.past_no_return: dict[str, Any] | None = state.point_of_no_return if state else None

    def drive(self) -> None:
        """Every step not finished yet, then monitoring; returns when the timeline is done."""
        self._run_steps()
        self.guards.steps_done(self.clock.now())
        self._monitor()

    def _monitor(self) -> None:
        """After the last step: stay until every guard window has closed, unless the operator ends it."""
        end = self.guards.monitoring_end()
        if end is None or end <= self.clock.now():
            return
        self.drills.breach_if_due(end)
        self.milestones.phase = "monitoring"
        self.recorder.emit("monitoring_started", until=end)
        try:
            self.loop.sleep_until(end, phase="monitoring")
        except EndMonitoring as ended:
            self.recorder.emit("monitoring_finished", reason=ended.reason)
            return
        self.recorder.emit("monitoring_finished", reason="every guard window has closed")

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
            resumed = None
            if record is not None and record.in_flight:
                key = RecordKey(self.settings.launch_id, step.id)
                hosts = hosts_in_flight(self.loop, self.executor, self.runbook, key, step, record)
                if not self.rerun_in_flight(step.id, "step", hosts):
                    continue
                resumed = record
            self._run_step(step, resumed)

    def rerun_in_flight(self, step_id: str, kind: str, hosts: str | None = None) -> bool:
        """On resume, a step the journal shows started but not finished: re-run it only if asked to.

        ``hosts`` says, for a fan-out step, which hosts had finished and what each host in
        flight says of its command; re-running it runs only the hosts that must run again.
        ``skip`` records it finished-as-skipped; ``rollback`` (launch steps only) starts the
        rollback; anything else pauses, because nobody was there to say yes.
        """
        phase = "launch" if kind == "step" else "rollback"
        detail = f": {hosts}" if hosts else ""
        answer = self.loop.ask(
            Question(
                "in-flight",
                f"{kind} {step_id} was in flight when the launch stopped{detail}",
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
            f"{kind} '{step_id}' was in flight{detail}; re-run it with `launchctl resume --yes` "
            "or at a terminal",
            step_id,
        )

    def _run_step(self, step: model.Step, resumed: StepRecord | None = None) -> None:
        planned = self.settings.t0 + step.at
        if not self.settings.no_wait:
            self.drills.breach_if_due(planned)
            self.loop.sleep_until(planned)
        if self.drills.fails_at(step):
            self.started_ids.add(step.id)
            reason = self.drills.inject_step_failure(step, planned)
            raise StartRollback(reason, step.id)
        if step.confirm and not self._confirmed(step):
            return
        if step.irreversible is not None and self.past_no_return is None:
            self._pass_point_of_no_return(step)
        self._execute(step, planned, resumed)

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
        self.milestones.notify(
            f"POINT OF NO RETURN: {step.title} ({step.irreversible})", "point_of_no_return"
        )

    def _confirmed(self, step: model.Step) -> bool:
        """Ask the step's question; False means the operator chose to skip the step."""
        confirm = step.confirm
        question = render_text(confirm.question, self.contexts.values(step))
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

    def _execute(
        self, step: model.Step, planned: datetime, resumed: StepRecord | None = None
    ) -> None:
        attempt = 0
        while True:
            attempt += 1
            actual = self.clock.now()
            late = (actual - planned).total_seconds()
            self.started_ids.add(step.id)
            self.guards.went_live(step, actual)
            fail_wave = self.drills.fail_wave(step)
            plan = host_plan(self.runbook, step, resumed if attempt == 1 else None, fail_wave)
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
                waves=[list(batch) for batch in plan.batches] if plan and plan.in_waves else None,
                resumed=bool(plan and (plan.done or plan.in_flight)) or None,
            )
            if self.executor.dry_run:
                self._preview_remedy(step)
            record = RecordKey(self.settings.launch_id, step.id)
            outcome = self.loop.run(
                lambda cancel, plan=plan, record=record: run_action(
                    step,
                    self.contexts.for_action(step, cancel, hosts=plan, record=record),
                    soak=step.wait,
                ),
                step.id,
            )
            if outcome.ok:
                self.recorder.emit("step_finished", step=step.id, status="ok")
                self.guards.times.finished[step.id] = self.clock.now()
                if step.at >= timedelta(0) and not self._went_live:
                    self._went_live = True
                    self.milestones.notify(f"GO-LIVE DONE: {step.title}", "go_live", step=step.id)
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

    def _preview_remedy(self, step: model.Step) -> None:
        """Dry runs: what a failure of this step would run (rollback, or roll-forward past the point)."""
        forward = self.past_no_return is not None and bool(self.runbook.roll_forward)
        steps = self.runbook.roll_forward if forward else self.runbook.rollback
        planned = plan_rollback(steps, self.started_ids)
        self.recorder.emit(
            "remedy_preview",
            step=step.id,
            remedy="roll_forward" if forward else "rollback",
            would_run=[p.step.id for p in planned if p.applies],
            would_skip=[p.step.id for p in planned if not p.applies] or None,
            person_decides=self.past_no_return is not None and not forward or None,
            dry_run=True,
        )
