"""The point of no return: before it a failure rolls back; after it the roll-forward runs, or a
person decides (a terminal, or a second terminal while the launch waits with guards watching)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import events_of, launchctl_argv, read_events, run_subprocess, wait_for

HANG_GUARD = 30.0

BASE = """
version: 1
name: Contract migration
steps:
  - {id: deploy, at: T+0, run: "echo deploy >> ran.log"}
  - id: contract
    at: T+0
    run: "echo contract >> ran.log"
    irreversible: "drops column legacy_sku"
  - {id: verify, at: T+0, run: "echo verify >> ran.log; FAIL_VERIFY"}
rollback:
  - {id: undo-deploy, if_started: deploy, run: "echo undo-deploy >> rolled.log"}
  - {id: restore-schema, if_not_started: contract, run: "echo restore-schema >> rolled.log"}
"""
ROLL_FORWARD = """
roll_forward:
  - {id: flag-off, run: 'echo "flag-off: {{ rollback.reason }}" >> forward.log'}
  - {id: scale-up, run: "echo scale-up >> forward.log"}
"""


def _runbook(write_runbook, *, fail: str = "verify", roll_forward: bool = True) -> Path:
    text = BASE.replace("FAIL_VERIFY", "false" if fail == "verify" else "true")
    if fail == "deploy":
        text = text.replace('run: "echo deploy >> ran.log"', 'run: "echo deploy >> ran.log; false"')
    return write_runbook(text + (ROLL_FORWARD if roll_forward else ""))


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_a_failure_before_the_point_of_no_return_rolls_back(write_runbook, cli, workdir):
    result = cli("run", _runbook(write_runbook, fail="deploy"), "--no-wait")
    assert result.exit_code == 1
    assert _lines(workdir / "rolled.log") == ["undo-deploy", "restore-schema"]
    assert not (workdir / "forward.log").exists()
    assert not events_of(result.events, "point_of_no_return")
    report = cli("report", result.journal_dir).stdout
    assert "before the point of no return ('contract' never started)" in report


def test_a_failure_after_the_point_runs_roll_forward_not_rollback(write_runbook, cli, workdir):
    result = cli("run", _runbook(write_runbook), "--no-wait")
    assert result.exit_code == 1, result.stderr
    assert not (workdir / "rolled.log").exists()
    assert _lines(workdir / "forward.log") == [
        "flag-off: step 'verify' failed: exit code 1, expected 0",
        "scale-up",
    ]
    events = result.events
    ponr = events_of(events, "point_of_no_return")[0]
    assert (ponr["step"], ponr["reason"]) == ("contract", "drops column legacy_sku")
    assert ponr["seq"] < events_of(events, "step_started")[1]["seq"]
    assert events_of(events, "roll_forward_started")[0]["steps"] == ["flag-off", "scale-up"]
    assert events_of(events, "roll_forward_finished")[0]["status"] == "complete"
    assert not events_of(events, "rollback_started")
    assert events_of(events, "launch_finished")[0]["status"] == "rolled_forward"
    report = cli("report", result.journal_dir).stdout
    assert "past the point of no return ('contract': drops column legacy_sku)" in report
    assert "## Roll-forward" in report and "roll-forward completed" in report
    status = cli("status", result.journal_dir).stdout
    assert "roll-forward: complete" in status


def test_plan_and_dry_run_show_the_point_of_no_return_and_the_roll_forward(write_runbook, cli):
    runbook = _runbook(write_runbook)
    plan = cli("plan", runbook).stdout
    assert "⚑ POINT OF NO RETURN (drops column legacy_sku)" in plan
    assert "ROLL-FORWARD SEQUENCE" in plan and "flag-off" in plan
    dry = cli("run", runbook, "--dry-run")
    assert dry.exit_code == 0
    assert events_of(dry.events, "point_of_no_return")[0]["step"] == "contract"


def test_validate_refuses_a_rollback_that_would_undo_an_irreversible_step(write_runbook, cli):
    runbook = write_runbook(
        """
        version: 1
        name: Undo the undoable
        steps:
          - {id: contract, at: T+0, run: "true", irreversible: "drops column legacy_sku"}
        rollback:
          - {id: restore, if_started: contract, run: "true"}
        """
    )
    result = cli("validate", runbook)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"{runbook}:6:31: rollback[0].if_started: 'contract' is irreversible "
        f"(drops column legacy_sku; {runbook}:4:56): a rollback cannot undo it; "
        "use if_not_started, or undo it in roll_forward"
    )


def test_validate_warns_when_nothing_can_follow_the_point_of_no_return(write_runbook, cli):
    runbook = write_runbook(
        """
        version: 1
        name: Nothing after
        steps:
          - {id: contract, at: T+0, run: "true", irreversible: true}
        """
    )
    result = cli("validate", runbook)
    assert result.exit_code == 0
    assert result.stderr.startswith(f"warning: {runbook}:4:56: steps.contract.irreversible:")
    assert "the launch will wait for a person to decide" in result.stderr


@pytest.mark.parametrize("live", [False, True])
def test_a_drill_past_the_point_exercises_and_times_the_roll_forward(
    write_runbook, cli, workdir, live
):
    args = ["drill", _runbook(write_runbook, fail="none"), "--fail-at", "verify"]
    result = cli(*args, *(["--live", "--no-wait"] if live else []))
    assert result.exit_code == 0, result.stderr
    assert "past the point of no return: the roll-forward ran" in result.stdout
    assert "injection to roll-forward start:" in result.stdout
    assert ("roll-forward duration:" if live else "roll-forward worst case:") in result.stdout
    assert (workdir / "forward.log").exists() is live
    assert not (workdir / "rolled.log").exists()


# -- a person decides ----------------------------------------------------------------------------


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


def _waiting_for_a_person(journal: Path) -> bool:
    return (journal / "journal.jsonl").exists() and any(
        e["event"] == "awaiting_answer" and e["kind"] == "past-no-return"
        for e in read_events(journal)
    )


def test_headless_without_roll_forward_waits_for_a_second_terminal_to_force_a_rollback(
    write_runbook, workdir
):
    driver = _start(
        workdir, "run", _runbook(write_runbook, roll_forward=False), "--no-wait", "--journal", "j"
    )
    try:
        wait_for(lambda: _waiting_for_a_person(workdir / "j"))
        refused = run_subprocess("rollback", "j", "--reason", "undo it", cwd=workdir)
        assert refused.exit_code == 2
        assert "past the point of no return" in refused.stderr
        assert "--force-past-no-return" in refused.stderr
        assert driver.poll() is None, "a refused request changes nothing"
        forced = run_subprocess(
            "rollback", "j", "--reason", "undo it", "--force-past-no-return", cwd=workdir
        )
        assert forced.exit_code == 0, forced.stderr
        assert driver.wait(timeout=HANG_GUARD) == 1
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    events = read_events(workdir / "j")
    notes = [n["message"] for n in events_of(events, "notification")]
    assert any(m.startswith("A PERSON MUST DECIDE:") for m in notes)
    started = events_of(events, "rollback_started")[0]
    assert started["forced_past_no_return_by"].startswith(os.environ.get("USER", "") or "")
    assert "@" in started["forced_past_no_return_by"]
    # restore-schema only while the irreversible step has not started: skipped
    assert _lines(workdir / "rolled.log") == ["undo-deploy"]


def test_headless_without_roll_forward_goes_on_when_a_second_terminal_approves(
    write_runbook, workdir
):
    driver = _start(
        workdir, "run", _runbook(write_runbook, roll_forward=False), "--no-wait", "--journal", "j"
    )
    try:
        wait_for(lambda: _waiting_for_a_person(workdir / "j"))
        approved = run_subprocess("approve", "j", "--by", "carol", cwd=workdir)
        assert approved.exit_code == 0, approved.stderr
        assert driver.wait(timeout=HANG_GUARD) == 0
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    events = read_events(workdir / "j")
    decision = [d for d in events_of(events, "operator_decision") if d["kind"] == "past-no-return"][
        0
    ]
    assert (decision["user"], decision["how"]) == ("carol", "second-terminal")
    assert events_of(events, "launch_finished")[0]["status"] == "completed"
    assert not (workdir / "rolled.log").exists()


# -- GO WITH CAUTION asks before the point, --yes or not ---------------------------------------

CAUTION = """
checklist: Readiness
items:
  - {id: SEC-01, title: TLS valid, critical: true, status: PASS}
