"""The launch's baselines (``BaselineBook``): measured once, and again while one has no value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from live_guard import JumpClock

from launchctl.engine.baselines import RETRY_SECONDS, BaselineBook
from rollback.guards import LaunchTimes
from runbook.model import DEFAULT_BASELINE

T0 = datetime(2026, 11, 29, 14, 0, tzinfo=UTC)


def test_the_launch_book_measures_a_baseline_without_value_again_after_a_while():
    clock = JumpClock(T0 + timedelta(minutes=1))
    times = LaunchTimes(T0, T0)
    emitted: list[dict] = []
    book = BaselineBook(None, clock, times, lambda event, **f: emitted.append(f), {})
    first = book.get("q", DEFAULT_BASELINE, T0)
    assert first is not None and first.value is None and len(emitted) == 1
    assert book.get("q", DEFAULT_BASELINE, T0) is first  # not on every sample
    clock.sleep(RETRY_SECONDS)
    book.get("q", DEFAULT_BASELINE, T0)
    assert len(emitted) == 2  # asked again, and journaled again
    book.close()
