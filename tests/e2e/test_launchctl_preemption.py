"""A ``then: rollback`` breach preempts whatever the launch is doing, within a second.

Each test puts the launch in one state on a real pseudo-terminal that nobody
answers — a confirmation waiting, an ``ask`` waiting, the Ctrl-C menu open,
an HTTP check stuck on a stalling endpoint, a command running, the launch
held after go-live, a ``then: ask`` guard prompting — then turns a real
exporter's metric bad under a real Prometheus. The guard's breaching sample
must be followed by ``rollback_started`` within one second (journal times).
"""

from __future__ import annotations

import sys
import threading
from datetime import datetime
from pathlib import Path

import pexpect
import pytest
from conftest import events_of, read_events, wait_for
from hostile_servers import HostileServer


def _ts(event: dict) -> float:
    return datetime.fromisoformat(event["ts"].replace("Z", "+00:00")).timestamp()


class Pty:
    """launchctl on a pseudo-terminal whose output is drained in the background (nobody types)."""

    def __init__(self, workdir: Path, *args: str) -> None:
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "launchctl.cli", *map(str, args)],
            cwd=str(workdir),
            dimensions=(45, 150),
            encoding="utf-8",
            codec_errors="replace",
            timeout=60,
            env={"TERM": "xterm-256color", "PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)},
        )
        self.screen = ""
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = self.child.read_nonblocking(65536, timeout=0.1)
            except pexpect.TIMEOUT:
                continue
            except (pexpect.EOF, OSError, ValueError):
                return
            with self._lock:
                self.screen += chunk

    def seen(self, text: str) -> bool:
        with self._lock:
            return text in self.screen

    def wait_seen(self, text: str, timeout: float = 30) -> None:
        wait_for(lambda: self.seen(text), timeout)

    def finish(self, timeout: float = 60) -> int:
        self._reader.join(timeout)
        self.child.wait()
        self.child.close()
        return self.child.exitstatus

    def kill(self) -> None:
        if self.child.isalive():
            self.child.kill(9)


GUARD = """
guards:
  - {id: errors, prometheus: METRIC, breach: "> 0.05", every: 1s, during: [T+0, T+30m], then: rollback}
"""


def _runbook(prom_url: str, metric: str, steps: str, guards: str = GUARD) -> str:
    return (
        f"""
version: 1
name: Preempted
prometheus: {{url: "{prom_url}"}}
steps:
{steps}
{guards}
rollback:
  - {{id: undo, run: 'echo "{{{{ rollback.trigger }}}}" > rolled-back'}}
""".replace("METRIC", metric)
    )


def _journal_has(journal: Path, kind: str) -> bool:
    return (journal / "journal.jsonl").exists() and any(
        e["event"] == kind for e in read_events(journal)
    )


def _assert_rolled_back_within_a_second(journal: Path, exit_code: int, guard: str = "errors"):
    events = read_events(journal)
    assert exit_code == 1, [e["event"] for e in events]
    triggered = [e for e in events if e["event"] == "guard_triggered" and e["guard"] == guard][0]
    sample = [
        e
        for e in events
        if e["event"] == "guard_sample" and e["guard"] == guard and e["seq"] < triggered["seq"]
    ][-1]
    assert sample["status"] == "breaching"
    rollback = events_of(events, "rollback_started")[0]
    assert rollback["trigger"] == f"guard:{guard}"
    assert _ts(rollback) - _ts(sample) < 1.0, "rollback must start within a second of the breaching sample"
    return events


@pytest.fixture
def healthy(exporter, prometheus, metric_name):
    exporter.set(metric_name, 0.0)
    prometheus.wait_for(metric_name, lambda v: v == 0.0)
    return metric_name


def _run(workdir: Path, runbook: Path) -> Pty:
    return Pty(workdir, "run", runbook, "--no-wait", "--journal", "j")


def test_breach_while_a_confirmation_waits_withdraws_it_and_rolls_back(
    write_runbook, workdir, prometheus, exporter, healthy
):
    steps = """  - {id: deploy, at: T+0, run: "true"}
  - {id: golive, at: T+0, confirm: "Cut traffic over?", run: "touch cut"}"""
    pty = _run(workdir, write_runbook(_runbook(prometheus.url, healthy, steps)))
    try:
        pty.wait_seen("Cut traffic over?")
        exporter.set(healthy, 0.3)
        events = _assert_rolled_back_within_a_second(workdir / "j", pty.finish())
    finally:
        pty.kill()
    assert not (workdir / "cut").exists()
    assert "question withdrawn" in pty.screen
    withdrawn = events_of(events, "question_withdrawn")[0]
    assert withdrawn["kind"] == "confirm" and "breached" in withdrawn["reason"]


