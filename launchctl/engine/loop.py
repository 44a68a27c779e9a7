"""The one launch loop: every wait of a launch is an input to one place that decides its course.

The walk over the timeline (``engine``) never blocks on its own. It asks this
loop to wait — for a T-offset, for a step's work, for an answer — and while
it waits the loop takes every other input as it comes: guard verdicts,
signals, a rollback request or an approval from a second terminal, the
operator's keystrokes, question deadlines, a journal that can no longer be
written. A ``then: rollback`` breach or a rollback request preempts whatever
is being waited for, including an unanswered question (withdrawn with a line
saying why), by raising ``StartRollback`` out of the wait; the running work
is cancelled and finishes stopping in the background (``settle``).

Inputs from other threads and from signal handlers are appended to a deque
and announced through a self-pipe, so one ``select`` waits for all of them
and for the terminal; the handlers themselves never take a lock.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from launchctl.engine.control import EndMonitoring, PauseLaunch, StartRollback
from launchctl.engine.inbox import Inbox
from launchctl.engine.prompts import Answer, HeadlessRules, Question, TerminalPrompter
from launchctl.engine.questions import OpenQuestions
from launchctl.errors import JournalWriteFailed
from launchctl.journal.recorder import Recorder
from rollback.guards import Verdict
from runbook.model import Guard, GuardAction
from steps.cancel import CancelToken
from steps.clock import Clock

T = TypeVar("T")
POLL_SECONDS = 0.2  # second-terminal files and question deadlines are looked at this often
SETTLE_SECONDS = 10.0  # how long cancelled work may take to stop before the launch goes on
CANCEL_WAIT_SECONDS = 0.5  # a course change waits no longer than this for the work it cancels

_MENU = {
    "launch": ("What now?", ("rollback", "pause", "continue")),
    "monitoring": ("Monitoring guards. What now?", ("rollback", "pause", "continue", "end")),
    "rollback": ("The rollback is running. What now?", ("continue", "pause")),
}


@dataclass
class _Work:
    step: str | None
    cancel: CancelToken = field(default_factory=CancelToken)
    done: threading.Event = field(default_factory=threading.Event)
    value: Any = None
    error: BaseException | None = None


class LaunchLoop:
    def __init__(
        self,
        clock: Clock,
        recorder: Recorder,
        rules: HeadlessRules,
        prompter: TerminalPrompter | None,
        inbox: Inbox,
        notify: Callable[..., None],
        user: str,
    ) -> None:
        self.clock = clock
        self.recorder = recorder
        self.inbox = inbox
        self._next_inbox_look = 0.0
        self.notify = notify
        self.sources: list[Callable[[], None]] = []
        self.guards_watching: Callable[[], bool] = lambda: False
        self._inputs: deque[tuple[str, Any]] = deque()
        self.questions = OpenQuestions(recorder, rules, prompter, clock.simulated, user)
        self._stopping: list[_Work] = []
        self._read_fd, self._wake_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._wake_fd, False)

    @property
    def interactive(self) -> bool:
        return self.questions.prompter is not None

    def close(self) -> None:
        for fd in (self._read_fd, self._wake_fd):
            with contextlib.suppress(OSError):
                os.close(fd)

    # -- inputs from elsewhere ------------------------------------------------------------------

    def post(self, kind: str, payload: Any = None) -> None:
        """From any thread or a signal handler: an input for the loop. Never blocks, never locks."""
        self._inputs.append((kind, payload))
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_fd, b"\0")

    def guard_alert(self, guard: Guard, verdict: Verdict) -> None:
        self.post("guard", (guard, verdict))

    @contextlib.contextmanager
    def signal_handlers(self) -> Iterator[None]:
        """SIGINT, SIGTERM and SIGHUP become inputs of the loop."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        wanted = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        previous = {signum: signal.getsignal(signum) for signum in wanted}
        for signum in wanted:
            signal.signal(signum, lambda s, _f: self.post("signal", s))
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    # -- what the walk waits for ----------------------------------------------------------------

    def sleep_until(self, moment: datetime, phase: str = "launch") -> None:
        """Wait for launch time ``moment``; anything that changes the course raises out of it."""
        if self.clock.simulated:
            self._turn(phase)
            self.clock.sleep_until(moment)
            return

        def remaining() -> float:
            return (moment - self.clock.now()).total_seconds() / self.clock.speed

        self._wait(lambda: remaining() <= 0, phase, remaining)

    def run(self, work: Callable[[CancelToken], T], step: str | None, phase: str = "launch") -> T:
        """Do ``work`` on a worker thread while the loop keeps deciding; returns its value."""
        task = _Work(step)
        if self.clock.simulated:
            task.value = work(task.cancel)
            self._turn(phase)
            return task.value

        def target() -> None:
            try:
                task.value = work(task.cancel)
            except BaseException as error:  # noqa: BLE001 - re-raised on the loop's thread
                task.error = error
            finally:
                task.done.set()
                self.post("done")

        threading.Thread(target=target, name=f"work-{step or 'wait'}", daemon=True).start()
        try:
            self._wait(task.done.is_set, phase)
        except BaseException as preempted:
            self._cancel(task, preempted, phase)
            raise
        if task.error is not None:
            raise task.error
        return task.value

    def ask(self, question: Question, phase: str = "launch") -> Answer:
        """Put a question to whoever can answer it; the loop keeps watching while it is open."""
        automatic = self.questions.automatic(question)
        if automatic is not None:
            self.questions.journal_answer(question, automatic)
            return automatic
        entry = self.questions.open_flow(question)
        self._wait(lambda: entry.answer is not None, phase)
        return entry.answer

    def settle(self, timeout: float = SETTLE_SECONDS) -> list[str]:
        """Wait (bounded) for cancelled work to finish stopping; returns the steps still stopping."""
        deadline = time.monotonic() + timeout
        for task in self._stopping:
            task.done.wait(max(0.0, deadline - time.monotonic()))
        left = [task.step or "work" for task in self._stopping if not task.done.is_set()]
        self._stopping = [task for task in self._stopping if not task.done.is_set()]
        return left

    def turn(self, phase: str) -> None:
        """Take pending inputs now (between two pieces of work)."""
        self._turn(phase)

    # -- the loop -------------------------------------------------------------------------------

    def _wait(
        self, ready: Callable[[], bool], phase: str, remaining: Callable[[], float] | None = None
    ) -> None:
        try:
            self._wait_turns(ready, phase, remaining)
        except BaseException as course_change:
            why = getattr(course_change, "reason", None) or str(course_change)
            self.questions.withdraw_all(why or type(course_change).__name__)
            raise

    def _wait_turns(
        self, ready: Callable[[], bool], phase: str, remaining: Callable[[], float] | None
    ) -> None:
        while True:
            self._turn(phase)
            if ready() and not self.questions.holding:
                return
            timeout = POLL_SECONDS
            if remaining is not None:
                timeout = min(timeout, max(0.0, remaining()))
            expiry = self.questions.next_expiry()
            if expiry is not None:
                timeout = min(timeout, max(0.0, expiry - time.monotonic()))
            self._select(timeout)

    def _select(self, timeout: float) -> None:
        fds = [self._read_fd]
        reading = self.questions.reading_terminal
        if reading:
            fds.append(self.questions.prompter.fd)
        try:
            ready, _, _ = select.select(fds, [], [], timeout)
        except (OSError, ValueError):
            ready = []
        if self._read_fd in ready:
            with contextlib.suppress(BlockingIOError, OSError):
                while os.read(self._read_fd, 4096):
                    pass
        if reading and self.questions.prompter.fd in ready:
            self.questions.read_terminal()

    def _turn(self, phase: str) -> None:
        """Take every pending input; raise when one changes the course."""
        if self.recorder.failure is not None:
            raise JournalWriteFailed(self.recorder.failure.message)
        while self._inputs:
            kind, payload = self._inputs.popleft()
            if kind == "signal":
                self._on_signal(payload, phase)
            elif kind == "guard":
                self._on_guard(*payload, phase)
        for source in self.sources:
            source()
        self._take_second_terminal(phase)
        self.questions.expire()
        self.questions.apply_answers()

    def _on_signal(self, signum: int, phase: str) -> None:
        if signum != signal.SIGINT:
            name = signal.Signals(signum).name
            raise PauseLaunch(f"received {name}; launch paused, resumable")
        if phase == "hold" or self.questions.has("interrupt"):
            self.questions.show_again()
            return
        prompt, choices = _MENU.get(phase, _MENU["launch"])
        question = Question(
            "interrupt",
            f"^C launch interrupted\n{prompt}",
            choices,
            default="continue",
            holds=True,
        )
        self.questions.open_holding(question, lambda answer: self._after_interrupt(answer, phase))

    def _after_interrupt(self, answer: Answer, phase: str) -> None:
        if answer.value == "rollback" and phase != "rollback":
            raise StartRollback("operator requested rollback (Ctrl-C)", "operator")
        if answer.value == "pause":
            raise PauseLaunch("paused by operator (Ctrl-C)", hold_ok=phase != "rollback")
        if answer.value == "end" and phase == "monitoring":
            raise EndMonitoring("monitoring ended by operator")

    def _on_guard(self, guard: Guard, verdict: Verdict, phase: str) -> None:
        if phase == "rollback":
            return
        facts = {
            "id": guard.id,
            "value": verdict.value,
            "threshold": str(guard.breach),
            "query": guard.query,
        }
        if guard.breach.relative is not None:
            facts |= {"baseline": verdict.baseline, "limit": verdict.limit}
        if phase == "past-no-return":  # a person is already deciding what to do about the launch
            message = f"GUARD BREACH (while a person decides): {verdict.reason}"
            self.notify(message, "guard_breach", guard=facts)
            return
        trigger = f"guard:{guard.id}"
        if verdict.action is GuardAction.WARN:
            self.notify(f"WARNING: {verdict.reason}", "guard_warning", guard=facts)
            return
        self.notify(f"GUARD BREACH: {verdict.reason}", "guard_breach", guard=facts)
        if verdict.action is GuardAction.ROLLBACK:
            raise StartRollback(verdict.reason, trigger)
        question = Question(
            "guard", verdict.reason, ("rollback", "continue", "pause"), "rollback", holds=True
        )

        def act(answer: Answer) -> None:
            if answer.value == "rollback":
                raise StartRollback(verdict.reason, trigger)
            if answer.value == "pause":
                raise PauseLaunch(f"paused on {verdict.reason}", hold_ok=True)

        self.questions.open_holding(question, act)

    def _take_second_terminal(self, phase: str) -> None:
        # Files in the journal directory: looked at every POLL_SECONDS, not on every turn (a
        # launch of quick steps takes several turns a step, and each look is two failed opens).
        now = time.monotonic()
        if now < self._next_inbox_look:
            return
        self._next_inbox_look = now + POLL_SECONDS
        if phase != "rollback":
            self._take_rollback_request(phase)
        approval = self.inbox.take_approval()
        if approval is not None:
            self.questions.take_approval(approval)

    def _take_rollback_request(self, phase: str) -> None:
        request = self.inbox.take_rollback()
        if request is None:
            return
        forced = request.by or "another terminal" if request.force_past_no_return else None
        if phase == "past-no-return" and forced is None:
            self.recorder.emit(
                "rollback_refused",
                reason=request.reason,
                by=request.by,
                why="past the point of no return: use launchctl rollback --force-past-no-return",
            )
            return
        self.recorder.emit(
            "rollback_requested", reason=request.reason, by=request.by, forced_past_no_return=forced
        )
        raise StartRollback(request.reason, "operator", forced)

    def _cancel(self, task: _Work, preempted: BaseException, phase: str) -> None:
        reason = getattr(preempted, "reason", None) or str(preempted) or type(preempted).__name__
        task.cancel.cancel(reason)
        self._stopping.append(task)
        task.done.wait(CANCEL_WAIT_SECONDS)  # usually stopped by now: journal it in that order
        if (
            task.step is not None
            and phase == "launch"
            and not isinstance(preempted, JournalWriteFailed)
        ):
            with contextlib.suppress(JournalWriteFailed):
                self.recorder.emit("step_interrupted", step=task.step, reason=reason)
