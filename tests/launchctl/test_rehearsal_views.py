"""What a person reads about a rehearsal (issue 11): the plain log, `status` and the record print
wall-clock times with the launch clock beside them, and real durations; a dry run's log says all
it would do and nothing as done; rollback steps stay in their own section, skipped ones say so."""

from __future__ import annotations

import json
import re
from datetime import datetime

from conftest import events_of

SPEEDY = """
version: 1
name: Speedy
steps:
  - {id: prep, at: T-2m, run: "sleep 1; echo prepared"}
  - {id: deploy, at: T-1m, run: "sleep 2; echo deployed"}
  - {id: golive, at: T+0, run: "echo live"}
  - {id: smoke, at: T+1m, run: "exit 1"}
  - {id: never, at: T+2m, run: "true"}
rollback:
  - {id: undo-deploy, if_started: deploy, run: "echo undo"}
  - {id: undo-never, if_started: never, run: "echo nothing to undo"}
"""


def _hms(stamp: str) -> str:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone().strftime("%H:%M:%S")


def _seconds(a: str, b: str) -> float:
    moment = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (moment(b) - moment(a)).total_seconds()


def _speed_60(write_runbook, cli):
    result = cli("run", write_runbook(SPEEDY), "--speed", "60")
    assert result.exit_code == 1, result.stderr
    return result


def test_a_speed_60_launch_logs_wall_times_with_the_launch_clock_beside_them(write_runbook, cli):
    result = _speed_60(write_runbook, cli)
    lines = result.stdout.splitlines()
    for started in events_of(result.events, "step_started"):
        stamp = f"{_hms(started['ts'])} (launch {_hms(started['clock'])})"
        assert any(
            line.startswith(f"{stamp} ▶ {started['offset']} {started['step']}") for line in lines
        ), stamp
    deploy = next(e for e in events_of(result.events, "command_finished") if e["step"] == "deploy")
    assert f"{_hms(deploy['ts'])} (launch {_hms(deploy['clock'])})   $ sleep 2" in result.stdout
    # the wall clock moved about 2 s while the launch clock moved about 2 min
    assert _hms(deploy["ts"]) != _hms(deploy["clock"])


def test_status_and_the_record_give_wall_times_and_real_durations(write_runbook, cli):
    result = _speed_60(write_runbook, cli)
    events = result.events
    started = {e["step"]: e for e in events_of(events, "step_started")}
    finished = {e["step"]: e for e in events_of(events, "step_finished")}
    real = _seconds(started["deploy"]["ts"], finished["deploy"]["ts"])
    on_launch_clock = _seconds(started["deploy"]["clock"], finished["deploy"]["clock"])
    assert 1.9 < real < 10 and on_launch_clock > 100  # two seconds of work at --speed 60

    status = cli("status", result.journal_dir).stdout
    row = next(line for line in status.splitlines() if " deploy " in line)
    actual = f"actual {_hms(started['deploy']['ts'])} (launch {_hms(started['deploy']['clock'])})"
    assert actual in row and f"  {real:.1f}s  ok" in row
    assert "times: wall clock; (launch …) is the launch clock, running ×60" in status
    assert "(rehearsal ×60)" in status.splitlines()[0]

    report = cli("report", result.journal_dir).stdout
    row = next(line for line in report.splitlines() if line.startswith("| T-1m | deploy |"))
    assert actual.removeprefix("actual ") in row and f"| {real:.1f}s | ok |" in row
    assert f"{on_launch_clock:.1f}s" not in report
    assert "(rehearsal, speed ×60)" in report

    data = json.loads(cli("report", result.journal_dir, "--format", "json").stdout)
    deploy = next(s for s in data["steps"] if s["step"] == "deploy")
    assert deploy["started"] == started["deploy"]["ts"]
    assert deploy["clock_started"] == started["deploy"]["clock"]
    assert abs(deploy["duration_s"] - real) < 0.01

    html = cli("report", result.journal_dir, "--format", "html").stdout
    assert f"<td>{real:.1f}s</td>" in html and actual.removeprefix("actual ") in html


