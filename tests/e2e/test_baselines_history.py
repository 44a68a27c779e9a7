"""Baselines from history, against a real Prometheus serving a backfilled past (5xx at 0.5 % until
T+12m, then 20 %; tests/history_prometheus.py): ``replay`` judges a relative guard against the
baseline the launch would have measured, and a launch started late measures its baselines from
history at start-up, refusing one of 0 under a factor before anything runs."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from conftest import events_of
from history_prometheus import INCIDENT

from launchctl.journal.catalogue import iso

RATIO = (
    'sum(rate(http_requests_total{service="shop",code=~"5.."}[1m]))'
    ' / sum(rate(http_requests_total{service="shop"}[1m]))'
)
FLAT_ZERO = 'max_over_time(queue_depth{service="gappy"}[1m]) - 10'


def _runbook(url: str, breach: str, query: str = RATIO, extra: str = "") -> str:
    return f"""
version: 1
name: shop launch
prometheus: {{url: "{url}"}}
steps:
  - {{id: deploy, at: T-5m, run: "true"}}
  - {{id: golive, at: T+0, run: "true"}}
guards:
  - id: errors-vs-normal
    prometheus: '{query}'
    breach: "{breach}"
    baseline: {{from: T-30m, to: T-5m}}
    every: 15s
    during: [T+0, T+30m]
{extra}"""


def test_replay_judges_a_relative_guard_against_its_baseline_from_history(
    cli, write_runbook, history, tmp_path
):
    path = write_runbook(_runbook(history.url, "> 3x baseline"))
    saved = tmp_path / "series.json"
    result = cli(
        "replay", path, "--t0", iso(history.t0), "--format", "json", "--save-series", saved
    )
    assert result.exit_code == 1, result.stderr
    data = json.loads(result.stdout)
    guard = data["guards"][0]
    assert guard["baseline"]["value"] == pytest.approx(0.005, rel=0.01)
    assert guard["baseline"]["limit"] == pytest.approx(0.015, rel=0.01)
    assert guard["baseline"]["window"] == "T-30m..T-5m" and guard["baseline"]["points"] > 50
    incident = INCIDENT.total_seconds()
    assert data["verdict"] == "rollback" and incident <= data["at"] <= incident + 15
    offline = json.loads(
        cli("replay", path, "--t0", iso(history.t0), "--format", "json", "--series", saved).stdout
    )
    assert (offline["verdict"], offline["at"]) == (data["verdict"], data["at"])
    assert offline["guards"][0]["baseline"]["value"] == pytest.approx(guard["baseline"]["value"])
    text = cli("replay", path, "--t0", iso(history.t0)).stdout
    assert "baseline T-30m..T-5m (the average of" in text and "so the limit is 0.015" in text
    wider = json.loads(
        cli(
            "replay",
            path,
            "--t0",
            iso(history.t0),
            "--format",
            "json",
            "--set",
            "errors-vs-normal.breach=> 50x baseline",
        ).stdout
    )
    assert wider["verdict"] == "completed"  # 20 % is 40x the normal 0.5 %, not 50x


def test_a_late_start_measures_its_baselines_from_history_before_the_first_step(
    cli, write_runbook, history
):
    path = write_runbook(
        _runbook(history.url, "> 3x baseline", extra="    inconclusive_limit: 100\n")
    )
    result = cli("run", path, "--t0", iso(history.t0), "--late-ok", "--speed", "600")
    assert result.exit_code == 0, result.stderr
    kinds = [e["event"] for e in result.events]
    assert kinds.index("baseline_measured") < kinds.index("step_started")
    measured = events_of(result.events, "baseline_measured")
    assert len(measured) == 1 and measured[0]["value"] == pytest.approx(0.005, rel=0.01)
    assert measured[0]["start"] == iso(history.t0 - timedelta(minutes=30))  # history, at 1x


def test_a_late_start_refuses_a_baseline_of_zero_under_a_factor(cli, write_runbook, history):
    path = write_runbook(_runbook(history.url, "> 2x baseline", query=FLAT_ZERO))
    result = cli("run", path, "--t0", iso(history.t0), "--late-ok")
    assert result.exit_code == 2
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"{path}:10:13: guards[0].breach: the baseline over T-30m..T-5m is 0")
    assert "Traceback" not in result.stderr and result.journal_dir is None
    additive = write_runbook(_runbook(history.url, "> baseline + 5", query=FLAT_ZERO), "add.yaml")
    assert (
        cli("run", additive, "--t0", iso(history.t0), "--late-ok", "--speed", "600").exit_code == 0
    )


def test_a_late_start_refuses_a_negative_baseline_under_a_factor(cli, write_runbook, history):
    """-10 is the normal; "> 2x baseline" would make -20 the limit and fire on the normal."""
    path = write_runbook(_runbook(history.url, "> 2x baseline", query=FLAT_ZERO + " - 10"))
    result = cli("run", path, "--t0", iso(history.t0), "--late-ok")
    assert result.exit_code == 2, result.stdout + result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"{path}:10:13: guards[0].breach: the baseline over T-30m..T-5m is -10")
    assert result.journal_dir is None


def test_a_point_at_infinity_is_left_out_of_the_baseline_not_averaged_into_it(
    cli, write_runbook, history
):
    """One point dividing by zero in the window made the baseline +Inf, and every limit with it:
    the relative guard could never fire (and the journal held a bare Infinity, not JSON)."""
    spiky = f"({RATIO}) / (vector(time() % 300 > bool 30))"  # +Inf one point in ten
    path = write_runbook(
        _runbook(history.url, "> 3x baseline", query=spiky, extra="    inconclusive_limit: 100\n")
    )
    result = cli("run", path, "--t0", iso(history.t0), "--late-ok", "--speed", "600")
    assert result.exit_code == 0, result.stderr
    text = (result.journal_dir / "journal.jsonl").read_text()
    assert "Infinity" not in text
    measured = events_of(result.events, "baseline_measured")
    assert measured[0]["value"] == pytest.approx(0.005, rel=0.01)