def test_breach_while_an_ask_waits_rolls_back(
    write_runbook, workdir, prometheus, exporter, healthy
):
    steps = """  - {id: deploy, at: T+0, run: "exit 3", on_failure: ask}"""
    pty = _run(workdir, write_runbook(_runbook(prometheus.url, healthy, steps)))
    try:
        pty.wait_seen("(rollback, retry, continue, pause)")
        exporter.set(healthy, 0.3)
        _assert_rolled_back_within_a_second(workdir / "j", pty.finish())
    finally:
        pty.kill()


def test_breach_while_the_ctrl_c_menu_is_open_rolls_back(
    write_runbook, workdir, prometheus, exporter, healthy
):
    steps = """  - {id: deploy, at: T+0, run: "echo deploying; sleep 60"}"""
    pty = _run(workdir, write_runbook(_runbook(prometheus.url, healthy, steps)))
    try:
        pty.wait_seen("deploying")
        pty.child.sendintr()
        pty.wait_seen("What now?")
        exporter.set(healthy, 0.3)
        events = _assert_rolled_back_within_a_second(workdir / "j", pty.finish())
    finally:
        pty.kill()
    assert events_of(events, "step_interrupted")[0]["step"] == "deploy"


def test_breach_while_an_http_check_waits_on_a_stalled_endpoint_rolls_back(
    write_runbook, workdir, prometheus, exporter, healthy
):
    server = HostileServer()
    steps = f"""  - {{id: deploy, at: T+0, run: "true"}}
  - {{id: health, at: T+0, check: [{{http: "{server.url}/stall/ready", timeout: 30s}}]}}"""
    pty = _run(workdir, write_runbook(_runbook(prometheus.url, healthy, steps)))
    try:
        wait_for(lambda: any(p.startswith("/stall") for p in server.requests))
        exporter.set(healthy, 0.3)
        events = _assert_rolled_back_within_a_second(workdir / "j", pty.finish())
    finally:
        pty.kill()
        server.close()
    assert events_of(events, "step_interrupted")[0]["step"] == "health"


def test_breach_while_a_command_runs_kills_it_and_rolls_back(
    write_runbook, workdir, prometheus, exporter, healthy
):
    steps = """  - {id: deploy, at: T+0, run: "echo deploying; sleep 60; touch deployed"}"""
    pty = _run(workdir, write_runbook(_runbook(prometheus.url, healthy, steps)))
    try:
        pty.wait_seen("deploying")
        exporter.set(healthy, 0.3)
        _assert_rolled_back_within_a_second(workdir / "j", pty.finish())
    finally:
        pty.kill()
    assert not (workdir / "deployed").exists()


def test_a_held_launch_keeps_watching_and_rolls_back_on_a_breach(
    write_runbook, workdir, prometheus, exporter, healthy, cli
):
    steps = """  - {id: deploy, at: T+0, run: "echo deploying; sleep 60"}
  - {id: after, at: T+0, run: "touch after"}"""
    pty = _run(workdir, write_runbook(_runbook(prometheus.url, healthy, steps)))
    try:
        pty.wait_seen("deploying")
        pty.child.sendintr()
        pty.wait_seen("What now?")
        pty.child.sendline("pause")
        pty.wait_seen("guards are watching")
        status = cli("status", workdir / "j")
        assert "held" in status.stdout and "guards watching" in status.stdout, status.stdout
        exporter.set(healthy, 0.3)
        events = _assert_rolled_back_within_a_second(workdir / "j", pty.finish())
    finally:
        pty.kill()
    assert events_of(events, "launch_held")
    assert not (workdir / "after").exists()


def test_a_rollback_breach_preempts_an_ask_guards_own_prompt(
    write_runbook, workdir, prometheus, exporter, healthy, metric_name
):
    considered = metric_name + "_considered"
    exporter.set(considered, 0.5)
    prometheus.wait_for(considered, lambda v: v == 0.5)
    guards = GUARD + f"""  - {{id: considered, prometheus: {considered}, breach: "> 0.1", every: 1s, during: [T+0, T+30m], then: ask}}
"""
    steps = """  - {id: deploy, at: T+0, run: "true"}
  - {id: soak, at: T+0, wait: 10m}"""
    pty = _run(workdir, write_runbook(_runbook(prometheus.url, healthy, steps, guards)))
    try:
        pty.wait_seen("Roll back?")
        exporter.set(healthy, 0.3)
        events = _assert_rolled_back_within_a_second(workdir / "j", pty.finish())
    finally:
        pty.kill()
    assert events_of(events, "guard_triggered")[0]["guard"] == "considered"
