"""Replay judges a guard with the live decision code: the same series fed to the live
``GuardWatch`` (jumping clock, fake sampler) and to ``replay_guard`` gives the same samples,
the same breach sample and the same verdict at the same moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from live_guard import watch_live

from rollback.guard_replay import Series, replay_guard, sample_times
from rollback.guards import LaunchTimes, VerdictKind
from runbook.comparison import parse_comparison
from runbook.model import Guard, GuardAction

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EVERY = timedelta(seconds=15)


def _guard(**overrides) -> Guard:
    settings = {
        "id": "error-rate",
        "query": "q",
        "breach": parse_comparison("> 0.05"),
        "every": EVERY,
        "during": (timedelta(0), timedelta(minutes=10)),
    }
    settings.update(overrides)
    return Guard(**settings)


def _series(values: list[float | None]) -> Series:
    """One value per 15 s from T0; None is a hole (no sample there)."""
    points = [(T0 + EVERY * i, v, "") for i, v in enumerate(values) if v is not None]
    return Series(points, until=T0 + EVERY * len(values))


HISTORIES = {
    "breach at the first sample": [0.1] * 40,
    "incident from sample 12": [0.01] * 12 + [0.2] * 28,
    "flapping below for": [0.01, 0.2] * 20,
    "a hole of five samples": [0.01] * 8 + [None] * 5 + [0.01] * 27,
    "a hole then a breach": [0.01] * 4 + [None, None] + [0.2] * 34,
    "recovers and breaches again": [0.2] * 3 + [0.01] * 3 + [0.2] * 34,
    "never breaches": [0.01 * (i % 4) for i in range(40)],
}


@pytest.mark.parametrize("name", HISTORIES)
@pytest.mark.parametrize("hold", [timedelta(0), timedelta(seconds=30), timedelta(minutes=1)])
@pytest.mark.parametrize("then", [GuardAction.ROLLBACK, GuardAction.WARN])
def test_replay_and_the_live_guard_reach_the_same_decision_on_the_same_series(name, hold, then):
    guard = _guard(hold=hold, then=then)
    series = _series(HISTORIES[name])
    times = LaunchTimes(T0, go_live=T0)

    live = watch_live(guard, times, lambda now: series.value_at(now, guard.every))
    replayed = replay_guard(guard, times, series)

    live_breaches = [e["at"] for e in live.of("guard_breach")]
    assert (live_breaches[:1] or [None])[0] == replayed.first_breach
    live_first = live.verdicts[0] if live.verdicts else (None, None)
    assert live_first[0] == replayed.fired_at
    if replayed.verdict is not None:
        assert live_first[1] == replayed.verdict
    live_samples = [(e["at"], e["status"]) for e in live.of("guard_sample")]
    replay_samples = [(s.at, s.status.value) for s in replayed.samples]
    assert live_samples[: len(replay_samples)] == replay_samples


def test_a_hole_in_history_escalates_to_ask_after_the_inconclusive_limit():
    guard = _guard(inconclusive_limit=3)
    replayed = replay_guard(
        guard, LaunchTimes(T0, go_live=T0), _series(HISTORIES["a hole of five samples"])
    )
    assert replayed.verdict is not None and replayed.verdict.kind is VerdictKind.BLIND
    assert replayed.verdict.action is GuardAction.ASK
    assert replayed.fired_at == T0 + EVERY * 10  # the third inconclusive sample in a row
    assert [(s.count, s.start) for s in replayed.stretches] == [(3, T0 + EVERY * 8)]


def test_a_guard_that_never_fired_reports_its_closest_approach():
    replayed = replay_guard(
        _guard(), LaunchTimes(T0, go_live=T0), _series(HISTORIES["never breaches"])
    )
    assert replayed.verdict is None
    assert replayed.margin == pytest.approx(0.05 - 0.03)


@pytest.mark.parametrize(
    "breach,values,margin",
    [("< 10", [12, 11, 15], 1.0), ("> 5", [1, 4.5, 3], 0.5), (">= 5", [1, 6], -1.0)],
)
def test_margin_is_signed_distance_to_the_threshold(breach, values, margin):
    guard = _guard(breach=parse_comparison(breach), hold=timedelta(minutes=5))
    replayed = replay_guard(guard, LaunchTimes(T0, go_live=T0), _series(values))
    assert replayed.margin == pytest.approx(margin)


def test_sample_times_follow_the_live_watch_window_and_every():
    guard = _guard(during=(timedelta(minutes=-1), timedelta(minutes=1)))
    moments = sample_times(guard, LaunchTimes(T0, go_live=T0 + timedelta(minutes=5)))
    assert moments[0] == T0 - timedelta(minutes=1)  # T- offsets hang on the scheduled T0
    assert moments[-1] == T0 + timedelta(minutes=5, seconds=45)  # T+ on go-live; end excluded
    assert len(moments) == 28  # 11:59 up to 12:06, every 15 s


def test_series_resamples_recorded_points_a_little_late_or_at_another_every():
    points = [(T0 + EVERY * i + timedelta(milliseconds=40), float(i), "") for i in range(8)]
    series = Series(points)
    assert series.value_at(T0, EVERY) == (0.0, "")  # a live sample taken 40 ms after it was due
    assert series.value_at(T0 + timedelta(seconds=20), timedelta(seconds=5)) == (1.0, "")
    assert series.value_at(T0 + EVERY * 20, EVERY)[0] is None  # past the last point: no data
