"""The states a ``then: rollback`` breach must preempt, as runnable scenarios (tests and benchmark).

Each scenario writes a runbook into ``workdir``, starts launchctl on a pseudo-terminal nobody
answers, brings the launch into its state, turns the guard's metric bad on the real exporter,
and returns the exit status; the journal is ``workdir / "j"``. ``breach_to_rollback`` reads the
promise off the journal: the breaching sample to ``rollback_started``.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pexpect
from hostile_servers import HostileServer

REPO = Path(__file__).resolve().parents[1]


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout}s")


def ts(event: dict) -> float:
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
            env={
                "TERM": "xterm-256color",
                "PATH": "/usr/bin:/bin",
                # the repository first: tests/launchctl must never shadow the package
                "PYTHONPATH": ":".join([str(REPO), *sys.path]),
            },
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
        wait_until(lambda: self.seen(text), timeout)

    def finish(self, timeout: float = 60) -> int:
        """The exit status; a launch still running after ``timeout`` is killed and that is an error."""
        self._reader.join(timeout)
        if self.child.isalive():
            self.child.kill(9)
            raise AssertionError(
                f"launchctl still running after {timeout}s:\n{self.screen[-3000:]}"
            )
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


def runbook_text(prom_url: str, metric: str, steps: str, guards: str = GUARD) -> str:
    return f"""
version: 1
name: Preempted
prometheus: {{url: "{prom_url}"}}
steps:
{steps}
{guards}
rollback:
  - {{id: undo, run: 'echo "{{{{ rollback.trigger }}}}" > rolled-back'}}
""".replace("METRIC", metric)


@dataclass
class Lab:
    """What a scenario needs: a scratch dir, the Prometheus URL, the exporter, a fresh metric."""

    workdir: Path
    prom_url: str
    exporter: Any
    prometheus: Any
    metric: str

    def write(self, steps: str, guards: str = GUARD) -> Path:
        path = self.workdir / "launch.yaml"
        path.write_text(runbook_text(self.prom_url, self.metric, steps, guards))
        return path

    def start(self, path: Path) -> Pty:
        return Pty(self.workdir, "run", path, "--no-wait", "--journal", "j")

    def breach(self) -> None:
        self.exporter.set(self.metric, 0.3)


def confirm_waits(lab: Lab) -> tuple[int, Pty]:
    pty = lab.start(
        lab.write(
            """  - {id: deploy, at: T+0, run: "true"}
  - {id: golive, at: T+0, confirm: "Cut traffic over?", run: "touch cut"}"""
        )
    )
    pty.wait_seen("Cut traffic over?")
    lab.breach()
    return pty.finish(), pty


def ask_waits(lab: Lab) -> tuple[int, Pty]:
    pty = lab.start(lab.write("""  - {id: deploy, at: T+0, run: "exit 3", on_failure: ask}"""))
    pty.wait_seen("(rollback, retry, continue, pause)")
    lab.breach()
    return pty.finish(), pty


def ctrl_c_menu_open(lab: Lab) -> tuple[int, Pty]:
    pty = lab.start(lab.write("""  - {id: deploy, at: T+0, run: "echo deploying; sleep 60"}"""))
    pty.wait_seen("deploying")
    pty.child.sendintr()
    pty.wait_seen("What now?")
    lab.breach()
    return pty.finish(), pty


def http_check_stalled(lab: Lab) -> tuple[int, Pty]:
    server = HostileServer()
    try:
        pty = lab.start(
            lab.write(
                f"""  - {{id: deploy, at: T+0, run: "true"}}
  - {{id: health, at: T+0, check: [{{http: "{server.url}/stall/ready", timeout: 30s}}]}}"""
            )
        )
        wait_until(lambda: any(p.startswith("/stall") for p in server.requests))
        lab.breach()
        return pty.finish(), pty
    finally:
        server.close()


def command_runs(lab: Lab) -> tuple[int, Pty]:
    pty = lab.start(
        lab.write("""  - {id: deploy, at: T+0, run: "echo deploying; sleep 60; touch deployed"}""")
    )
    pty.wait_seen("deploying")
    lab.breach()
    return pty.finish(), pty


def held_after_go_live(lab: Lab) -> tuple[int, Pty]:
    pty = lab.start(
        lab.write(
            """  - {id: deploy, at: T+0, run: "echo deploying; sleep 60"}
  - {id: after, at: T+0, run: "touch after"}"""
        )
    )
    pty.wait_seen("deploying")
    pty.child.sendintr()
    pty.wait_seen("What now?")
    pty.child.sendline("pause")
    pty.wait_seen("guards are watching")
    lab.breach()
    return pty.finish(), pty


def ask_guard_prompting(lab: Lab) -> tuple[int, Pty]:
    considered = lab.metric + "_considered"
    lab.exporter.set(considered, 0.5)
    lab.prometheus.wait_for(considered, lambda v: v == 0.5)
    guards = (
        GUARD
        + f"""  - {{id: considered, prometheus: {considered}, breach: "> 0.1", every: 1s, during: [T+0, T+30m], then: ask}}
"""
    )
    pty = lab.start(
        lab.write(
            """  - {id: deploy, at: T+0, run: "true"}
  - {id: soak, at: T+0, wait: 10m}""",
            guards,
        )
    )
    pty.wait_seen("Roll back?")
    lab.breach()
    return pty.finish(), pty


SCENARIOS: dict[str, Callable[[Lab], tuple[int, Pty]]] = {
    "confirm waiting": confirm_waits,
    "ask waiting": ask_waits,
    "Ctrl-C menu open": ctrl_c_menu_open,
    "HTTP check on a stalled endpoint": http_check_stalled,
    "command running": command_runs,
    "held after go-live": held_after_go_live,
    "then: ask guard prompting": ask_guard_prompting,
}


def breach_to_rollback(events: list[dict], guard: str = "errors") -> float:
    """Seconds from the guard's breaching sample (the one that fired) to ``rollback_started``."""
    triggered = next(e for e in events if e["event"] == "guard_triggered" and e["guard"] == guard)
    sample = [
        e
        for e in events
        if e["event"] == "guard_sample" and e["guard"] == guard and e["seq"] < triggered["seq"]
    ][-1]
    assert sample["status"] == "breaching", sample
    rollback = next(e for e in events if e["event"] == "rollback_started")
    assert rollback["trigger"] == f"guard:{guard}", rollback
    return ts(rollback) - ts(sample)