def test_a_dry_run_log_says_what_it_would_watch_roll_back_and_notify(write_runbook, cli, receiver):
    runbook = write_runbook(
        f"""
        version: 1
        name: Dry
        prometheus: {{url: "http://127.0.0.1:9"}}
        notify: [{{webhook: "{receiver.url}/hook"}}]
        steps:
          - {{id: migrate, at: T-15m, run: "true"}}
          - {{id: golive, at: T+0, run: "true", notify: "we are live"}}
        guards:
          - {{id: errors, prometheus: "up", breach: "> 0.05", during: [T+0, T+30m]}}
        rollback:
          - {{id: restore-db, if_started: migrate, run: "true"}}
          - {{id: undo-golive, if_started: golive, run: "true"}}
        """
    )
    result = cli("run", runbook, "--dry-run", "--t0", "2026-12-01T14:00:00Z")
    assert result.exit_code == 0
    planned = events_of(result.events, "guard_planned")[0]
    assert (planned["opens"], planned["closes"]) == (
        "2026-12-01T14:00:00.000Z",
        "2026-12-01T14:30:00.000Z",
    )
    previews = {p["step"]: p for p in events_of(result.events, "remedy_preview")}
    assert previews["migrate"]["would_run"] == ["restore-db"]
    assert previews["migrate"]["would_skip"] == ["undo-golive"]
    assert previews["golive"]["would_run"] == ["restore-db", "undo-golive"]
    assert all(n["dry_run"] for n in events_of(result.events, "notification"))
    out = result.stdout
    opens, closes = _hms("2026-12-01T14:00:00Z"), _hms("2026-12-01T14:30:00Z")
    assert (
        f"guard errors would watch up > 0.05 from launch {opens} to launch {closes} "
        "(T+0..T+30m), then rollback"
    ) in out
    assert "if migrate failed here: rollback would run restore-db; would skip undo-golive" in out
    assert "if golive failed here: rollback would run restore-db, undo-golive" in out
    assert "would notify: we are live" in out and "would notify: GO-LIVE DONE" in out
    assert not re.search(r"^\S.*\)   notify:", out, re.M), "nothing reads as sent"
    # every line: the wall clock, then the dry run's launch clock
    launch = events_of(result.events, "launch_started")[0]
    assert out.splitlines()[0].startswith(f"{_hms(launch['ts'])} (launch {_hms(launch['clock'])})")
    report = cli("report", result.journal_dir).stdout
    assert "## Notifications (a dry run: none was sent)" in report
    assert "would notify: we are live" in report
    assert receiver.posts == []


def test_status_and_the_record_keep_rollback_steps_apart_and_skipped_steps_skipped(
    write_runbook, cli
):
    result = _speed_60(write_runbook, cli)
    status = cli("status", result.journal_dir).stdout
    launch_part, rollback_part = status.split("\nrollback: complete")
    assert "undo-deploy" not in launch_part and "undo-never" not in launch_part
    assert re.search(r"· T\+2m +never .* not run", launch_part), "not 'pending': it never will"
    assert re.search(
        r"✓ undo-deploy: ok +\d\d:\d\d:\d\d \(launch \d\d:\d\d:\d\d\), \d", rollback_part
    )
    assert "– undo-never: skipped — 'never' never started" in rollback_part
    report = cli("report", result.journal_dir).stdout
    timeline, rollback = report.split("## Rollback")
    assert "undo-" not in timeline.split("## Failures")[0]
    assert "| T+2m | never |" in timeline and "| not run |" in timeline
    assert re.search(r"\| undo-never \| +\| +\| skipped \| 0 \| 'never' never started \|", rollback)


def test_status_of_a_rollback_cut_short_lists_its_pending_steps_as_rollback_steps(
    write_runbook, cli
):
    runbook = write_runbook(
        """
        version: 1
        name: Cut short
        steps:
          - {id: deploy, at: T+0, run: "exit 1"}
        rollback:
          - {id: first, run: "true"}
          - {id: second, run: "true"}
          - {id: third, run: "true"}
        """
    )
    result = cli("run", runbook, "--no-wait")
    journal = result.journal_dir / "journal.jsonl"
    lines = journal.read_text().splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if '"rollback_step_finished"' in line)
    journal.write_text("".join(lines[: cut + 1]))  # the driver died after the first step
    status = cli("status", result.journal_dir).stdout
    launch_part, rollback_part = status.split("\nrollback: in progress")
    assert "first" not in launch_part and "second" not in launch_part
    assert "✓ first: ok" in rollback_part
    assert "· second: pending" in rollback_part and "· third: pending" in rollback_part
    data = json.loads(cli("report", result.journal_dir, "--format", "json").stdout)
    assert [(s["step"], s["status"]) for s in data["rollback"]["steps"]] == [
        ("first", "ok"),
        ("second", "pending"),
        ("third", "pending"),
    ]


def test_launchctl_rollback_prints_no_exit_code_other_than_its_own(write_runbook, cli):
    runbook = write_runbook(
        """
        version: 1
        name: Paused
        steps:
          - {id: prep, at: T+0, run: "true"}
          - {id: ask, at: T+0, confirm: "go?", run: "true"}
        rollback:
          - {id: undo-prep, if_started: prep, run: "true"}
        """
    )
    paused = cli("run", runbook, "--no-wait")
    assert paused.exit_code == 5
    rolled = cli("rollback", paused.journal_dir, "--reason", "changed our minds")
    assert rolled.exit_code == 0, rolled.stderr
    assert "(exit 1)" not in rolled.stdout + rolled.stderr
    assert "■ launch rolled back: Launch failed; rollback completed (system restored)" in (
        rolled.stdout
    )
