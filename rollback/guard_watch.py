"""Guards beside the steps: one thread per guard samples its query while its window is open.

Decisions are ``rollback.guards``'s; this module keeps time, samples, journals
through ``emit`` and hands verdicts to the launch loop through ``on_verdict``.
It is given what it acts through (a sampler, a clock, an event sink), so the
same watch runs against Prometheus in a launch and against anything in a test.
Windows are launch time (``--speed`` compresses them); the cadence (``every``)
and how long a breach holds (``for``) are real seconds, because Prometheus
scrapes and a service fails at their own pace.

A guard cannot die or go blind silently: a sampler that raises, or answers
garbage, gives an inconclusive sample with its reason (counted against
``inconclusive_limit``); a watch thread that fails anyway reports a blind
verdict before it ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from rollback.guards import GuardState, LaunchTimes, Verdict, VerdictKind, window
from runbook.model import Guard, GuardAction
from steps.baseline import Baseline
from steps.cancel import CancelToken
from steps.clock import Clock
from steps.deadline import Deadline

Sampler = Callable[[Guard, Deadline], tuple[float | None, str]]
BaselineSource = Callable[[Guard, CancelToken], Baseline | None]
"""The guard's measured baseline, measuring it (blocking) once its window has passed; None
while it has not."""
Emit = Callable[..., Any]
OnVerdict = Callable[[Guard, Verdict], None]
RECHECK_SECONDS = 0.2  # how often a waiting guard looks again at times that may have moved


class GuardWatch:
    def __init__(
        self,
        guards: Iterable[Guard],
        clock: Clock,
        times: LaunchTimes,
        sampler: Sampler,
        emit: Emit,
        on_verdict: OnVerdict,
        baseline: BaselineSource | None = None,
    ) -> None:
        self.guards = tuple(guards)
        self.baseline = baseline
        self.clock = clock
        self.times = times
        self.sampler = sampler
        self.emit = emit
        self.on_verdict = on_verdict
        self.stop_token = CancelToken()
        self._threads: list[threading.Thread] = []
        self._open: set[str] = set()
        self._lock = threading.Lock()

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

    def watching(self) -> bool:
        """True while some guard's window is open, or will open and has not closed."""
        now = self.clock.now()
        for guard in self.guards:
            start, end = window(guard, self.times)
            still_open = end is None or end > now
            if still_open and (guard.id in self._open or start is None or start > now):
                return True
        return False

    def open_guards(self) -> list[str]:
        with self._lock:
            return sorted(self._open)

    # -- one guard ------------------------------------------------------------------------------

    def _watch(self, guard: Guard) -> None:
        try:
            self._watch_window(guard)
        except Exception as error:  # noqa: BLE001 - a dying guard must say so, never vanish
            if self.stop_token.cancelled:
                return
            reason = f"guard '{guard.id}' stopped watching: {type(error).__name__}: {error}"
            try:
                self.on_verdict(guard, Verdict(VerdictKind.BLIND, GuardAction.ASK, reason, None))
            except Exception:  # noqa: BLE001 - the loop is gone too; nothing left to tell
                pass
        finally:
            with self._lock:
                self._open.discard(guard.id)

    def _watch_window(self, guard: Guard) -> None:
        """Open and close with the window (launch time); sample every ``every`` real seconds."""
        state = GuardState(guard)
        due = 0.0  # the clock's real seconds
        every = guard.every.total_seconds()
        while not self.stop_token.cancelled:
            start, end = window(guard, self.times)
            now = self.clock.now()
            if end is not None and now >= end:
                break
            if start is None or now < start:
                self._take_baseline(guard, state)
                self._pause_until(start)
                continue
            if guard.id not in self._open:
                self._take_baseline(guard, state)
                self._opened(guard, end, state)
                due = self.clock.real_seconds()
            wait = due - self.clock.real_seconds()
            if wait > 0:
                self.clock.sleep_real(min(wait, RECHECK_SECONDS), self.stop_token)
                continue
            self._take_baseline(guard, state)  # again only while it has no value
            self._sample(guard, state)
            due = max(due + every, self.clock.real_seconds())
        if guard.id in self._open and not self.stop_token.cancelled:
            self.emit("guard_window_closed", guard=guard.id)

    def _take_baseline(self, guard: Guard, state: GuardState) -> None:
        """Before the window opens, on this guard's own thread: it waits for nothing else, and
        the decision it feeds lives here. Measured once; a window still to come leaves it None,
        and one measured without a value is asked for again (the source says when to retry)."""
        if guard.breach.relative is None or self.baseline is None:
            return
        if state.baseline is not None and state.baseline.value is not None:
            return
        state.baseline = self.baseline(guard, self.stop_token)

    def _opened(self, guard: Guard, end: datetime | None, state: GuardState) -> None:
        with self._lock:
            self._open.add(guard.id)
        fixed, _ = state.threshold()
        self.emit(
            "guard_window_opened",
            guard=guard.id,
            until=end,
            threshold=str(guard.breach),
            limit=fixed.threshold if fixed is not None and guard.breach.relative else None,
        )

    def _pause_until(self, moment: datetime | None) -> None:
        """Sleep toward ``moment`` in short steps: windows move when go-live starts or the launch ends."""
        step = timedelta(seconds=RECHECK_SECONDS * self.clock.speed)
        target = self.clock.now() + step if moment is None else min(moment, self.clock.now() + step)
        self.clock.sleep_until(target, self.stop_token)

    def _sample(self, guard: Guard, state: GuardState) -> None:
        deadline = Deadline.after(guard.timeout.total_seconds(), self.stop_token)
        try:
            value, problem = self.sampler(guard, deadline)
        except Exception as error:  # noqa: BLE001 - any failure to sample is "we do not know"
            value, problem = None, f"sampling failed: {type(error).__name__}: {error}"
        if self.stop_token.cancelled:
            return
        seen = state.observe(self.clock.real_now(), value, problem)
        threshold = str(guard.breach)
        self.emit(
            "guard_sample",
            guard=guard.id,
            value=value,
            status=seen.status.value,
            reason=seen.reason or problem or None,
        )
        if seen.breach_started:
            self.emit("guard_breach", guard=guard.id, value=value, threshold=threshold)
        if seen.recovered:
            self.emit("guard_recovered", guard=guard.id, value=value, threshold=threshold)
        verdict = seen.verdict
        if verdict is None:
            return
        self.emit(
            "guard_triggered" if verdict.kind is VerdictKind.BREACH else "guard_inconclusive",
            guard=guard.id,
            value=verdict.value,
            threshold=threshold,
            action=verdict.action.value,
            reason=verdict.reason,
            held_s=verdict.held.total_seconds() if verdict.kind is VerdictKind.BREACH else None,
            limit=verdict.limit if guard.breach.relative else None,
            baseline=verdict.baseline,
        )
        self.on_verdict(guard, verdict)
