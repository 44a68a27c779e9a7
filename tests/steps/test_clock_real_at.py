"""``Clock.real_at``: where the world's record of a launch moment is. A rehearsal compresses
launch time after its start; before the start, time ran at 1x (history)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from steps.clock import ScaledClock, SimulatedClock

NOW = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def test_a_rehearsal_maps_launch_minutes_to_real_seconds_after_its_start():
    clock = ScaledClock(180, NOW, NOW)
    started, real_started = clock.now(), clock.real_now()
    later = clock.real_at(started + timedelta(minutes=30))
    assert (later - real_started).total_seconds() == pytest.approx(10, abs=0.05)


def test_before_the_clock_started_launch_time_is_history_at_1x():
    clock = ScaledClock(180, NOW, NOW)
    assert (
        clock.real_at(NOW - timedelta(hours=2)) - (NOW - timedelta(hours=2))
    ).total_seconds() == (pytest.approx(0, abs=0.05))


def test_a_chosen_now_and_a_simulated_clock_read_the_moment_itself():
    chosen = ScaledClock(1.0, NOW - timedelta(days=2), NOW - timedelta(days=2))
    assert abs(chosen.real_at(NOW - timedelta(days=3)) - (NOW - timedelta(days=3))) < timedelta(
        seconds=1
    )
    assert abs(chosen.real_now() - (NOW - timedelta(days=2))) < timedelta(seconds=1)
    assert SimulatedClock(NOW).real_at(NOW + timedelta(hours=1)) == NOW + timedelta(hours=1)
