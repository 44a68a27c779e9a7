"""``launchctl watch`` and ``launchctl checkpoint``: the launch's checkpoints, run against its journal.

Both own the journal like a launch does (its lock; a second driver gets exit
2) and append to it with the launch's recorder: a ``checkpoint_result`` per
slot, the baselines they measure, the notifications they send. What the
journal holds is never run again, so ``watch`` resumes like a launch and
``checkpoint`` (a systemd timer's or cron's command) may be called as often
as anyone likes: it runs what is due and not yet recorded, once, and its exit
code says how the newest checkpoint went (0 passed, 1 failed or could not tell).
A failure notifies, or with ``then: ask`` asks the person at ``watch``'s
terminal; it never rolls back by itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from launchctl.engine.assembly import (
    _delivery_recorder,
    _locked_state,
    _masker,
    _recorded_runbook,
    _resumed_clock,
    require_secrets,
    terminal_prompter,
)
from launchctl.engine.baselines import BaselineBook, users
from launchctl.engine.control import EndMonitoring, PauseLaunch, StartRollback
from launchctl.engine.inbox import Inbox
from launchctl.engine.loop import LaunchLoop
from launchctl.engine.milestones import Milestones
from launchctl.engine.prompts import HeadlessRules, Question
from launchctl.engine.settings import LaunchSettings
from launchctl.journal.catalogue import iso
from launchctl.journal.recorder import Recorder
from launchctl.journal.replay import LaunchState
from launchctl.journal.writer import JournalWriter
from launchctl.views.plain import PlainConsole
from launchctl.watch.evaluate import MISSED, CheckpointJudge
from launchctl.watch.slots import DueSlot, due_now, plan, planned, upcoming
from rollback.guards import LaunchTimes
from runbook import model
from runbook.errors import EXIT_OK, EXIT_PAUSED, EXIT_ROLLED_BACK, InputError
from runbook.resolve import template_values
from steps.cancel import CancelToken
from steps.clock import Clock, ScaledClock
from steps.executor import RealExecutor, prometheus_url
from steps.http import HttpSession
from steps.notify import Notifier

ENDED = {"rolled_back", "rollback_incomplete", "rolled_forward", "roll_forward_incomplete"}


@dataclass
class WatchOptions:
    once: bool  # ``checkpoint``: what is due now, then exit; ``watch``: until the last one
    now: datetime | None = None  # a chosen moment instead of the clock (tests, what-if)


def run_checkpoints(
    journal_dir: Path,
    options: WatchOptions,
    environ: Mapping[str, str],
    echo: Callable[[str], None],
    on_rollback: Callable[[Path, StartRollback], int] | None = None,
) -> int:
    """Run the due checkpoints (``once``) or all of them as they come; returns the exit code."""
    with _locked_state(journal_dir) as (journal_dir, state):
        runbook = _recorded_runbook(state)
        why_not = _nothing_to_watch(runbook, state)
        if why_not:
            echo(f"{state.launch_id}: {why_not}")
            return EXIT_OK
        require_secrets(runbook, environ)  # as the launch: judged without them, nothing is true
        session = _Session.open(journal_dir, state, runbook, options, environ)
        try:
            return session.run(options.once, echo)
        except StartRollback as start:
            if on_rollback is None:
                raise
            wanted = start
        finally:
            session.close()
    return on_rollback(journal_dir, wanted)  # the journal's lock is free again: it takes it


def _nothing_to_watch(runbook: model.Runbook, state: LaunchState) -> str | None:
    if runbook.checkpoints is None:
        raise InputError(f"{runbook.source}: has no checkpoints: section; nothing to watch")
    if state.launch.get("dry_run"):
        return "a dry run touched nothing: there is no release to watch"
    status = (state.finished or {}).get("status")
    if status in ENDED:
        return f"the launch ended {status}: there is no release to watch"
    undoing = "rollback" if state.rollback is not None else "roll-forward"
    if (state.rollback or state.roll_forward) is not None:
        # its driver died in the middle: the release is half undone, nothing is stable
        return (
            f"the launch's {undoing} started and never finished: there is no release to watch "
            "(finish it with launchctl resume)"
        )
    if _go_live(state) is None:
        return "the launch has not gone live yet: checkpoints start after go-live"
    return None


def _go_live(state: LaunchState) -> datetime | None:
    from launchctl.engine.guard_supervisor import GuardSupervisor
    from launchctl.journal.catalogue import parse_iso

    return GuardSupervisor.recorded_times(parse_iso(state.launch["t0"]), state).go_live


class _Session:
    """One ``watch``/``checkpoint`` run: the launch's recorder reopened, its judge and its loop."""

    def __init__(
        self,
        state: LaunchState,
        runbook: model.Runbook,
        recorder: Recorder,
        writer: JournalWriter,
        judge: CheckpointJudge,
        milestones: Milestones,
        notifier: Notifier,
        loop: LaunchLoop,
        slots: list[DueSlot],
    ) -> None:
        self.state = state
        self.runbook = runbook
        self.recorder = recorder
        self.writer = writer
        self.judge = judge
        self.milestones = milestones
        self.notifier = notifier
        self.loop = loop
        self.slots = slots
        self.done = {str(event.get("slot")) for event in state.checkpoints}
        self._closed = False

    @classmethod
    def open(
        cls,
        journal_dir: Path,
        state: LaunchState,
        runbook: model.Runbook,
        options: WatchOptions,
        environ: Mapping[str, str],
    ) -> _Session:
        settings = LaunchSettings.from_record(state.launch, journal_dir, yes=False)
        clock: Clock = (
            ScaledClock(1.0, options.now, options.now) if options.now else _resumed_clock(state)
        )
        writer = JournalWriter(journal_dir, durable=True)
        writer.open()
        recorder = Recorder(
            writer, _masker(runbook, environ), clock, [PlainConsole()], state.last_seq
        )
        values = template_values(runbook, t0=iso(settings.t0), launch_id=settings.launch_id)
        url = prometheus_url(runbook, values, environ)
        go_live = _go_live(state)
        assert go_live is not None and runbook.checkpoints is not None
        times = LaunchTimes(settings.t0, go_live)
        baselines = BaselineBook(
            url, clock, times, recorder.emit, users(runbook, values, watch=True), state.baselines
        )
        notifier = Notifier(runbook.notify, environ, on_delivery=_delivery_recorder(recorder))
        milestones = Milestones(
            recorder, notifier, settings.launch_id, runbook.name, settings.t0, clock, False
        )
        milestones.phase = "watch"
        judge = CheckpointJudge(
            runbook,
            values,
            url,
            clock,
            RealExecutor(runbook, values, cwd=settings.cwd, environ=environ),
            baselines,
            HttpSession(),
            CancelToken(),
        )
        loop = LaunchLoop(
            clock,
            recorder,
            HeadlessRules(False),
            None if options.once else terminal_prompter(),
            Inbox(journal_dir),
            milestones.notify,
            settings.user,
        )
        slots = plan(planned(runbook.checkpoints), go_live)
        return cls(state, runbook, recorder, writer, judge, milestones, notifier, loop, slots)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.notifier.close()
        self.judge.executor.close()
        self.judge.http.close()
        self.judge.baselines.close()
        self.loop.close()
        self.writer.close()

    # -- the course ----------------------------------------------------------------------------

    def run(self, once: bool, echo: Callable[[str], None]) -> int:
        with self.loop.signal_handlers():
            ran = self._run_due()
            if once:
                return self._once_exit(ran, echo)
            return self._watch(ran, echo)

    def _once_exit(self, ran: list[dict[str, Any]], echo: Callable[[str], None]) -> int:
        if ran:  # a slot missed (a late timer: its command checks could not run then) is no failure
            failed = any(r["status"] not in ("pass", MISSED) for r in ran)
            return EXIT_ROLLED_BACK if failed else EXIT_OK
        latest = self.state.checkpoints[-1] if self.state.checkpoints else None
        following = upcoming(self.slots, self.done)
        nxt = f"next: {following.label} at {iso(following.due)}" if following else "all done"
        last = f"; last: {latest['slot']} {latest['status']}" if latest else ""
        echo(f"{self.state.launch_id}: no checkpoint due ({nxt}{last})")
        return EXIT_OK if latest is None or latest.get("status") == "pass" else EXIT_ROLLED_BACK

    def _watch(self, ran: list[dict[str, Any]], echo: Callable[[str], None]) -> int:
        latest = (
            ran[-1] if ran else (self.state.checkpoints[-1] if self.state.checkpoints else None)
        )
        try:
            while (following := upcoming(self.slots, self.done)) is not None:
                echo(f"watch: next checkpoint {following.label} at {iso(following.due)}")
                self.loop.sleep_until(following.due, phase="monitoring")
                ran = self._run_due()
                latest = ran[-1] if ran else latest
        except PauseLaunch as pause:
            echo(
                f"watch stopped ({pause.reason}); go on with: launchctl watch {self.writer.directory}"
            )
            return EXIT_PAUSED
        except EndMonitoring as end:
            echo(f"watch ended: {end}")
            return EXIT_OK
        return EXIT_OK if latest is None or latest.get("status") == "pass" else EXIT_ROLLED_BACK

    def _run_due(self) -> list[dict[str, Any]]:
        due = due_now(self.slots, self.done, self.judge.clock.now())
        if due:
            self.judge.baselines.forget_unmeasured()
        ran = []
        for index, slot in enumerate(due):
            self.done.add(slot.label)
            result = self.judge.judge(slot, index == len(due) - 1, upcoming(self.slots, self.done))
            self.recorder.emit("checkpoint_result", **result)
            ran.append(result)
            self._tell(slot, result)
        return ran

    def _tell(self, slot: DueSlot, result: dict[str, Any]) -> None:
        """Notify: a failure (or, with ``then: ask``, ask the person watching), a review's
        results, and "declared stable" when the last checkpoint passes."""
        summary = ", ".join(
            f"check {index} {_short(check)}" for index, check in enumerate(result["checks"], 1)
        )
        if result["status"] != "pass":
            asks = self.runbook.checkpoints.then is model.CheckpointAction.ASK
            head = "A PERSON MUST DECIDE: " if asks else ""
            message = f"{head}CHECKPOINT {slot.label} {result['status'].upper()}: {result['reason'] or summary}"
            self.milestones.notify(message, "checkpoint_failed")
            if asks and self.loop.interactive:  # at a terminal; a timer's call only tells
                self._ask(slot, message)
        if slot.review:
            self.milestones.notify(
                f"REVIEW DUE ({slot.label}): checkpoint {result['status']} - {summary}",
                "checkpoint_review",
            )
        if slot.last and result["status"] == "pass":
            self.milestones.notify(
                f"DECLARED STABLE at {slot.label}: {self.runbook.name} - {summary}",
                "declared_stable",
            )

    def _ask(self, slot: DueSlot, message: str) -> None:
        question = Question(
            "checkpoint", message, ("continue", "rollback", "stop"), default="continue", step=None
        )
        answer = self.loop.ask(question, phase="monitoring")
        if answer.value == "rollback":
            raise StartRollback(f"checkpoint {slot.label}: decided by {answer.by}", "operator")
        if answer.value == "stop":
            raise PauseLaunch(f"stopped at checkpoint {slot.label} by {answer.by}")


def _short(check: Mapping[str, Any]) -> str:
    value = check.get("value")
    shown = f"{value:.4g}" if isinstance(value, float) else str(value) if value is not None else "-"
    ratio = f" ({check['ratio']:.2f}x baseline)" if check.get("ratio") is not None else ""
    return f"{check['status']} {shown}{ratio}"