risks:
  - {id: R4, title: legacy readers of legacy_sku, likelihood: MEDIUM, impact: MEDIUM, mitigated: false}
signoffs:
  - {role: CTO, name: Ana, signed: true}
"""


def _gated(write_runbook, workdir) -> Path:
    (workdir / "checklist.yaml").write_text(CAUTION)
    text = BASE.replace("FAIL_VERIFY", "true").replace(
        "drops column legacy_sku", "drops column legacy_sku (R4)"
    )
    return write_runbook(
        text.replace("name: Contract migration", "name: Gated\ngate: checklist.yaml") + ROLL_FORWARD
    )


def test_go_with_caution_asks_before_the_point_even_with_yes(write_runbook, workdir):
    runbook = _gated(write_runbook, workdir)
    driver = _start(workdir, "run", runbook, "--no-wait", "--yes", "--journal", "j")
    try:
        wait_for(
            lambda: (
                (workdir / "j" / "journal.jsonl").exists()
                and any(e["event"] == "awaiting_answer" for e in read_events(workdir / "j"))
            )
        )
        time.sleep(0.5)
        assert _lines(workdir / "ran.log") == ["deploy"], "nothing past the point before a yes"
        approved = run_subprocess("approve", "j", "--by", "dana", cwd=workdir)
        assert approved.exit_code == 0, approved.stderr
        assert driver.wait(timeout=HANG_GUARD) == 0
        out = driver.stderr.read()
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert "contract: drops column legacy_sku (R4)" in out
    assert "risk R4: legacy readers of legacy_sku" in out
    answered = events_of(read_events(workdir / "j"), "confirm_answered")[0]
    assert (answered["by"], answered["how"], answered["answer"]) == (
        "dana",
        "second-terminal",
        "yes",
    )


def test_override_gate_says_why_and_nobody_is_asked(write_runbook, cli, workdir):
    runbook = _gated(write_runbook, workdir)
    result = cli("run", runbook, "--no-wait", "--yes", "--override-gate", "R4 accepted by the CTO")
    assert result.exit_code == 0, result.stderr
    assert not events_of(result.events, "awaiting_answer")


def test_gate_lists_the_irreversible_steps_with_their_risk(write_runbook, cli, workdir):
    runbook = _gated(write_runbook, workdir)
    result = cli("gate", workdir / "checklist.yaml", "--runbook", runbook)
    assert result.exit_code == 1
    assert "Point of no return" in result.stdout
    assert "  contract: drops column legacy_sku (R4)" in result.stdout
    assert (
        "    risk R4: legacy readers of legacy_sku (MEDIUM x MEDIUM, yellow, NOT mitigated)"
        in result.stdout
    )
