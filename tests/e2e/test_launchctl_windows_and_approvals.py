"""Guard windows follow the real launch; confirmations have deadlines and second-terminal answers;
hostile endpoints make guards inconclusive and checks fail, never hang; SIGTERM is honoured anywhere."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import events_of, launchctl_argv, read_events, run_subprocess, wait_for
from hostile_servers import BODIES, HostileServer

HANG_GUARD = 30.0


def _ts(event: dict) -> datetime:
    return datetime.fromisoformat(event["ts"].replace("Z", "+00:00"))


def _start(workdir: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        launchctl_argv(*args),
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _events_when(journal: Path, kind: str) -> list[dict]:
    if not (journal / "journal.jsonl").exists():
        return []
    return events_of(read_events(journal), kind)


@pytest.fixture
def hostile():
    server = HostileServer()
    yield server
    server.close()


# -- windows --------------------------------------------------------------------------------


def test_a_late_start_is_refused_without_a_terminal_unless_late_ok(write_runbook, cli, workdir):
    runbook = write_runbook(
        """
        version: 1
        name: Late
        steps:
          - {id: golive, at: T+0, run: "touch ran"}
        """
    )
    t0 = (datetime.now(UTC) - timedelta(minutes=40)).isoformat()
    refused = cli("run", runbook, "--t0", t0)
    assert refused.exit_code == 2
    assert "'golive' was due 40m" in refused.stderr and "--late-ok" in refused.stderr
    assert not (workdir / "ran").exists()
    started = cli("run", runbook, "--t0", t0, "--late-ok")
    assert started.exit_code == 0 and (workdir / "ran").exists()
    late = events_of(started.events, "step_started")[0]["late_s"]
    assert 39 * 60 < late < 41 * 60


def test_a_late_start_keeps_the_whole_guard_window(
    write_runbook, cli, prometheus, exporter, metric_name
):
    exporter.set(metric_name, 0.0)
    prometheus.wait_for(metric_name, lambda v: v == 0.0)
    runbook = write_runbook(
        f"""
        version: 1
        name: Late but guarded
        prometheus: {{url: "{prometheus.url}"}}
        steps:
          - {{id: golive, at: T+0, run: "true"}}
        guards:
          - {{id: errors, prometheus: {metric_name}, breach: "> 0.05", every: 1s, during: [T+0, T+3s]}}
        """
    )
    t0 = (datetime.now(UTC) - timedelta(minutes=40)).isoformat()
    result = cli("run", runbook, "--t0", t0, "--late-ok")
    assert result.exit_code == 0
    samples = events_of(result.events, "guard_sample")
    assert len(samples) >= 3, "a start 40 minutes late must not close the window before go-live"
    anchored = events_of(result.events, "guards_anchored")[0]
    assert anchored["step"] == "golive"
    assert _ts(samples[0]) >= datetime.fromisoformat(anchored["anchor"].replace("Z", "+00:00"))


def test_a_slipped_go_live_keeps_the_whole_guard_window(
    write_runbook, workdir, prometheus, exporter, metric_name
):
    """Go-live waits 4 s for an approval from a second terminal; its 6 s window starts after."""
    exporter.set(metric_name, 0.0)
    prometheus.wait_for(metric_name, lambda v: v == 0.0)
    runbook = write_runbook(
        f"""
        version: 1
        name: Slipped
        prometheus: {{url: "{prometheus.url}"}}
        steps:
          - {{id: golive, at: T+0, confirm: {{question: "Go?", timeout: 1m}}, run: "true"}}
        guards:
          - {{id: errors, prometheus: {metric_name}, breach: "> 0.05", every: 1s, during: [T+0, T+6s]}}
        """
    )
    driver = _start(workdir, "run", runbook, "--journal", "j")
    try:
        wait_for(lambda: _events_when(workdir / "j", "confirm_requested"))
        time.sleep(4)
        approved = run_subprocess("approve", "j", "--by", "alice", cwd=workdir)
        assert approved.exit_code == 0, approved.stderr
        assert driver.wait(timeout=HANG_GUARD) == 0
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    events = read_events(workdir / "j")
    answered = events_of(events, "confirm_answered")[0]
    assert (answered["by"], answered["how"], answered["answer"]) == (
        "alice",
        "second-terminal",
        "yes",
    )
    samples = events_of(events, "guard_sample")
    assert len(samples) >= 3
    assert _ts(samples[0]) >= _ts(answered)


def test_a_guard_without_during_watches_the_last_steps_wait(
    write_runbook, cli, prometheus, exporter, metric_name
):
    exporter.set(metric_name, 0.0)
    prometheus.wait_for(metric_name, lambda v: v == 0.0)
    runbook = write_runbook(
        f"""
        version: 1
        name: Soak
        prometheus: {{url: "{prometheus.url}"}}
        steps:
          - {{id: golive, at: T+0, run: "true"}}
          - {{id: soak, at: T+0, wait: 20s}}
        guards:
          - {{id: errors, prometheus: {metric_name}, breach: "> 0.05", every: 1s}}
        rollback:
          - {{id: undo, run: "true"}}
        """
    )
    import threading

    threading.Timer(4.0, exporter.set, (metric_name, 0.4)).start()
    result = cli("run", runbook, "--no-wait")
    assert result.exit_code == 1
    assert events_of(result.events, "rollback_started")[0]["trigger"] == "guard:errors"
    assert events_of(result.events, "step_interrupted")[0]["step"] == "soak"


# -- confirmations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("on_timeout", "exit_code", "ran"),
    [("rollback", 1, False), ("continue", 0, True), ("pause", 5, False)],
)
def test_a_confirmation_nobody_answers_applies_on_timeout(
    write_runbook, cli, workdir, on_timeout, exit_code, ran
):
    runbook = write_runbook(
        f"""
        version: 1
        name: Deadline
        steps:
          - {{id: prep, at: T+0, run: "true"}}
          - {{id: golive, at: T+0, run: "touch cut", confirm: {{question: "Cut over?", timeout: 1s, on_timeout: {on_timeout}}}}}
        rollback:
          - {{id: undo, run: "touch undone"}}
        """
    )
    result = cli("run", runbook, "--no-wait")
    assert result.exit_code == exit_code, result.stderr
    assert (workdir / "cut").exists() is ran
    answered = events_of(result.events, "confirm_answered")[0]
    assert (answered["answer"], answered["how"]) == (on_timeout, "timeout")


def test_approve_reject_from_a_second_terminal_pauses_a_headless_launch(write_runbook, workdir):
    runbook = write_runbook(
        """
        version: 1
        name: Rejected
        steps:
          - {id: golive, at: T+0, run: "touch cut", confirm: {question: "Cut over?", timeout: 1m}}
        """
    )
    driver = _start(workdir, "run", runbook, "--no-wait", "--journal", "j")
    try:
        wait_for(lambda: _events_when(workdir / "j", "confirm_requested"))
        rejected = run_subprocess("approve", "j", "--by", "bob", "--reject", cwd=workdir)
        assert rejected.exit_code == 0, rejected.stderr
        assert driver.wait(timeout=HANG_GUARD) == 5
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert not (workdir / "cut").exists()
    answered = events_of(read_events(workdir / "j"), "confirm_answered")[0]
    assert (answered["by"], answered["answer"]) == ("bob", "reject")


def test_approve_with_nothing_waiting_is_bad_input(write_runbook, cli, workdir):
    runbook = write_runbook(
        """
        version: 1
        name: Nothing
        steps:
          - {id: a, at: T+0, run: "true"}
        """
    )
    result = cli("run", runbook, "--no-wait", "--journal", "j")
    assert result.exit_code == 0
    refused = cli("approve", workdir / "j", "--by", "alice")
    assert refused.exit_code == 2 and "nothing to approve" in refused.stderr


# -- hostile endpoints -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["trickle", "stall", "headers", "html", *(f"json/{n}" for n in BODIES)]
)
def test_a_hostile_prometheus_makes_the_guard_inconclusive_and_it_escalates(
    write_runbook, cli, hostile, path
):
    runbook = write_runbook(
        f"""
        version: 1
        name: Hostile
        prometheus: {{url: "{hostile.url}/{path}"}}
        steps:
          - {{id: golive, at: T+0, run: "true"}}
          - {{id: soak, at: T+0, wait: 1m}}
        guards:
          - {{id: errors, prometheus: up, breach: "> 0.05", every: 1s, timeout: 1s, inconclusive_limit: 2}}
        rollback:
          - {{id: undo, run: "true"}}
        """
    )
    started = time.monotonic()
    result = cli("run", runbook, "--no-wait")
    assert time.monotonic() - started < HANG_GUARD
    assert result.exit_code == 1, "blind guards escalate to ask, which headless means rollback"
    assert "Traceback" not in result.stderr + result.stdout
    samples = events_of(result.events, "guard_sample")
    assert samples and all(s["status"] == "inconclusive" and s["reason"] for s in samples)
    assert events_of(result.events, "guard_inconclusive")[0]["action"] == "ask"


def test_an_http_check_against_a_trickling_server_fails_at_its_within(write_runbook, cli, hostile):
    runbook = write_runbook(
        f"""
        version: 1
        name: Trickled
        steps:
          - id: health
            at: T+0
            check: [{{http: "{hostile.url}/trickle/ready", timeout: 2s, within: 6s, every: 1s}}]
        """
    )
    started = time.monotonic()
    result = cli("run", runbook, "--no-wait")
    took = time.monotonic() - started
    assert result.exit_code == 1
    assert took < HANG_GUARD, f"a 6s check took {took:.0f}s"
    checks = events_of(result.events, "check_result")
    assert checks and all(c["status"] != "pass" for c in checks)
    assert "within" in checks[-1]["reason"]


@pytest.mark.parametrize("state", ["trickling check", "prometheus check", "exec"])
def test_sigterm_pauses_promptly_whatever_the_launch_waits_on(
    write_runbook, workdir, hostile, state
):
    step = {
        "trickling check": f'check: [{{http: "{hostile.url}/trickle/x", timeout: 60s}}]',
        "prometheus check": 'check: [{prometheus: "up", expect: "< 1", timeout: 60s}]',
        "exec": 'run: "sleep 60"',
    }[state]
    runbook = write_runbook(
        f"""
        version: 1
        name: Terminated
        prometheus: {{url: "{hostile.url}/stall"}}
        steps:
          - {{id: busy, at: T+0, {step}}}
        """
    )
    driver = _start(workdir, "run", runbook, "--no-wait", "--journal", "j")
    try:
        wait_for(lambda: _events_when(workdir / "j", "step_started"))
        time.sleep(0.5)
        sent = time.monotonic()
        os.kill(driver.pid, signal.SIGTERM)
        assert driver.wait(timeout=HANG_GUARD) == 5
        took = time.monotonic() - sent
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert took < 5, f"SIGTERM took {took:.1f}s"
    events = read_events(workdir / "j")
    assert events[-1]["event"] == "launch_paused"
    assert events_of(events, "step_interrupted")[0]["step"] == "busy"


def test_speed_compresses_the_window_but_not_every_or_for(
    write_runbook, cli, prometheus, exporter, metric_name
):
    """At --speed 60 a [T+0, T+10m] window lasts ten real seconds, samples stay a real second
    apart, and `for: 2s` still needs two real seconds of breach."""
    exporter.set(metric_name, 0.3)
    prometheus.wait_for(metric_name, lambda v: v == 0.3)
    runbook = write_runbook(
        f"""
        version: 1
        name: Fast rehearsal
        prometheus: {{url: "{prometheus.url}"}}
        steps:
          - {{id: golive, at: T+0, run: "true"}}
          - {{id: soak, at: T+0, wait: 30m}}
        guards:
          - {{id: errors, prometheus: {metric_name}, breach: "> 0.05", every: 1s, for: 2s, during: [T+0, T+10m]}}
        rollback:
          - {{id: undo, run: "true"}}
        """
    )
    result = cli("run", runbook, "--no-wait", "--speed", "60")
    assert result.exit_code == 1
    samples = events_of(result.events, "guard_sample")
    gaps = [_ts(b) - _ts(a) for a, b in zip(samples, samples[1:], strict=False)]
    # compressed, they would be 1/60 s apart; a sample's own query time moves each a little
    assert gaps and min(gaps).total_seconds() >= 0.5
    triggered = events_of(result.events, "guard_triggered")[0]
    assert (_ts(triggered) - _ts(samples[0])).total_seconds() >= 1.9
