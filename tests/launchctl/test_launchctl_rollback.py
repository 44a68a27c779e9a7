"""Failures and the rollback sequence: on_failure, if_started, retries, exit codes 1 / 3 / 5."""

from __future__ import annotations

import os
import time

from conftest import events_of

FAILING = """
version: 1
name: Failing launch
vars: {release: v1.4.0}
steps:
  - {id: predeploy, at: T-60m, run: "echo predeploy >> ran.log"}
  - {id: migrate, at: T-15m, run: "echo migrate >> ran.log; echo 'relation users already exists' >&2; exit 4"}
  - {id: golive, at: T+0, run: "echo golive >> ran.log"}
rollback:
  - id: announce
    run: 'echo "reason={{ rollback.reason }} trigger={{ rollback.trigger }}" > reason.txt'
  - {id: restore-db, if_started: migrate, run: "echo restore-db >> rolled.log"}
  - {id: undo-golive, if_started: golive, run: "echo undo-golive >> rolled.log"}
"""


def test_failed_step_runs_rollback_and_exits_1(write_runbook, cli, workdir):
    result = cli("run", write_runbook(FAILING), "--no-wait")
    assert result.exit_code == 1, result.stderr
    assert (workdir / "ran.log").read_text().split() == ["predeploy", "migrate"]
    reason = (workdir / "reason.txt").read_text()
    assert "trigger=migrate" in reason
    assert "reason=step 'migrate' failed: exit code 4" in reason
    started = events_of(result.events, "rollback_started")[0]
    assert started["trigger"] == "migrate"
    finished = events_of(result.events, "launch_finished")[0]
    assert finished["status"] == "rolled_back" and finished["exit_code"] == 1


def test_rollback_skips_steps_that_never_started(write_runbook, cli, workdir):
    result = cli("run", write_runbook(FAILING), "--no-wait")
    assert (workdir / "rolled.log").read_text().split() == ["restore-db"]
    by_step = {e["step"]: e for e in events_of(result.events, "rollback_step_finished")}
    assert by_step["restore-db"]["status"] == "ok"
    assert by_step["undo-golive"]["status"] == "skipped"
    assert "never started" in by_step["undo-golive"]["reason"]


def test_failed_step_keeps_its_last_output_lines_for_the_report(write_runbook, cli):
    result = cli("run", write_runbook(FAILING), "--no-wait")
    command = [c for c in events_of(result.events, "command_finished") if c["step"] == "migrate"][0]
    assert command["tail"] == ["relation users already exists"]
    report = cli("report", result.journal_dir)
    assert report.exit_code == 0
    assert "relation users already exists" in report.stdout


def test_failing_rollback_step_does_not_stop_the_sequence_and_exits_3(write_runbook, cli, workdir):
    runbook = write_runbook(
        """
        version: 1
        name: Bad rollback
        steps:
          - {id: deploy, at: T+0, run: "exit 1"}
        rollback:
          - {id: first, run: "echo cannot restore; exit 2"}
          - {id: second, run: "touch second-ran"}
        """
    )
    result = cli("run", runbook, "--no-wait")
    assert result.exit_code == 3
    assert (workdir / "second-ran").exists()
    rollback = events_of(result.events, "rollback_finished")[0]
    assert rollback["status"] == "incomplete" and rollback["failed"] == ["first"]
    assert events_of(result.events, "launch_finished")[0]["status"] == "rollback_incomplete"


def test_rollback_step_is_retried_per_its_own_settings(write_runbook, cli):
    runbook = write_runbook(
        """
        version: 1
        name: Retry rollback
        steps:
          - {id: deploy, at: T+0, run: "exit 1"}
        rollback:
          - id: flaky
            run: 'n=$(cat n 2>/dev/null || echo 0); echo $((n+1)) > n; [ $n -ge 2 ]'
            retries: 3
            retry_delay: 200ms
        """
    )
    result = cli("run", runbook, "--no-wait")
    assert result.exit_code == 1, result.stdout
    finished = events_of(result.events, "rollback_step_finished")[0]
    assert finished["status"] == "ok" and finished["attempts"] == 3


def test_on_failure_continue_goes_on_with_the_next_step(write_runbook, cli, workdir):
    runbook = write_runbook(
        """
        version: 1
        name: Continue
        steps:
          - {id: optional, at: T+0, run: "exit 1", on_failure: continue}
          - {id: next, at: T+0, run: "touch next-ran"}
        """
    )
    result = cli("run", runbook, "--no-wait")
    assert result.exit_code == 0
    assert (workdir / "next-ran").exists()
    optional = events_of(result.events, "step_finished")[0]
    assert optional["status"] == "failed" and optional["continued"] is True


