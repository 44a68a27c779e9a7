"""Exit codes say what happened: one table, one mapping function, one ``sys.exit``; a bad option
value is exit 2 with one clear line; a bug has its own code (70), never 3."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from runbook.errors import ExitCode, Outcome, exit_code_for

REPO = Path(__file__).resolve().parents[2]

SPEC_CODES = {
    Outcome.COMPLETED: 0,
    Outcome.ROLLED_BACK: 1,
    Outcome.ROLLED_FORWARD: 1,
    Outcome.ROLL_FORWARD_INCOMPLETE: 3,
    Outcome.GATE_GO: 0,
    Outcome.GATE_CAUTION: 1,
    Outcome.GATE_NO_GO: 4,
    Outcome.PREFLIGHT_PROBLEM: 1,
    Outcome.BAD_INPUT: 2,
    Outcome.ROLLBACK_INCOMPLETE: 3,
    Outcome.REFUSED_BY_GATE: 4,
    Outcome.PAUSED: 5,
    Outcome.DRILL_ROLLBACK_COMPLETE: 0,
}


def test_every_outcome_has_its_code_and_the_spec_codes_hold():
    for outcome in Outcome:
        assert isinstance(exit_code_for(outcome), ExitCode)
    assert {o: int(exit_code_for(o)) for o in SPEC_CODES} == SPEC_CODES


def test_an_internal_error_has_its_own_code_not_rollback_incomplete():
    code = exit_code_for(Outcome.INTERNAL_ERROR)
    assert code == 70 and code != ExitCode.ROLLBACK_INCOMPLETE
    assert [c for c in ExitCode if c == code] == [ExitCode.INTERNAL_ERROR]


def test_gate_caution_is_its_own_outcome_not_a_rollback():
    from launchctl.views.gate_text import OUTCOMES
    from runbook.checklist import Decision

    assert OUTCOMES[Decision.CAUTION] is Outcome.GATE_CAUTION
    assert exit_code_for(Outcome.GATE_CAUTION) is ExitCode.SETBACK


def _exits(path: Path) -> list[int]:
    tree = ast.parse(path.read_text())
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "exit"
        and getattr(node.func.value, "id", "") == "sys"
    ]


def test_sys_exit_is_called_in_one_place_the_cli_boundary():
    calls = {
        str(path.relative_to(REPO)): lines
        for package in ("runbook", "steps", "rollback", "launchctl")
        for path in (REPO / package).rglob("*.py")
        if (lines := _exits(path))
    }
    assert list(calls) == ["launchctl/cli.py"] and len(calls["launchctl/cli.py"]) == 1


RUNBOOK = (
    "version: 1\nname: X\nsteps:\n  - {id: a, at: T+0, run: 'true'}\n"
    "rollback:\n  - {id: r, run: 'true'}\n"
)


BAD_VALUES = [
    ("--speed", "nan"),
    ("--speed", "inf"),
    ("--speed", "-inf"),
    ("--speed", "0"),
    ("--t0", "0001-01-01"),
    ("--t0", "9999-12-31T23:59:59"),
    ("--t0", "+99999999999d"),
    ("--t0", "25:99"),
]
CASES = [
    (command, option, value)
    for command in ("run", "drill", "plan")
    for option, value in BAD_VALUES
    if not (command == "plan" and option == "--speed")  # plan has no --speed
]


@pytest.mark.parametrize("command,option,value", CASES)
def test_a_bad_option_value_is_exit_2_with_one_clear_line(
    write_runbook, cli, command, option, value
):
    extra = ["--fail-at", "a"] if command == "drill" else ["--dry-run"] if command == "run" else []
    result = cli(command, write_runbook(RUNBOOK), *extra, f"{option}={value}")
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, result.stderr
    assert len(lines) == 1 and option in lines[0] and value.lstrip("+") in lines[0], lines
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr


def test_a_runbook_t0_out_of_range_is_a_validation_error(write_runbook, cli):
    result = cli("validate", write_runbook(RUNBOOK + "t0: 0001-01-01T00:00:00Z\n"))
    assert result.exit_code == 2
    assert result.stderr.strip().endswith("so that every step's time exists")
    assert ":7:" in result.stderr


def test_a_bug_exits_70_with_one_line_and_the_hint(cli, monkeypatch, tmp_path):
    import launchctl.views.status_text as status_text

    def broken(directory):
        raise RuntimeError("boom")

    monkeypatch.setattr(status_text, "status_data", broken)
    result = cli("status", tmp_path)
    assert result.exit_code == 70
    assert result.stderr.splitlines()[0] == "launchctl: internal error: RuntimeError: boom"


def test_the_console_script_exits_with_the_mapped_code(tmp_path):
    import subprocess
    import sys

    (tmp_path / "x.yaml").write_text(RUNBOOK)
    done = subprocess.run(
        [sys.executable, "-m", "launchctl.cli", "run", "x.yaml", "--dry-run", "--speed", "nan"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1


def test_every_status_a_launch_can_finish_with_is_an_outcome_with_its_code():
    finished = {
        "completed": 0,
        "rolled_back": 1,
        "rolled_forward": 1,
        "rollback_incomplete": 3,
        "roll_forward_incomplete": 3,
        "refused_by_gate": 4,
    }
    assert {status: int(exit_code_for(Outcome(status))) for status in finished} == finished


def test_a_timer_that_finds_a_slot_missed_exits_by_the_newest_checkpoint(write_runbook, cli):
    """A timer firing after two slots: the older one's command check could not run then
    (missed), the newest passed and even declared the launch stable; exit 1 said otherwise,
    and a second call a moment later, on the same journal, said 0."""
    from datetime import timedelta

    from conftest import events_of

    from launchctl.journal.catalogue import iso, parse_iso

    runbook = write_runbook(
        """
        version: 1
        name: Timer
        steps:
          - {id: golive, at: T+0, run: "true"}
        checkpoints:
          check:
            - command: "true"
          schedule:
            - {every: 1m, until: T+2m}
        """
    )
    launched = cli("run", runbook, "--no-wait")
    assert launched.exit_code == 0, launched.stderr
    went_live = parse_iso(events_of(launched.events, "guards_anchored")[0]["anchor"])
    late = iso(went_live + timedelta(minutes=2, seconds=10))
    first = cli("checkpoint", launched.journal_dir, "--now", late)
    slots = [(e["slot"], e["status"]) for e in events_of(launched.events, "checkpoint_result")]
    assert slots == [("T+1m", "missed"), ("T+2m", "pass")]
    assert first.exit_code == 0, first.stdout + first.stderr
    assert cli("checkpoint", launched.journal_dir, "--now", late).exit_code == 0
