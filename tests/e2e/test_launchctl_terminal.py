"""The launch on a real pseudo-terminal: the live view, the Ctrl-C menu, and prompts."""

from __future__ import annotations

import sys

import pexpect
import pytest
from conftest import events_of, read_events
from terminal_screen import Screen

LONG = """
version: 1
name: Terminal launch
steps:
  - {id: deploy, at: T+0, run: "echo deploying v1.4.0; sleep 30"}
  - {id: after, at: T+0, run: "touch after-ran"}
rollback:
  - {id: undo, run: "echo undone > undone"}
"""


def _spawn(workdir, *args, rows=40, cols=120):
    return pexpect.spawn(
        sys.executable,
        ["-m", "launchctl.cli", *map(str, args)],
        cwd=str(workdir),
        dimensions=(rows, cols),
        encoding="utf-8",
        timeout=20,
        env={"TERM": "xterm-256color", "PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)},
    )


def test_live_view_shows_timeline_state_and_command_output(write_runbook, workdir):
    runbook = write_runbook(LONG.replace("sleep 30", "sleep 2"))
    child = _spawn(workdir, "run", runbook, "--no-wait", "--journal", "j")
    child.expect("Terminal launch")
    seen = child.before + child.after
    child.expect("deploying v1.4.0")  # the running command's output, in the view
    seen += child.before + child.after
    child.expect(pexpect.EOF, timeout=30)
    screen = Screen(120, 40)
    screen.feed(seen + child.before)
    shown = screen.text()
    assert "Terminal launch" in shown and "outcome: completed" in shown
    assert "✓ 2 steps done (deploy, after)" in shown  # finished steps, collapsed
    child.close()
    assert child.exitstatus == 0


def test_ctrl_c_opens_the_menu_and_pause_exits_5(write_runbook, workdir):
    child = _spawn(workdir, "run", write_runbook(LONG), "--no-wait", "--journal", "j")
    child.expect("deploying v1.4.0")
    child.sendintr()
    child.expect(r"What now\? \(rollback, pause, continue\)")
    child.sendline("pause")
    child.expect(pexpect.EOF, timeout=20)
    child.close()
    assert child.exitstatus == 5
    events = read_events(workdir / "j")
    decision = events_of(events, "operator_decision")[0]
    assert (
        decision["kind"] == "interrupt"
        and decision["answer"] == "pause"
        and "headless" not in decision["user"]
    )
    assert events[-1]["event"] == "launch_paused"


def test_ctrl_c_then_rollback_rolls_back(write_runbook, workdir):
    child = _spawn(workdir, "run", write_runbook(LONG), "--no-wait", "--journal", "j")
    child.expect("deploying v1.4.0")
    child.sendintr()
    child.expect(r"What now\?")
    child.sendline("rollback")
    child.expect(pexpect.EOF, timeout=20)
    child.close()
    assert child.exitstatus == 1
    assert (workdir / "undone").exists() and not (workdir / "after-ran").exists()


def test_ctrl_c_then_continue_lets_the_step_finish(write_runbook, workdir):
    child = _spawn(
        workdir,
        "run",
        write_runbook(LONG.replace("sleep 30", "sleep 3")),
        "--no-wait",
        "--journal",
        "j",
    )
    child.expect("deploying v1.4.0")
    child.sendintr()
    child.expect(r"What now\?")
    child.sendline("continue")
    child.expect(pexpect.EOF, timeout=30)
    child.close()
    assert child.exitstatus == 0
    assert (workdir / "after-ran").exists()


@pytest.mark.parametrize(("answer", "exit_code", "ran"), [("y", 0, True), ("n\r\npause", 5, False)])
def test_confirm_asks_the_person_at_the_terminal(write_runbook, workdir, answer, exit_code, ran):
    runbook = write_runbook(
        """
        version: 1
        name: Confirm
        steps:
          - {id: golive, at: T+0, confirm: "Cut traffic over to v1.4.0?", run: "touch cut"}
        """
    )
    child = _spawn(workdir, "run", runbook, "--no-wait", "--journal", "j")
    child.expect(r"Cut traffic over to v1.4.0\?.*\[y/N\]")
    for line in answer.split("\r\n"):
        child.sendline(line)
    child.expect(pexpect.EOF, timeout=20)
    child.close()
    assert child.exitstatus == exit_code
    assert (workdir / "cut").exists() is ran


def test_on_failure_ask_offers_retry_at_a_terminal(write_runbook, workdir):
    runbook = write_runbook(
        """
        version: 1
        name: Ask
        steps:
          - id: flaky
            at: T+0
            run: 'n=$(cat n 2>/dev/null || echo 0); echo $((n+1)) > n; [ $n -ge 1 ]'
            on_failure: ask
        """
    )
    child = _spawn(workdir, "run", runbook, "--no-wait", "--journal", "j")
    child.expect(r"\(rollback, retry, continue, pause\)")
    child.sendline("retry")
    child.expect(pexpect.EOF, timeout=20)
    child.close()
    assert child.exitstatus == 0


def test_ctrl_c_while_monitoring_offers_to_end_monitoring(
    write_runbook, workdir, prometheus, exporter, metric_name
):
    exporter.set(metric_name, 0.0)
    prometheus.wait_for(metric_name, lambda v: v == 0.0)
    runbook = write_runbook(
        f"""
        version: 1
        name: Monitoring
        prometheus: {{url: "{prometheus.url}"}}
        steps:
          - {{id: golive, at: T+0, run: "true"}}
        guards:
          - {{id: errors, prometheus: {metric_name}, breach: "> 0.05", every: 1s, during: [T+0, T+2h]}}
        """
    )
    child = _spawn(workdir, "run", runbook, "--no-wait", "--journal", "j")
    child.expect("monitoring guards until")
    child.sendintr()
    child.expect(r"Monitoring guards\. What now\? \(rollback, pause, continue, end\)")
    child.sendline("end")
    child.expect(pexpect.EOF, timeout=20)
    child.close()
    assert child.exitstatus == 0
    events = read_events(workdir / "j")
    finished = events_of(events, "monitoring_finished")[0]
    assert finished["reason"] == "monitoring ended by operator"
    assert events[-1]["event"] == "launch_finished" and events[-1]["status"] == "completed"
