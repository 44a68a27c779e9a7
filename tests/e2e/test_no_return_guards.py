"""Past the point of no return with a real Prometheus and a real terminal: a guard breach rolls
forward, a person at a terminal chooses, and a headless launch keeps its guards watching while
it waits for a second terminal."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from conftest import events_of, launchctl_argv, read_events, run_subprocess, wait_for
from preemption_scenarios import Pty

HANG_GUARD = 60.0


def _runbook(prom: str, metric: str, *, roll_forward: bool, fail: bool = False) -> str:
    text = f"""
version: 1
name: Past the point
prometheus: {{url: "{prom}"}}
steps:
  - {{id: contract, at: T+0, run: "echo contract >> ran.log", irreversible: "drops column legacy_sku"}}
  - {{id: verify, at: T+0, run: "{"false" if fail else "true"}"}}
  - {{id: soak, at: T+0, wait: 10m}}
guards:
  - {{id: errors, prometheus: {metric}, breach: "> 0.05", every: 1s}}
rollback:
  - {{id: undo, run: "echo undo >> rolled.log"}}
"""
    if roll_forward:
        text += """
roll_forward:
  - {id: flag-off, run: 'echo "{{ rollback.trigger }}" >> forward.log'}
"""
    return text


@pytest.fixture
def healthy(exporter, prometheus, metric_name):
    exporter.set(metric_name, 0.0)
    prometheus.wait_for(metric_name, lambda v: v == 0.0)
    return metric_name


def test_a_guard_breach_past_the_point_rolls_forward(
    write_runbook, cli, workdir, prometheus, exporter, healthy
):
    import threading

    runbook = write_runbook(_runbook(prometheus.url, healthy, roll_forward=True))
    threading.Timer(3.0, exporter.set, (healthy, 0.4)).start()
    result = cli("run", runbook, "--no-wait")
    assert result.exit_code == 1
    assert (workdir / "forward.log").read_text().strip() == "guard:errors"
    assert not (workdir / "rolled.log").exists()
    assert events_of(result.events, "launch_finished")[0]["status"] == "rolled_forward"


def test_at_a_terminal_a_person_chooses_the_full_rollback(
    write_runbook, workdir, prometheus, healthy
):
    runbook = write_runbook(_runbook(prometheus.url, healthy, roll_forward=False, fail=True))
    pty = Pty(workdir, "run", runbook, "--no-wait", "--journal", "j")
    try:
        pty.wait_seen("A person must decide. What now? (rollback-anyway, continue, pause)")
        pty.child.sendline("rollback-anyway")
        assert pty.finish() == 1
    finally:
        pty.kill()
    events = read_events(workdir / "j")
    started = events_of(events, "rollback_started")[0]
    assert started["forced_past_no_return_by"]
    decision = [d for d in events_of(events, "operator_decision") if d["kind"] == "past-no-return"][
        0
    ]
    assert (decision["answer"], decision["how"]) == ("rollback-anyway", "terminal")
    assert (workdir / "rolled.log").read_text().strip() == "undo"


def test_headless_it_waits_with_guards_watching_until_a_second_terminal_decides(
    write_runbook, workdir, prometheus, healthy
):
    runbook = write_runbook(_runbook(prometheus.url, healthy, roll_forward=False, fail=True))
    driver = subprocess.Popen(
        launchctl_argv("run", runbook, "--no-wait", "--journal", "j"),
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    journal = Path(workdir / "j")
    try:

        def samples_while_waiting() -> int:
            if not (journal / "journal.jsonl").exists():
                return 0
            events = read_events(journal)
            waiting = [e for e in events if e["event"] == "awaiting_answer"]
            if not waiting:
                return 0
            return sum(
                1 for e in events if e["event"] == "guard_sample" and e["seq"] > waiting[0]["seq"]
            )

        wait_for(lambda: samples_while_waiting() >= 3, timeout=HANG_GUARD)
        forced = run_subprocess(
            "rollback", "j", "--reason", "decided", "--force-past-no-return", cwd=workdir
        )
        assert forced.exit_code == 0, forced.stderr
        assert driver.wait(timeout=HANG_GUARD) == 1
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert (workdir / "rolled.log").read_text().strip() == "undo"
