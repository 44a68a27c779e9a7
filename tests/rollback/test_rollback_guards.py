"""Guard decisions, table-driven: samples in, verdicts out."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from rollback.guards import GuardState, LaunchTimes, SampleStatus, VerdictKind, window
from rollback.policy import Decision, decide_on_failure
from runbook.comparison import parse_comparison
from runbook.model import Guard, GuardAction, OnFailure

T0 = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
NaN = math.nan


def _guard(**overrides) -> Guard:
    settings = {
        "id": "g",
        "query": "q",
        "breach": parse_comparison("> 0.05"),
        "every": timedelta(seconds=1),
    }
    settings.update(overrides)
    return Guard(**settings)


# (guard settings, samples as (second, value), index of the sample that yields a verdict or None, verdict kind)
CASES = [
    ("first breaching sample fires without for", {}, [(0, 0.01), (1, 0.2)], 1, VerdictKind.BREACH),
    ("below the threshold never fires", {}, [(0, 0.01), (1, 0.05), (2, 0.0)], None, None),
    (
        "for needs the breach to span that long",
        {"hold": timedelta(seconds=3)},
        [(0, 0.2), (1, 0.2), (2, 0.2), (3, 0.2)],
        3,
        VerdictKind.BREACH,
    ),
    (
        "a good sample resets for",
        {"hold": timedelta(seconds=3)},
        [(0, 0.2), (1, 0.2), (2, 0.0), (3, 0.2), (4, 0.2)],
        None,
        None,
    ),
    (
        "an inconclusive sample neither confirms nor resets for",
        {"hold": timedelta(seconds=2)},
        [(0, 0.2), (1, None), (2, 0.2)],
        2,
        VerdictKind.BREACH,
    ),
    (
        "inconclusive_limit in a row escalates",
        {"inconclusive_limit": 3},
        [(0, None), (1, None), (2, None)],
        2,
        VerdictKind.BLIND,
    ),
    (
        "a value between inconclusive samples restarts the count",
        {"inconclusive_limit": 3},
        [(0, None), (1, None), (2, 0.0), (3, None), (4, None)],
        None,
        None,
    ),
    (
        "NaN is inconclusive, never a pass",
        {"inconclusive_limit": 2},
        [(0, NaN), (1, NaN)],
        1,
        VerdictKind.BLIND,
    ),
    (
        "a less-than threshold",
        {"breach": parse_comparison("< 10")},
        [(0, 50.0), (1, 9.0)],
        1,
        VerdictKind.BREACH,
    ),
]


@pytest.mark.parametrize(
    ("name", "settings", "samples", "fires_at", "kind"), CASES, ids=[c[0] for c in CASES]
)
def test_guard_decisions(name, settings, samples, fires_at, kind):
    state = GuardState(_guard(**settings))
    verdicts = []
    for second, value in samples:
        verdicts.append(state.observe(T0 + timedelta(seconds=second), value, "no data").verdict)
    fired = [i for i, v in enumerate(verdicts) if v is not None]
    assert fired == ([] if fires_at is None else [fires_at])
    if kind is not None:
        assert verdicts[fires_at].kind is kind


def test_blind_guard_escalates_to_ask_whatever_its_then():
    state = GuardState(_guard(then=GuardAction.WARN, inconclusive_limit=1))
    verdict = state.observe(T0, None, "Prometheus unreachable").verdict
    assert verdict.action is GuardAction.ASK and "Prometheus unreachable" in verdict.reason


def test_breach_verdict_carries_value_threshold_and_how_long():
    state = GuardState(_guard(hold=timedelta(seconds=2), then=GuardAction.ASK))
    state.observe(T0, 0.2)
    seen = state.observe(T0 + timedelta(seconds=2), 0.3)
    assert seen.status is SampleStatus.BREACHING
    verdict = seen.verdict
    assert verdict.action is GuardAction.ASK and verdict.value == 0.3
    assert verdict.reason == "guard 'g' breached: 0.3 > 0.05 (held 2s)"
    assert verdict.held == timedelta(seconds=2)


def test_a_continuing_breach_fires_again_only_a_minute_later_not_every_sample():
    state = GuardState(_guard())
    verdicts = [state.observe(T0 + timedelta(seconds=s), 0.2).verdict for s in range(0, 130, 5)]
    assert [i * 5 for i, v in enumerate(verdicts) if v] == [0, 60, 120]


def test_a_long_for_fires_again_after_for_not_after_a_minute():
    state = GuardState(_guard(hold=timedelta(minutes=2)))
    verdicts = [state.observe(T0 + timedelta(seconds=s), 0.2).verdict for s in range(0, 400, 10)]
    assert [i * 10 for i, v in enumerate(verdicts) if v] == [120, 240, 360]


def test_breach_start_and_recovery_are_transitions_not_every_sample():
    state = GuardState(_guard(hold=timedelta(seconds=10)))
    values = [0.0, 0.2, 0.3, None, 0.4, 0.0, 0.0, 0.2]
    seen = [state.observe(T0 + timedelta(seconds=s), v) for s, v in enumerate(values)]
    assert [i for i, o in enumerate(seen) if o.breach_started] == [1, 7]
    assert [i for i, o in enumerate(seen) if o.recovered] == [5]
    assert not any(o.verdict for o in seen)


GO = T0 + timedelta(minutes=40)  # go-live started 40 minutes late
END = GO + timedelta(hours=1)


@pytest.mark.parametrize(
    ("during", "times", "expected"),
    [
        (
            (timedelta(0), timedelta(minutes=30)),
            LaunchTimes(T0, GO),
            (GO, GO + timedelta(minutes=30)),
        ),
        ((timedelta(0), timedelta(minutes=30)), LaunchTimes(T0), (None, None)),
        (
            (timedelta(minutes=-10), timedelta(minutes=5)),
            LaunchTimes(T0, GO),
            (T0 - timedelta(minutes=10), GO + timedelta(minutes=5)),
        ),
        (
            (timedelta(minutes=-10), timedelta(minutes=5)),
            LaunchTimes(T0),
            (T0 - timedelta(minutes=10), None),
        ),
        (None, LaunchTimes(T0, GO), (GO, None)),
        (None, LaunchTimes(T0, GO, END), (GO, END)),
    ],
    ids=[
        "late go-live",
        "go-live not yet",
        "pre-T0 start",
        "pre-T0 open end",
        "no during",
        "no during ended",
    ],
)
def test_windows_hang_on_the_actual_go_live(during, times, expected):
    assert window(_guard(during=during), times) == expected


@pytest.mark.parametrize(
    ("on_failure", "interactive", "decision"),
    [
        (OnFailure.ROLLBACK, True, Decision.ROLLBACK),
        (OnFailure.ROLLBACK, False, Decision.ROLLBACK),
        (OnFailure.ASK, True, Decision.ASK),
        (OnFailure.ASK, False, Decision.ROLLBACK),
        (OnFailure.CONTINUE, False, Decision.CONTINUE),
    ],
)
def test_failure_policy(on_failure, interactive, decision):
    assert decide_on_failure(on_failure, interactive) is decision
