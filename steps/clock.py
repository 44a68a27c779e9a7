"""Launch time, injected: real, scaled for ``--speed``, or simulated for ``--dry-run``.

Schedules (the gaps between steps), soaks (``wait:``) and guard windows read
*launch time* from one of these, so the same engine rehearses two hours in a
minute, walks a dry run without sleeping, and is testable without waiting.

What measures the real world is never compressed by ``--speed``: command and
request timeouts, a check's ``within``/``every``, a rollback step's
``retry_delay``, and a guard's ``every``/``for`` run in real seconds
(``sleep_real``), because the system under launch recovers, scrapes and
answers at its own pace; a rehearsal must not fail a check that would pass.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

from steps.cancel import CancelToken


class Clock(Protocol):
    speed: float
    simulated: bool

    def now(self) -> datetime: ...

    def sleep_until(self, when: datetime, cancel: CancelToken | None = None) -> bool:
        """Block until launch time ``when``; True if it arrived, False if cancelled first."""
        ...

    def sleep(self, seconds: float, cancel: CancelToken | None = None) -> bool: ...

    def sleep_real(self, seconds: float, cancel: CancelToken | None = None) -> bool:
        """Wait real seconds, whatever the speed (a dry run does not wait); False if cancelled."""
        ...

    def real_now(self) -> datetime:
        """The wall clock (a simulated clock's own time): what real-world durations are measured in."""
        ...

    def real_seconds(self) -> float:
        """Monotonic real seconds (a simulated clock's own): for pacing what measures the world."""
        ...

    def real_at(self, moment: datetime) -> datetime:
        """The wall-clock moment at which launch time read ``moment``: where the world's record
        (Prometheus) of that launch moment is. Before this clock started, time ran at 1x."""
        ...


def utcnow() -> datetime:
    return datetime.now(UTC)


class ScaledClock:
    """Launch time runs ``speed`` times faster than the wall clock, from an anchor.

    ``speed=1`` is the real clock. Measured with ``time.monotonic`` so an NTP
    jump during a wait cannot make a step start early or late. ``real`` stands in
    for the wall clock at the anchor (``launchctl checkpoint --now``: a chosen
    moment, judged against the world's record of it).
    """

    simulated = False

    def __init__(
        self, speed: float = 1.0, anchor: datetime | None = None, real: datetime | None = None
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._anchor_mono = time.monotonic()
        self._anchor_real = real  # None: the wall clock itself
        self._anchor_wall = real or utcnow()  # the wall-clock moment of the anchor
        self._anchor_launch = anchor or self._anchor_wall

    def now(self) -> datetime:
        elapsed = (time.monotonic() - self._anchor_mono) * self.speed
        return self._anchor_launch + timedelta(seconds=elapsed)

    def sleep_until(self, when: datetime, cancel: CancelToken | None = None) -> bool:
        while True:
            remaining = (when - self.now()).total_seconds() / self.speed
            if remaining <= 0:
                return True
            if cancel is not None:
                if cancel.wait(min(remaining, 1.0)):
                    return False
            else:
                time.sleep(min(remaining, 1.0))

    def sleep(self, seconds: float, cancel: CancelToken | None = None) -> bool:
        return self.sleep_until(self.now() + timedelta(seconds=seconds), cancel)

    def sleep_real(self, seconds: float, cancel: CancelToken | None = None) -> bool:
        if cancel is None:
            time.sleep(max(0.0, seconds))
            return True
        return not cancel.wait(max(0.0, seconds))

    def real_now(self) -> datetime:
        if self._anchor_real is None:
            return utcnow()
        return self._anchor_real + timedelta(seconds=time.monotonic() - self._anchor_mono)

    def real_seconds(self) -> float:
        return time.monotonic()

    def real_at(self, moment: datetime) -> datetime:
        # From the anchors alone: no two reads of two clocks that a microsecond apart would skew.
        started = self._anchor_launch
        if moment >= started:
            return self._anchor_wall + (moment - started) / self.speed
        return self._anchor_wall - (started - moment)


class SimulatedClock:
    """Never sleeps: ``sleep_until`` jumps launch time forward. For dry runs and plans."""

    simulated = True
    speed = float("inf")

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or utcnow()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def sleep_until(self, when: datetime, cancel: CancelToken | None = None) -> bool:
        if cancel is not None and cancel.cancelled:
            return False
        with self._lock:
            if when > self._now:
                self._now = when
        return True

    def sleep(self, seconds: float, cancel: CancelToken | None = None) -> bool:
        return self.sleep_until(self.now() + timedelta(seconds=seconds), cancel)

    def sleep_real(self, seconds: float, cancel: CancelToken | None = None) -> bool:
        return self.sleep(seconds, cancel)

    def real_now(self) -> datetime:
        return self.now()

    def real_seconds(self) -> float:
        return self.now().timestamp()

    def real_at(self, moment: datetime) -> datetime:
        return moment
