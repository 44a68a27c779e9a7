"""Guards beside the steps: one thread per guard samples its query while its window is open.

Decisions are ``rollback.guards``'s; this module only keeps time, samples,
journals each sample and hands verdicts to the engine through ``on_verdict``.
Windows are anchored at T0, or under ``--no-wait`` at the actual start of the
first step at or after T+0 (``Anchor.set``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from launchctl.errors import JournalWriteFailed
from launchctl.journal.catalogue import iso
from launchctl.journal.recorder import Recorder
from rollback.guards import GuardState, Verdict, window_bounds
from runbook.model import Guard
from steps.cancel import CancelToken
from steps.clock import Clock

Sampler = Callable[[Guard], tuple[float | None, str]]


class Anchor:
    """The launch time guard windows are measured from, once it is known."""

    def __init__(self, value: datetime | None = None) -> None:
        self._value = value
        self._known = threading.Event()
        if value is not None:
            self._known.set()

    def set(self, value: datetime) -> bool:
        if self._known.is_set():
            return False
        self._value = value
        self._known.set()
        return True

    @property
    def value(self) -> datetime | None:
        return self._value

    def wait(self, stop: CancelToken) -> datetime | None:
        while not self._known.wait(0.2):
            if stop.cancelled:
                return None
        return self._value


class GuardWatch:
    def __init__(
        self,
        guards: tuple[Guard, ...],
        clock: Clock,
        recorder: Recorder,
        sampler: Sampler,
        on_verdict: Callable[[Guard, Verdict], None],
        anchor: Anchor,
        default_end: timedelta,
    ) -> None:
        self.guards = guards
        self.clock = clock
        self.recorder = recorder
        self.sampler = sampler
        self.on_verdict = on_verdict
        self.anchor = anchor
        self.default_end = default_end
        self.stop_token = CancelToken()
        self.latest: dict[str, dict] = {}
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for guard in self.guards:
            thread = threading.Thread(
                target=self._watch, args=(guard,), name=f"guard-{guard.id}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_token.cancel("stopped")
        for thread in self._threads:
            thread.join(timeout)

    def _watch(self, guard: Guard) -> None:
        try:
            self._watch_window(guard)
        except JournalWriteFailed:
            return  # the recorder keeps the failure; the engine sees it and stops the launch

    def _watch_window(self, guard: Guard) -> None:
        anchor = self.anchor.wait(self.stop_token)
        if anchor is None:
            return
        start, end = window_bounds(guard, anchor, self.default_end)
        if self.clock.now() >= end:
            return
        if not self.clock.sleep_until(start, self.stop_token):
            return
        self.recorder.emit(
            "guard_window_opened", guard=guard.id, until=iso(end), threshold=str(guard.breach)
        )
        state = GuardState(guard)
        every = guard.every.total_seconds()
        due = self.clock.now()
        while not self.stop_token.cancelled:
            now = self.clock.now()
            if now >= end:
                break
            value, problem = self.sampler(guard)
            if self.stop_token.cancelled:
                break
            status, verdict = state.observe(self.clock.now(), value, problem)
            self.latest[guard.id] = {
                "value": value,
                "status": status.value,
                "threshold": str(guard.breach),
            }
            self.recorder.emit(
                "guard_sample",
                guard=guard.id,
                value=value,
                status=status.value,
                reason=problem or None,
            )
            if verdict is not None:
                self.recorder.emit(
                    "guard_breach" if verdict.kind == "breach" else "guard_inconclusive",
                    guard=guard.id,
                    value=verdict.value,
                    threshold=str(guard.breach),
                    action=verdict.action.value,
                    reason=verdict.reason,
                )
                self.on_verdict(guard, verdict)
            due += timedelta(seconds=every)
            if due < self.clock.now():
                due = self.clock.now()
            if not self.clock.sleep_until(min(due, end), self.stop_token):
                break
        if not self.stop_token.cancelled:
            self.recorder.emit("guard_window_closed", guard=guard.id)
