"""Guard decisions, table-driven: samples in, verdicts out."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from rollback.guards import GuardState, SampleStatus, VerdictKind, window_bounds
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
        _status, verdict = state.observe(T0 + timedelta(seconds=second), value, "no data")
        verdicts.append(verdict)
    fired = [i for i, v in enumerate(verdicts) if v is not None]
    assert fired == ([] if fires_at is None else [fires_at])
    if kind is not None:
        assert verdicts[fires_at].kind is kind


def test_blind_guard_escalates_to_ask_whatever_its_then():
    state = GuardState(_guard(then=GuardAction.WARN, inconclusive_limit=1))
    _, verdict = state.observe(T0, None, "Prometheus unreachable")
    assert verdict.action is GuardAction.ASK and "Prometheus unreachable" in verdict.reason


def test_breach_verdict_carries_value_threshold_and_how_long():
    state = GuardState(_guard(hold=timedelta(seconds=2), then=GuardAction.ASK))
    state.observe(T0, 0.2)
    status, verdict = state.observe(T0 + timedelta(seconds=2), 0.3)
    assert status is SampleStatus.BREACHING
    assert verdict.action is GuardAction.ASK and verdict.value == 0.3
    assert verdict.reason == "guard 'g' breached: 0.3 > 0.05 for 2s"


def test_after_a_verdict_a_continuing_breach_must_hold_again():
    state = GuardState(_guard(hold=timedelta(seconds=2)))
    verdicts = [state.observe(T0 + timedelta(seconds=s), 0.2)[1] for s in range(6)]
    assert [i for i, v in enumerate(verdicts) if v] == [2, 5]


@pytest.mark.parametrize(
    ("during", "expected"),
    [
        ((timedelta(0), timedelta(minutes=30)), (T0, T0 + timedelta(minutes=30))),
        (
            (timedelta(minutes=-10), timedelta(minutes=5)),
            (T0 - timedelta(minutes=10), T0 + timedelta(minutes=5)),
        ),
        (None, (T0, T0 + timedelta(hours=1))),
    ],
)
def test_window_bounds(during, expected):
    assert window_bounds(_guard(during=during), T0, timedelta(hours=1)) == expected


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
