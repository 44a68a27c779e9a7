"""What people see of baselines and checkpoints before anything is measured: the plan, the dry
run's journal and ``status``, the live view's guard rows and the plain lines."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from conftest import events_of

from launchctl.views.plain import PlainConsole
from launchctl.views.view_model import ViewModel

RUNBOOK = """
version: 1
name: Watched launch
prometheus: {url: "http://127.0.0.1:9"}
steps:
  - {id: deploy, at: T-10m, run: "true"}
  - {id: golive, at: T+0, run: "true"}
guards:
  - id: p95
    prometheus: histogram_quantile(0.95, sum(rate(latency_bucket[1m])) by (le))
    breach: "> 1.5x baseline"
    during: [T+0, T+30m]
    then: ask
checkpoints:
  check:
    - prometheus: sum(rate(requests_total[5m]))
      expect: "> 0.8x baseline"
    - prometheus: errors_ratio
      expect: "< 0.001"
  schedule:
    - {every: 2h, until: T+24h}
    - {every: 4h, until: T+48h}
  review: [T+24h, T+48h]
"""


def test_plan_shows_the_baseline_and_the_checkpoint_schedule(cli, write_runbook):
    result = cli("plan", write_runbook(RUNBOOK), "--t0", "2026-12-01T14:00:00Z")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "> 1.5 × baseline (measured at T-5m), T+0..T+30m, then ask" in out
    assert "baseline: the query's average over T-30m..T-5m" in out
    assert "CHECKPOINTS (after go-live; launchctl watch / checkpoint): 18, then notify" in out
    assert "every 2h from T+0 until T+24h" in out and "every 4h from T+24h until T+48h" in out
    assert "reviews at T+24h, T+48h" in out
    assert "> 0.8 × baseline (measured at T-5m: the average over T-30m..T-5m)" in out
    assert "errors_ratio < 0.001 (shown against its average over T-30m..T-5m)" in out


def test_a_dry_run_records_the_schedule_and_status_names_the_next_checkpoint(cli, write_runbook):
    result = cli("run", write_runbook(RUNBOOK), "--dry-run", "--t0", "2026-12-01T14:00:00Z")
    assert result.exit_code == 0, result.stderr
    started = events_of(result.events, "launch_started")[0]
    assert [c["slot"] for c in started["checkpoints"]][:3] == ["T+2h", "T+4h", "T+6h"]
    assert [c["slot"] for c in started["checkpoints"] if c["review"]] == ["T+24h", "T+48h"]
    planned = events_of(result.events, "guard_planned")[0]
    assert planned["threshold"] == "> 1.5x baseline" and planned["baseline"] == "T-30m..T-5m"
    assert not events_of(result.events, "baseline_measured")  # a dry run measures nothing
    status = cli("status", result.journal_dir)
    due = datetime(2026, 12, 1, 16, 0, tzinfo=UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    assert f"checkpoints: 0/18 done; next T+2h at {due}" in status.stdout


def test_the_live_view_and_the_plain_lines_show_the_baseline_and_its_limit():
    model = ViewModel()
    for event in (
        {
            "event": "launch_started",
            "name": "n",
            "launch_id": "l",
            "t0": "2026-12-01T14:00:00.000Z",
            "guards": ["p95"],
        },
        {
            "event": "baseline_measured",
            "ts": "2026-12-01T13:55:00.000Z",
            "query": "q",
            "window": "T-30m..T-5m",
            "value": 0.2,
            "points": 9,
            "fetch_s": 0.01,
            "used_by": ["guard:p95"],
        },
        {
            "event": "guard_window_opened",
            "guard": "p95",
            "threshold": "> 1.5x baseline",
            "limit": 0.3,
        },
    ):
        model.apply(event)
    row = model.guards["p95"]
    assert row.shown_threshold() == "> 1.5x baseline (0.2 → 0.3)"
    assert "baseline T-30m..T-5m of p95: 0.2" in list(model.notes)
    out = io.StringIO()
    PlainConsole(out)(
        {
            "event": "baseline_measured",
            "ts": "2026-12-01T13:55:00.000Z",
            "window": "T-30m..T-5m",
            "value": None,
            "reason": "no data in the range",
            "used_by": ["guard:p95"],
        }
    )
    assert "baseline T-30m..T-5m for guard:p95: none, no data in the range (inconclusive)" in (
        out.getvalue()
    )
