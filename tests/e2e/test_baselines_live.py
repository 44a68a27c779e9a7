"""Guards and checks relative to the service's own baseline, against a real Prometheus scraping
the tests' exporter: measured once when its window closes (launch time, ``--speed``), journaled,
and judged by the same guard decisions as a fixed threshold."""

from __future__ import annotations

import subprocess

from conftest import events_of, launchctl_argv, read_events, wait_for

QUANTILE = "histogram_quantile(0.95, sum(rate(METRIC_bucket[5s])) by (le))"
BEFORE = [0.2]  # every request 0.2 s: P95 interpolates to about 0.24 in the (0.1, 0.25] bucket
AFTER = [0.9]  # after go-live 0.9 s: P95 about 0.98, far above 1.5x the baseline, under 3


def _launch(prom: str, metric: str) -> str:
    query = QUANTILE.replace("METRIC", metric)
    return f"""
version: 1
name: Baseline launch
prometheus: {{url: "{prom}"}}
steps:
  - {{id: warm, at: T-30m, run: "true"}}
  - {{id: golive, at: T+0, run: "true"}}
  - {{id: soak, at: T+1m, wait: 29m}}
guards:
  - id: p95-relative
    prometheus: '{query}'
    breach: "> 1.5x baseline"
    baseline: {{from: T-20m, to: T-5m}}
    every: 1s
    during: [T+0, T+30m]
  - id: p95-absolute
    prometheus: '{query}'
    breach: "> 3"
    every: 1s
    during: [T+0, T+30m]
rollback:
  - {{id: undo, run: "true"}}
"""


def test_a_latency_step_after_go_live_fires_the_relative_guard_and_not_the_absolute_one(
    cli, write_runbook, workdir, prometheus, exporter, metric_name
):
    exporter.set_latencies(metric_name, BEFORE)
    prometheus.wait_for(QUANTILE.replace("METRIC", metric_name), lambda v: 0.2 < v < 0.25)
    runbook = write_runbook(_launch(prometheus.url, metric_name))
    journal = workdir / "journal"
    process = subprocess.Popen(
        launchctl_argv("run", runbook, "--t0", "+30m", "--speed", "120", "--journal", journal),
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: (journal / "journal.jsonl").exists() and _went_live(journal), 60)
        exporter.set_latencies(metric_name, AFTER)
        _, stderr = process.communicate(timeout=90)
    finally:
        process.kill()
        exporter.set_latencies(metric_name, BEFORE)
    events = read_events(journal)
    assert process.returncode == 1, stderr
    measured = events_of(events, "baseline_measured")
    assert len(measured) == 1  # one query, one window: measured once for the guard that needs it
    baseline = measured[0]
    assert baseline["window"] == "T-20m..T-5m" and baseline["used_by"] == ["guard:p95-relative"]
    assert 0.2 < baseline["value"] < 0.25 and baseline["points"] >= 3
    kinds = [e["event"] for e in events]
    assert kinds.index("baseline_measured") < kinds.index("guards_anchored")  # before go-live
    fired = events_of(events, "guard_triggered")
    assert [e["guard"] for e in fired] == ["p95-relative"]
    assert (
        fired[0]["limit"] == round(1.5 * baseline["value"], 12)
        or abs(fired[0]["limit"] - 1.5 * baseline["value"]) < 1e-9
    )
    assert "baseline" in fired[0]["reason"] and "limit" in fired[0]["reason"]
    rollback = events_of(events, "rollback_started")[0]
    assert rollback["trigger"] == "guard:p95-relative"
    absolute = [e for e in events_of(events, "guard_sample") if e["guard"] == "p95-absolute"]
    assert absolute and all(e["status"] == "ok" for e in absolute)
    told = [n for n in events_of(events, "notification") if n["milestone"] == "guard_breach"][0]
    assert told["guard"]["baseline"] == baseline["value"] and "limit" in told["message"]
    report = cli("report", journal).stdout
    assert f"baseline T-20m..T-5m for guard:p95-relative: {baseline['value']:.4g}" in report
    assert "> 1.5x baseline (baseline" in report


def _went_live(journal) -> bool:
    return any(e["event"] == "guards_anchored" for e in read_events(journal))
