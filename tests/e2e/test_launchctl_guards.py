"""Criteria and guards against a real Prometheus scraping a real exporter (1 s scrape)."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime

from conftest import events_of


def _ts(event: dict) -> float:
    return datetime.fromisoformat(event["ts"].replace("Z", "+00:00")).timestamp()


def _guarded(prom: str, metric: str, guard: str, steps: str | None = None) -> str:
    return f"""
version: 1
name: Guarded launch
prometheus: {{url: "{prom}"}}
steps:
{
        steps
        or '''  - {id: golive, at: T+0, run: "true"}
  - {id: soak, at: T+0, wait: 10m}'''
    }
guards:
{guard}
rollback:
  - {{id: undo, run: 'echo "{{{{ rollback.trigger }}}}: {{{{ rollback.reason }}}}" > rolled-back'}}
""".replace("METRIC", metric)


def test_prometheus_check_passes_and_journals_the_observed_value(
    write_runbook, cli, prometheus, exporter, metric_name
):
    exporter.set(metric_name, 0.0004)
    prometheus.wait_for(metric_name, lambda v: v == 0.0004)
    runbook = write_runbook(
        f"""
        version: 1
        name: Checked
        prometheus: {{url: "{prometheus.url}"}}
        steps:
          - id: initial-validation
            at: T+0
            check: [{{prometheus: "{metric_name}", expect: "< 0.001"}}]
        """
    )
    result = cli("run", runbook, "--no-wait")
    assert result.exit_code == 0, result.stdout
    check = events_of(result.events, "check_result")[0]
    assert check["status"] == "pass" and check["value"] == 0.0004
    assert check["reason"] == "0.0004 meets < 0.001"


def test_empty_query_result_is_inconclusive_and_fails_the_check(
    write_runbook, cli, prometheus, metric_name
):
    runbook = write_runbook(
        f"""
        version: 1
        name: No data
        prometheus: {{url: "{prometheus.url}"}}
        steps:
          - id: check
            at: T+0
            check: [{{prometheus: "{metric_name}_does_not_exist", expect: "< 1"}}]
        """
    )
    result = cli("run", runbook, "--no-wait")
    assert result.exit_code == 1
    check = events_of(result.events, "check_result")[0]
    assert check["status"] == "inconclusive" and "no data" in check["reason"]


def test_a_query_returning_several_series_is_inconclusive(
    write_runbook, cli, prometheus, exporter, metric_name
):
    exporter.set(metric_name + "_a", 1)
    exporter.set(metric_name + "_b", 2)
    prometheus.wait_for(f"count({{__name__=~'{metric_name}_(a|b)'}})", lambda v: v == 2)
    runbook = write_runbook(
        f"""
        version: 1
        name: Several
        prometheus: {{url: "{prometheus.url}"}}
        steps:
          - id: check
            at: T+0
            check: [{{prometheus: "{{__name__=~'{metric_name}_(a|b)'}}", expect: "< 5"}}]
        """
    )
    result = cli("run", runbook, "--no-wait")
    check = events_of(result.events, "check_result")[0]
    assert check["status"] == "inconclusive" and "aggregate it" in check["reason"]


def test_p95_from_a_real_histogram(write_runbook, cli, prometheus, exporter, metric_name):
    exporter.set_latencies(metric_name, [0.2] * 90 + [4.0] * 10)
    query = f"histogram_quantile(0.95, sum(rate({metric_name}_bucket[10s])) by (le))"
    prometheus.wait_for(query, lambda v: v > 3)
    runbook = write_runbook(
        f"""
        version: 1
        name: Latency
        prometheus: {{url: "{prometheus.url}"}}
        steps:
          - id: latency
            at: T+0
            check: [{{prometheus: "{query}", expect: "< 3"}}]
        """
    )
    result = cli("run", runbook, "--no-wait")
    assert result.exit_code == 1
    check = events_of(result.events, "check_result")[0]
    assert check["status"] == "fail" and 3 < check["value"] <= 5


def test_guard_breach_after_go_live_interrupts_a_running_wait_and_rolls_back(
    write_runbook, cli, prometheus, exporter, metric_name, workdir
):
    exporter.set(metric_name, 0.001)
    prometheus.wait_for(metric_name, lambda v: v == 0.001)
    guard = """  - {id: error-rate, prometheus: METRIC, breach: "> 0.05", every: 1s, during: [T+0, T+30m], then: rollback}"""
    runbook = write_runbook(_guarded(prometheus.url, metric_name, guard))
    threading.Timer(2.0, exporter.set, (metric_name, 0.2)).start()
    started = time.monotonic()
    result = cli("run", runbook, "--no-wait")
    assert result.exit_code == 1, result.stdout
    assert time.monotonic() - started < 20
    breach = events_of(result.events, "guard_breach")[0]
    rollback = events_of(result.events, "rollback_started")[0]
    assert breach["guard"] == "error-rate" and breach["value"] == 0.2
    assert rollback["trigger"] == "guard:error-rate"
    assert _ts(rollback) - _ts(breach) < 1.0, (
        "rollback must start within a second of the breaching sample"
    )
    interrupted = events_of(result.events, "step_interrupted")[0]
    assert interrupted["step"] == "soak"
    assert (
        (workdir / "rolled-back")
        .read_text()
        .startswith("guard:error-rate: guard 'error-rate' breached: 0.2 > 0.05")
    )


def test_guard_outside_its_window_never_fires(
    write_runbook, cli, prometheus, exporter, metric_name
):
    exporter.set(metric_name, 0.9)
    prometheus.wait_for(metric_name, lambda v: v == 0.9)
    guard = (
        """  - {id: early, prometheus: METRIC, breach: "> 0.05", every: 1s, during: [T-2h, T-1h]}"""
    )
    steps = """  - {id: golive, at: T+0, run: "sleep 2"}"""
    runbook = write_runbook(_guarded(prometheus.url, metric_name, guard, steps))
    result = cli("run", runbook, "--no-wait")
    assert result.exit_code == 0
    assert not events_of(result.events, "guard_sample")


def test_for_needs_a_sustained_breach(write_runbook, cli, prometheus, exporter, metric_name):
    exporter.set(metric_name, 0.0)
    prometheus.wait_for(metric_name, lambda v: v == 0.0)
    guard = """  - {id: sustained, prometheus: METRIC, breach: "> 0.05", every: 1s, for: 3s, during: [T+0, T+30m]}"""
    runbook = write_runbook(_guarded(prometheus.url, metric_name, guard))
    threading.Timer(1.5, exporter.set, (metric_name, 0.3)).start()
    result = cli("run", runbook, "--no-wait")
    assert result.exit_code == 1
    samples = events_of(result.events, "guard_sample")
    first_bad = next(s for s in samples if s["status"] == "breaching")
    breach = events_of(result.events, "guard_breach")[0]
    triggered = events_of(result.events, "guard_triggered")[0]
    assert _ts(breach) - _ts(first_bad) < 0.1, "guard_breach marks the start of the breach"
    assert _ts(triggered) - _ts(first_bad) >= 2.9, "the verdict waits for `for`"
    assert sum(1 for s in samples if s["status"] == "breaching") >= 4


def test_blind_guard_escalates_to_ask_and_without_a_terminal_rolls_back(
    write_runbook, cli, prometheus, metric_name
):
    guard = """  - {id: blind, prometheus: METRIC_missing, breach: "> 0.05", every: 1s, inconclusive_limit: 2, during: [T+0, T+30m], then: warn}"""
    runbook = write_runbook(_guarded(prometheus.url, metric_name, guard))
    result = cli("run", runbook, "--no-wait")
    assert result.exit_code == 1
    samples = events_of(result.events, "guard_sample")
    assert [s["status"] for s in samples[:2]] == ["inconclusive", "inconclusive"]
    assert events_of(result.events, "guard_inconclusive")[0]["action"] == "ask"
    decision = events_of(result.events, "operator_decision")[0]
    assert (
        decision["kind"] == "guard"
        and decision["answer"] == "rollback"
        and "headless" in decision["user"]
    )


def test_ask_guard_without_a_terminal_rolls_back(
    write_runbook, cli, prometheus, exporter, metric_name
):
    exporter.set(metric_name, 0.03)
    prometheus.wait_for(metric_name, lambda v: v == 0.03)
    guard = """  - {id: considered, prometheus: METRIC, breach: "> 0.01", every: 1s, during: [T+0, T+2h], then: ask}"""
    runbook = write_runbook(_guarded(prometheus.url, metric_name, guard))
    result = cli("run", runbook, "--no-wait")
    assert result.exit_code == 1
    assert events_of(result.events, "rollback_started")[0]["trigger"] == "guard:considered"


def test_warn_guard_records_and_notifies_without_stopping(
    write_runbook, cli, prometheus, exporter, metric_name
):
    exporter.set(metric_name, 0.5)
    prometheus.wait_for(metric_name, lambda v: v == 0.5)
    guard = """  - {id: noisy, prometheus: METRIC, breach: "> 0.01", every: 1s, during: [T+0, T+3s], then: warn}"""
    steps = """  - {id: golive, at: T+0, run: "true"}"""
    runbook = write_runbook(_guarded(prometheus.url, metric_name, guard, steps))
    result = cli("run", runbook, "--no-wait")
    assert result.exit_code == 0
    assert events_of(result.events, "guard_breach")
    assert any(
        "WARNING: guard 'noisy'" in n["message"] for n in events_of(result.events, "notification")
    )


def test_healthy_launch_monitors_until_the_last_window_closes(
    write_runbook, cli, prometheus, exporter, metric_name
):
    exporter.set(metric_name, 0.0)
    prometheus.wait_for(metric_name, lambda v: v == 0.0)
    guard = """  - {id: error-rate, prometheus: METRIC, breach: "> 0.05", every: 1s, during: [T+0, T+4s]}"""
    steps = """  - {id: golive, at: T+0, run: "true"}"""
    runbook = write_runbook(_guarded(prometheus.url, metric_name, guard, steps))
    started = time.monotonic()
    result = cli("run", runbook, "--no-wait")
    assert result.exit_code == 0
    assert time.monotonic() - started >= 3.5
    kinds = [e["event"] for e in result.events]
    assert (
        kinds.index("monitoring_started")
        < kinds.index("monitoring_finished")
        < kinds.index("launch_finished")
    )
    samples = events_of(result.events, "guard_sample")
    assert len(samples) >= 3 and all(s["status"] == "ok" and s["value"] == 0.0 for s in samples)


def test_guard_windows_scale_with_speed_but_every_stays_real(
    write_runbook, cli, prometheus, exporter, metric_name
):
    exporter.set(metric_name, 0.0)
    prometheus.wait_for(metric_name, lambda v: v == 0.0)
    guard = """  - {id: error-rate, prometheus: METRIC, breach: "> 0.05", every: 30s, during: [T+0, T+4m]}"""
    steps = """  - {id: golive, at: T+0, run: "true"}"""
    runbook = write_runbook(_guarded(prometheus.url, metric_name, guard, steps))
    started = time.monotonic()
    result = cli("run", runbook, "--no-wait", "--speed", "60")
    elapsed = time.monotonic() - started
    assert result.exit_code == 0
    assert 3.5 <= elapsed < 8  # four launch-minutes at 60x
    # `every: 30s` measures the real world (Prometheus scrapes at its own pace): one sample
    # when the window opens, the next would be 30 real seconds later
    assert len(events_of(result.events, "guard_sample")) == 1


def test_dry_run_evaluates_no_guard_and_describes_each(write_runbook, cli, prometheus, metric_name):
    guard = """  - {id: error-rate, prometheus: METRIC, breach: "> 0.05", during: [T+0, T+30m]}"""
    runbook = write_runbook(_guarded(prometheus.url, metric_name, guard))
    started = time.monotonic()
    result = cli("run", runbook, "--dry-run")
    assert result.exit_code == 0 and time.monotonic() - started < 5
    assert not events_of(result.events, "guard_sample")
    planned = events_of(result.events, "guard_planned")[0]
    assert (
        planned["query"] == metric_name
        and planned["threshold"] == "> 0.05"
        and planned["window"] == "T+0..T+30m"
    )


def _strict(line: str):
    """As JSON.parse, Go or serde read a line: no bare Infinity or NaN."""

    def refuse(constant: str):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(line, parse_constant=refuse)


def test_an_infinite_sample_is_journaled_and_streamed_as_strict_json(
    write_runbook, cli, prometheus
):
    """A ratio over a zero denominator samples +Inf: it breaches, and every line written stays
    JSON a strict parser reads, with the value as Prometheus writes it and read back as a number."""
    runbook = write_runbook(
        _guarded(
            prometheus.url,
            "unused",
            '  - {id: errors, prometheus: "vector(1) / vector(0)", breach: "> 5", every: 1s,'
            " during: [T+0, T+5m]}",
        )
    )
    result = cli("run", runbook, "--no-wait", "--yes", "--log-format", "json")
    assert result.exit_code == 1, result.stderr  # rolled back on the breach
    streamed = [_strict(line) for line in result.stdout.splitlines() if line.startswith("{")]
    journaled = [_strict(line) for line in (result.journal_dir / "journal.jsonl").open()]
    for events in (streamed, journaled):
        samples = [e for e in events if e["event"] == "guard_sample"]
        assert samples and samples[0]["value"] == "+Inf"
    status = cli("status", result.journal_dir, "--format", "json")
    assert status.exit_code == 0 and "rolled_back" in status.stdout
    assert "errors" in cli("report", result.journal_dir).stdout
