"""The live guard watch driven by a jumping clock: what ``GuardWatch`` decides, sample by sample,
for any sampler, without waiting. Tests compare it with ``replay`` to prove they share decisions."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rollback.guard_watch import GuardWatch
from rollback.guards import LaunchTimes, Verdict
from runbook.model import Guard
from steps.clock import SimulatedClock


class JumpClock(SimulatedClock):
    """A simulated clock (a sleep jumps to its end) at speed 1, so the watch's re-check step
    stays a finite duration."""

    speed = 1.0


@dataclass
class LiveRun:
    events: list[dict[str, Any]] = field(default_factory=list)
    verdicts: list[tuple[datetime, Verdict]] = field(default_factory=list)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == kind]


def watch_live(
    guard: Guard,
    times: LaunchTimes,
    sample: Callable[[datetime], tuple[float | None, str]],
    emit: Callable[..., Any] | None = None,
    clock: JumpClock | None = None,
) -> LiveRun:
    """Run one guard's live watch from T0 until its window closes or it stops the launch."""
    clock = clock or JumpClock(times.t0)
    run = LiveRun()
    done = threading.Event()

    def record(event: str, **fields: Any) -> None:
        run.events.append({"event": event, "at": clock.now(), **fields})
        if emit is not None:
            emit(event, **fields)
        if event == "guard_window_closed":
            done.set()

    def on_verdict(guard: Guard, verdict: Verdict) -> None:
        run.verdicts.append((clock.now(), verdict))
        if verdict.action.value != "warn":
            watch.stop_token.cancel("the launch stops here")
            done.set()

    watch = GuardWatch([guard], clock, times, lambda g, d: sample(clock.now()), record, on_verdict)
    watch.start()  # the watch paces `every` in the clock's real seconds: the jump clock's own
    finished = done.wait(60)
    watch.stop()
    assert finished, "the live watch did not finish"
    return run
