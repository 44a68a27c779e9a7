"""The journal under crashes: kill -9 mid-step, resume, torn lines, one driver at a time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from conftest import events_of, launchctl_argv, read_events, run_subprocess, wait_for

CRASHABLE = """
version: 1
name: Crashable
steps:
  - {id: first, at: T+0, run: "echo first >> ran.log"}
  - {id: slow, at: T+0, run: "echo slow >> ran.log; sleep 3; echo slow-done >> ran.log"}
  - {id: last, at: T+0, run: "echo last >> ran.log"}
"""


def _start(workdir: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        launchctl_argv(*args),
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _journal_dir(workdir: Path) -> Path:
    return wait_for(
        lambda: (
            next(
                (p for p in (workdir / ".launchctl").glob("*") if (p / "journal.jsonl").exists()),
                None,
            )
            if (workdir / ".launchctl").exists()
            else None
        )
    )


def _started(journal: Path, step: str) -> bool:
    try:
        return any(e["event"] == "step_started" and e["step"] == step for e in read_events(journal))
    except (FileNotFoundError, json.JSONDecodeError):
        return False


def _kill9_during_slow(workdir: Path, runbook: Path) -> Path:
    proc = _start(workdir, "run", runbook, "--no-wait")
    journal = _journal_dir(workdir)
    wait_for(lambda: _started(journal, "slow"))
    wait_for(lambda: "slow" in (workdir / "ran.log").read_text())
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    return journal


def test_kill_9_mid_step_then_resume_never_reruns_finished_steps(write_runbook, workdir):
    runbook = write_runbook(CRASHABLE)
    journal = _kill9_during_slow(workdir, runbook)
    events = read_events(journal)
    assert events[-1]["event"] in ("step_started", "command_output", "notification")
    assert not events_of(events, "launch_finished")

    status = run_subprocess("status", journal, cwd=workdir)
    assert status.exit_code == 0 and "slow" in status.stdout and "no live driver" in status.stdout

    asked = run_subprocess("resume", journal, cwd=workdir)
    assert asked.exit_code == 5, asked.stderr  # no terminal, no --yes: it asks, so it pauses
    assert "slow" in asked.stdout and "--yes" in asked.stdout

    resumed = run_subprocess("resume", journal, "--yes", cwd=workdir, timeout=90)
    assert resumed.exit_code == 0, resumed.stdout + resumed.stderr
    ran = (workdir / "ran.log").read_text().split()
    assert ran.count("first") == 1
    assert ran.count("slow") == 2 and ran[-2:] == ["slow-done", "last"]
    events = read_events(journal)
    assert events_of(events, "launch_finished")[0]["status"] == "completed"
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1)), "events lost or duplicated across the crash"


def test_resume_refuses_a_runbook_whose_steps_changed_unless_forced(write_runbook, workdir):
    runbook = write_runbook(CRASHABLE)
    journal = _kill9_during_slow(workdir, runbook)
    runbook.write_text(
        CRASHABLE.replace("  - {id: last", "  - {id: extra, at: T+0, run: 'true'}\n  - {id: last")
    )
    refused = run_subprocess("resume", journal, "--yes", cwd=workdir)
    assert refused.exit_code == 2
    assert "added extra" in refused.stderr and "--force" in refused.stderr
    forced = run_subprocess("resume", journal, "--yes", "--force", cwd=workdir, timeout=90)
    assert forced.exit_code == 0, forced.stderr


def test_resume_reorder_is_refused_too(write_runbook, workdir):
    runbook = write_runbook(CRASHABLE)
    journal = _kill9_during_slow(workdir, runbook)
    lines = CRASHABLE.splitlines()
    swapped = "\n".join(lines[:4] + [lines[5], lines[4]] + lines[6:])
    runbook.write_text(swapped)
    refused = run_subprocess("resume", journal, "--yes", cwd=workdir)
    assert refused.exit_code == 2 and "reordered" in refused.stderr


def test_a_second_driver_is_refused_with_exit_2(write_runbook, workdir):
    runbook = write_runbook(CRASHABLE)
    proc = _start(workdir, "run", runbook, "--no-wait")
    try:
        journal = _journal_dir(workdir)
        wait_for(lambda: _started(journal, "slow"))
        second = run_subprocess("resume", journal, "--yes", cwd=workdir)
        assert second.exit_code == 2
        assert "being driven by pid" in second.stderr
        status = run_subprocess("status", journal, cwd=workdir)
        assert f"pid {proc.pid}" in status.stdout
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_sigterm_pauses_the_launch_cleanly_and_it_can_resume(write_runbook, workdir):
    runbook = write_runbook(CRASHABLE)
    proc = _start(workdir, "run", runbook, "--no-wait")
    journal = _journal_dir(workdir)
    wait_for(lambda: _started(journal, "slow"))
    started = time.monotonic()
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=10) == 5
    assert time.monotonic() - started < 5
    events = read_events(journal)
    assert events[-2]["event"] == "step_interrupted" and events[-2]["step"] == "slow"
    assert events[-1]["event"] == "launch_paused" and "SIGTERM" in events[-1]["reason"]
    resumed = run_subprocess("resume", journal, "--yes", cwd=workdir, timeout=90)
    assert resumed.exit_code == 0, resumed.stderr


def test_a_torn_last_line_is_ignored_by_status_and_cut_by_resume(write_runbook, workdir):
    runbook = write_runbook(CRASHABLE)
    journal = _kill9_during_slow(workdir, runbook)
    with (journal / "journal.jsonl").open("a") as handle:
        handle.write('{"ts": "2026-11-27T00:00:00Z", "event": "step_fin')
    status = run_subprocess("status", journal, cwd=workdir)
    assert status.exit_code == 0 and "torn" in status.stdout
    resumed = run_subprocess("resume", journal, "--yes", cwd=workdir, timeout=90)
    assert resumed.exit_code == 0, resumed.stderr
    for line in (journal / "journal.jsonl").read_text().splitlines():
        json.loads(line)


def test_resume_of_a_finished_launch_changes_nothing(write_runbook, cli):
    result = cli(
        "run",
        write_runbook("version: 1\nname: Done\nsteps: [{id: a, at: T+0, run: 'true'}]\n"),
        "--no-wait",
    )
    before = (result.journal_dir / "journal.jsonl").read_text()
    again = cli("resume", result.journal_dir)
    assert again.exit_code == 0 and "already finished" in again.stderr
    assert (result.journal_dir / "journal.jsonl").read_text() == before


def test_resume_of_something_that_is_not_a_journal_is_bad_input(cli, workdir):
    result = cli("resume", workdir / "nope")
    assert result.exit_code == 2 and "no such journal directory" in result.stderr
    (workdir / "empty").mkdir()
    result = cli("status", workdir / "empty")
    assert result.exit_code == 2 and "journal.jsonl" in result.stderr


def test_resume_continues_an_interrupted_rollback_without_rerunning_finished_rollback_steps(
    write_runbook, workdir
):
    runbook = write_runbook(
        """
        version: 1
        name: Crash in rollback
        steps:
          - {id: deploy, at: T+0, run: "exit 1"}
        rollback:
          - {id: r1, run: "echo r1 >> rolled.log"}
          - {id: r2, run: "echo r2 >> rolled.log; sleep 3"}
          - {id: r3, run: "echo r3 >> rolled.log"}
        """
    )
    proc = _start(workdir, "run", runbook, "--no-wait")
    journal = _journal_dir(workdir)
    wait_for(
        lambda: (workdir / "rolled.log").exists() and "r2" in (workdir / "rolled.log").read_text()
    )
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    resumed = run_subprocess("resume", journal, "--yes", cwd=workdir, timeout=90)
    assert resumed.exit_code == 1, resumed.stdout + resumed.stderr
    assert (workdir / "rolled.log").read_text().split() == ["r1", "r2", "r2", "r3"]
    events = read_events(journal)
    assert len(events_of(events, "rollback_started")) == 1
    assert events_of(events, "rollback_finished")[0]["status"] == "complete"


def test_resume_asks_before_rerunning_an_in_flight_rollback_step(write_runbook, workdir):
    runbook = write_runbook(
        """
        version: 1
        name: Crash in rollback
        steps:
          - {id: deploy, at: T+0, run: "exit 1"}
        rollback:
          - {id: r1, run: "echo r1 >> rolled.log; sleep 3"}
        """
    )
    proc = _start(workdir, "run", runbook, "--no-wait")
    journal = _journal_dir(workdir)
    wait_for(lambda: (workdir / "rolled.log").exists())
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    asked = run_subprocess("resume", journal, cwd=workdir)
    assert asked.exit_code == 5 and "rollback step 'r1' was in flight" in asked.stdout
    assert (workdir / "rolled.log").read_text().split() == ["r1"]


def test_a_forged_or_garbled_journal_is_bad_input_not_a_crash(cli, workdir):
    journal = workdir / "forged"
    journal.mkdir()
    for content in (
        '{"event": "launch_started", "ts": "x"}\n',
        "not json at all\n\x00\x01\n",
        '{"event": "step_started", "step": "a"}\n',
        "[1, 2, 3]\n",
    ):
        (journal / "journal.jsonl").write_text(content)
        for command in (
            ("resume", journal, "--yes"),
            ("status", journal),
            ("report", journal),
            ("rollback", journal, "--reason", "x"),
        ):
            result = cli(*command)
            assert result.exit_code == 2, (content, command, result.stderr)
            assert "internal error" not in result.stderr


def test_events_with_wrong_field_types_are_skipped_like_torn_lines(write_runbook, cli):
    result = cli(
        "run",
        write_runbook("version: 1\nname: T\nsteps: [{id: a, at: T+0, run: 'true'}]\n"),
        "--no-wait",
    )
    with (result.journal_dir / "journal.jsonl").open("a") as handle:
        handle.write('{"event": "step_started", "step": {"x": 1}, "seq": "abc"}\n{"event": 5}\n')
    status = cli("status", result.journal_dir)
    assert status.exit_code == 0 and "2 torn journal line(s) ignored" in status.stdout
    assert cli("report", result.journal_dir, "--format", "json").exit_code == 0
