"""Guard analysis: worst-case time to detect and the query shapes that make a guard slow or blind."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rollback.detection import analyse, can_be_empty_ratio, ranges, samples_for
from runbook.comparison import parse_comparison
from runbook.model import Guard

RATIO = 'sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))'


def _guard(query: str = RATIO, **overrides) -> Guard:
    return Guard(id="g", query=query, breach=parse_comparison("> 0.05"), **overrides)


def test_time_to_detect_adds_scrape_range_samples_for_for_and_evaluation():
    guard = _guard(hold=timedelta(minutes=1), every=timedelta(seconds=15))
    found = analyse(guard, timedelta(seconds=15))
    assert samples_for(guard) == 5
    assert found.time_to_detect == timedelta(seconds=15 + 300 + 5 * 15 + 10)


@pytest.mark.parametrize(
    "query,expected",
    [
        (RATIO, True),
        ('(sum(rate(x{code=~"5.."}[5m])) or vector(0)) / sum(rate(x[5m]))', False),
        ("sum(rate(x[5m])) / sum(rate(y[5m]))", False),
        ('sum(rate(x{code="500"}[1m]))', False),
        ('histogram_quantile(0.95, sum by (le) (rate(h_bucket{job="a"}[5m])))', False),
    ],
)
def test_a_ratio_with_a_filtered_numerator_can_be_empty(query, expected):
    assert can_be_empty_ratio(query) is expected


def test_warnings_for_a_slow_guard_a_short_rate_range_and_an_empty_ratio():
    guard = _guard(
        'sum(rate(x{code=~"5.."}[30s])) / sum(rate(x[30s]))',
        during=(timedelta(0), timedelta(minutes=2)),
        hold=timedelta(minutes=1),
    )
    warnings = analyse(guard, timedelta(seconds=15)).warnings
    assert len(warnings) == 3
    assert "more than half its window" in warnings[0]
    assert "[30s] is shorter than 4x the scrape interval (1m)" in warnings[1]
    assert "or vector(0)" in warnings[2]
    assert ranges("max_over_time(x[1h:5m]) + rate(y[90s])") == [
        timedelta(hours=1),
        timedelta(seconds=90),
    ]


def test_validate_and_plan_print_time_to_detect_and_warn_on_stderr(cli, write_runbook):
    path = write_runbook(
        f"""
        version: 1
        name: n
        prometheus: {{url: "http://127.0.0.1:1"}}
        steps: [{{id: a, at: T+0, run: "true"}}]
        guards:
          - {{id: err, prometheus: '{RATIO}', breach: "> 0.05", for: 1m, during: [T+0, T+10m]}}
        """
    )
    result = cli("validate", path)
    assert result.exit_code == 0 and result.stdout == "ok: 1 steps, 1 guards, 0 rollback steps\n"
    assert "guard err: worst-case time to detect 7m25s" in result.stderr
    assert "warning: guard err: time to detect 7m25s is more than half its window" in result.stderr
    plan = cli("plan", path, "--t0", "2026-12-01T14:00:00Z")
    assert plan.exit_code == 0 and "guard err: worst-case time to detect" in plan.stdout
    assert "or vector(0)" in plan.stderr
