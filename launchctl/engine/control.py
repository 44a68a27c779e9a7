"""Control flow of a launch: the exceptions that change its course, and blocking work that
stays interruptible.

Blocking work (waiting for a T-offset, running a step, monitoring) runs on a
worker thread while the main thread stays free to take Ctrl-C, signals, guard
alerts and rollback requests; when one of those demands it, the work is
cancelled and the interruption is raised on the main thread.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from launchctl.errors import JournalWriteFailed
from steps.cancel import CancelToken

T = TypeVar("T")
POLL_SECONDS = 0.2


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
class Interrupt:
    action: str  # rollback | pause | end
    reason: str
    trigger: str

    def as_exception(self, step: str | None) -> Exception:
        if self.action == "journal":
            return JournalWriteFailed(self.reason)
        if self.action == "rollback":
            return StartRollback(self.reason, self.trigger)
        if self.action == "end":
            return EndMonitoring(self.reason)
        return PauseLaunch(self.reason, step)


class Blocker:
    """Runs blocking work so that interruptions reach it within ``POLL_SECONDS``.

    ``pending(phase)`` is asked for an interruption whenever something may have
    happened; ``on_interrupted(step, interrupt)`` is told before the
    interruption is raised, so the journal shows what was cut short.
    """

    def __init__(
        self,
        pending: Callable[[str], Interrupt | None],
        on_interrupted: Callable[[str, Interrupt], None],
        simulated: bool,
    ) -> None:
        self.pending = pending
        self.on_interrupted = on_interrupted
        self.simulated = simulated
        self.wake = threading.Event()
        self.signals: list[int] = []

    def run(
        self, work: Callable[[CancelToken], T], step: str | None = None, phase: str = "launch"
    ) -> T:
        cancel = CancelToken()
        if self.simulated:
            return self._finish(work(cancel), None, step, phase)
        box: dict[str, Any] = {}
        done = threading.Event()

        def target() -> None:
            try:
                box["value"] = work(cancel)
            except BaseException as exc:  # re-raised on the main thread below
                box["error"] = exc
            finally:
                done.set()
                self.wake.set()

        threading.Thread(target=target, name=f"step-{step or 'wait'}", daemon=True).start()
        interrupt: Interrupt | None = None
        while not done.is_set():
            self.wake.wait(POLL_SECONDS)
            self.wake.clear()
            found = self.pending(phase)
            if found is not None and interrupt is None:
                interrupt = found
                cancel.cancel(found.reason)
        if "error" in box:
            raise box["error"]
        return self._finish(box["value"], interrupt, step, phase)

    def _finish(self, value: T, interrupt: Interrupt | None, step: str | None, phase: str) -> T:
        interrupt = interrupt or self.pending(phase)
        if interrupt is None:
            return value
        if step is not None and phase == "launch":
            self.on_interrupted(step, interrupt)
        raise interrupt.as_exception(step)

    @contextmanager
    def signal_handlers(self) -> Iterator[None]:
        """SIGINT, SIGTERM and SIGHUP become interruptions (the handler only appends: it must not lock)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        wanted = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        previous = {signum: signal.getsignal(signum) for signum in wanted}
        for signum in wanted:
            signal.signal(signum, lambda s, _f: self.signals.append(s))
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