def test_on_failure_ask_without_a_terminal_rolls_back(write_runbook, cli):
    runbook = write_runbook(
        """
        version: 1
        name: Ask
        steps:
          - {id: smoke, at: T+0, run: "exit 1", on_failure: ask}
        rollback:
          - {id: undo, run: "true"}
        """
    )
    result = cli("run", runbook, "--no-wait")
    assert result.exit_code == 1
    assert events_of(result.events, "rollback_started")[0]["trigger"] == "smoke"


def test_hung_command_is_killed_at_its_timeout_with_its_children(write_runbook, cli, workdir):
    runbook = write_runbook(
        """
        version: 1
        name: Hang
        steps:
          - id: hang
            at: T+0
            timeout: 1s
            run: "sleep 300 & echo $! > child.pid; trap '' TERM; sleep 300"
        """
    )
    started = time.monotonic()
    result = cli("run", runbook, "--no-wait")
    assert time.monotonic() - started < 10
    assert result.exit_code == 1
    failed = events_of(result.events, "step_failed")[0]
    assert "timed out after 1s" in failed["reason"]
    child = int((workdir / "child.pid").read_text())
    time.sleep(0.2)
    assert not _alive(child), "the command's child outlived the timeout"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purpose
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


def test_confirm_without_terminal_pauses_with_exit_5(write_runbook, cli, workdir):
    runbook = write_runbook(
        """
        version: 1
        name: Confirm
        steps:
          - {id: golive, at: T+0, confirm: "Cut over?", run: "touch cut"}
        """
    )
    result = cli("run", runbook, "--no-wait")
    assert result.exit_code == 5
    assert not (workdir / "cut").exists()
    paused = events_of(result.events, "launch_paused")[0]
    assert "--yes" in paused["reason"]
    resumed = cli("resume", result.journal_dir, "--yes")
    assert resumed.exit_code == 0, resumed.stderr
    assert (workdir / "cut").exists()


def test_confirm_with_yes_proceeds_and_records_the_decision(write_runbook, cli, workdir):
    runbook = write_runbook(
        """
        version: 1
        name: Confirm
        steps:
          - {id: golive, at: T+0, confirm: "Cut over?", run: "touch cut"}
        """
    )
    result = cli("run", runbook, "--no-wait", "--yes")
    assert result.exit_code == 0
    answered = events_of(result.events, "confirm_answered")[0]
    assert answered["answer"] == "yes" and answered["step"] == "golive" and answered["by"]
    assert answered["how"] == "--yes" and answered["question"] == "Cut over?"


def test_missing_secret_stops_the_launch_before_anything_runs(write_runbook, cli, workdir):
    runbook = write_runbook(
        """
        version: 1
        name: Secret
        secrets: [DB_PASSWORD]
        steps:
          - {id: a, at: T+0, run: "touch ran", env: {PGPASSWORD: "${DB_PASSWORD}"}}
        """
    )
    result = cli("run", runbook, "--no-wait", env={"DB_PASSWORD": None})
    assert result.exit_code == 2
    assert "DB_PASSWORD" in result.stderr
    assert not (workdir / "ran").exists()


def test_secret_values_reach_commands_but_are_masked_everywhere_written(
    write_runbook, cli, workdir
):
    runbook = write_runbook(
        """
        version: 1
        name: Secret
        secrets: [DB_PASSWORD]
        steps:
          - id: a
            at: T+0
            run: 'echo "connecting with $PGPASSWORD"; echo "$PGPASSWORD" > seen; exit 1'
            env: {PGPASSWORD: "${DB_PASSWORD}"}
        rollback:
          - {id: r, notify: "rollback: {{ rollback.reason }}"}
        """
    )
    result = cli("run", runbook, "--no-wait", env={"DB_PASSWORD": "hunter2-s3cret"})
    assert (workdir / "seen").read_text().strip() == "hunter2-s3cret"
    journal = (result.journal_dir / "journal.jsonl").read_text()
    assert "hunter2-s3cret" not in journal and "connecting with ***" in journal
    assert "hunter2-s3cret" not in result.stdout + result.stderr
    for fmt in ("markdown", "json"):
        assert "hunter2-s3cret" not in cli("report", result.journal_dir, "--format", fmt).stdout
