"""Rollback drills and `launchctl rollback` from a second terminal."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from conftest import events_of, launchctl_argv, read_events, run_subprocess, wait_for

DRILLED = """
version: 1
name: Drilled launch
steps:
  - {id: predeploy, at: T-60m, run: "echo predeploy >> ran.log"}
  - {id: migrate, at: T-15m, run: "echo migrate >> ran.log"}
  - {id: golive, at: T+0, run: "echo golive >> ran.log"}
rollback:
  - {id: announce, notify: "ROLLBACK: {{ rollback.reason }}"}
  - {id: restore-db, if_started: migrate, run: "echo restore-db >> rolled.log"}
  - {id: undo-golive, if_started: golive, run: "echo undo-golive >> rolled.log"}
"""


def test_dry_drill_touches_nothing_and_prints_the_rollback_it_would_run(
    write_runbook, cli, workdir
):
    result = cli("drill", write_runbook(DRILLED), "--fail-at", "migrate")
    assert result.exit_code == 0, result.stderr
    assert not (workdir / "ran.log").exists() and not (workdir / "rolled.log").exists()
    assert (
        "drill (dry drill (nothing was touched)): injected failure of step 'migrate'"
        in result.stdout
    )
    assert "injection to rollback start:" in result.stdout
    assert "rollback worst case:" in result.stdout and "(estimate" in result.stdout
    assert "rollback duration:" not in result.stdout, "a dry drill times nothing real"
    lines = result.stdout.splitlines()
    assert any("restore-db" in line and "ok" in line for line in lines)
    assert any("undo-golive" in line and "skipped" in line for line in lines)
    commands = events_of(result.events, "command_finished")
    assert [c["command"] for c in commands if c.get("phase") == "rollback"] == [
        "echo restore-db >> rolled.log"
    ]


def test_live_drill_runs_up_to_the_step_injects_and_rolls_back_for_real(
    write_runbook, cli, workdir
):
    result = cli("drill", write_runbook(DRILLED), "--fail-at", "migrate", "--live", "--no-wait")
    assert result.exit_code == 0, result.stderr
    assert (workdir / "ran.log").read_text().split() == ["predeploy"]  # the failing step is not run
    assert (workdir / "rolled.log").read_text().split() == ["restore-db"]
    injected = events_of(result.events, "drill_injected")[0]
    assert injected["step"] == "migrate"
    summary = [
        line for line in result.stdout.splitlines() if "injection to rollback start" in line
    ][0]
    assert float(summary.split(":")[1].split()[0]) < 1.0


def test_drill_exits_3_when_the_rollback_is_incomplete(write_runbook, cli):
    runbook = write_runbook(DRILLED.replace("echo restore-db >> rolled.log", "exit 1"))
    result = cli("drill", runbook, "--fail-at", "migrate", "--live", "--no-wait")
    assert result.exit_code == 3
    assert "rollback: incomplete" in result.stdout


def test_drill_of_an_unknown_step_or_guard_is_bad_input(write_runbook, cli):
    runbook = write_runbook(DRILLED)
    assert cli("drill", runbook, "--fail-at", "nope").exit_code == 2
    assert cli("drill", runbook, "--breach", "nope").exit_code == 2
    both = cli("drill", runbook)
    assert both.exit_code == 2 and "exactly one of --fail-at" in both.stderr


def test_dry_drill_of_a_guard_breach_rolls_back_when_the_window_opens(write_runbook, cli, workdir):
    runbook = write_runbook(
        DRILLED.replace(
            "rollback:",
            'prometheus: {url: "http://127.0.0.1:9"}\n'
            "guards:\n  - {id: error-rate, prometheus: up, breach: '> 0.05', during: [T+5m, T+30m]}\nrollback:",
        )
    )
    result = cli("drill", runbook, "--breach", "error-rate")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "injected breach of guard 'error-rate'" in result.stdout
    started = events_of(result.events, "rollback_started")[0]
    assert started["trigger"] == "guard:error-rate"
    assert not (workdir / "rolled.log").exists()


def _start(workdir, *args):
    return subprocess.Popen(
        launchctl_argv(*args),
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def test_rollback_from_a_second_terminal_makes_the_live_driver_roll_back(write_runbook, workdir):
    runbook = write_runbook(
        """
        version: 1
        name: Live
        steps:
          - {id: deploy, at: T+0, run: "echo deploy >> ran.log"}
          - {id: soak, at: T+0, wait: 10m}
        rollback:
          - {id: undo, run: 'echo "{{ rollback.reason }}" >> rolled.log'}
        """
    )
    driver = _start(workdir, "run", runbook, "--no-wait", "--journal", "j")
    try:
        wait_for(
            lambda: (
                (workdir / "j" / "journal.jsonl").exists()
                and any(e["event"] == "wait_started" for e in read_events(workdir / "j"))
            )
        )
        started = time.monotonic()
        second = run_subprocess("rollback", "j", "--reason", "error budget burnt", cwd=workdir)
        assert second.exit_code == 0, second.stderr
        assert "asked the live driver" in second.stderr
        assert driver.wait(timeout=15) == 1
        assert time.monotonic() - started < 5
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert (workdir / "rolled.log").read_text().strip() == "error budget burnt"
    events = read_events(workdir / "j")
    assert len(events_of(events, "rollback_started")) == 1
    assert events_of(events, "rollback_started")[0]["trigger"] == "operator"


def test_rollback_with_no_live_driver_runs_the_sequence_itself_exactly_once(
    write_runbook, cli, workdir
):
    runbook = write_runbook(
        """
        version: 1
        name: Done
        steps:
          - {id: deploy, at: T+0, run: "true"}
        rollback:
          - {id: undo, run: 'echo "{{ rollback.reason }}" >> rolled.log'}
        """
    )
    launched = cli("run", runbook, "--no-wait")
    assert launched.exit_code == 0
    first = cli("rollback", launched.journal_dir, "--reason", "bug found an hour later")
    assert first.exit_code == 0, first.stderr
    second = cli("rollback", launched.journal_dir, "--reason", "again")
    assert second.exit_code == 2 and "already rolled back" in second.stderr
    assert (workdir / "rolled.log").read_text().splitlines() == ["bug found an hour later"]
    status = cli("status", launched.journal_dir)
    assert "rolled_back" in status.stdout


def test_rollback_request_racing_the_drivers_own_rollback_runs_the_sequence_once(
    write_runbook, workdir
):
    runbook = write_runbook(
        """
        version: 1
        name: Race
        steps:
          - {id: deploy, at: T+0, run: "sleep 0.5; exit 1"}
        rollback:
          - {id: undo, run: 'echo undo >> rolled.log; sleep 1'}
        """
    )
    driver = _start(workdir, "run", runbook, "--no-wait", "--journal", "j")
    wait_for(lambda: (workdir / "j" / "journal.jsonl").exists())
    second = run_subprocess("rollback", "j", "--reason", "racing", cwd=workdir)
    assert driver.wait(timeout=20) == 1
    assert second.exit_code in (0, 2)
    assert (workdir / "rolled.log").read_text().split() == ["undo"]
    assert len(events_of(read_events(workdir / "j"), "rollback_started")) == 1


def test_drill_journals_its_figures(write_runbook, cli):
    result = cli("drill", write_runbook(DRILLED), "--fail-at", "golive", "--live", "--no-wait")
    assert result.exit_code == 0
    figures = events_of(result.events, "drill_result")[0]
    assert figures["status"] == "passed"
    assert 0 <= figures["injection_to_rollback_s"] < 1 and figures["rollback_duration_s"] >= 0
    kinds = [e["event"] for e in result.events]
    assert kinds.index("drill_result") < kinds.index("launch_finished")
