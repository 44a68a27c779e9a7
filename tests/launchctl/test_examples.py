"""The shipped examples stay valid and the committed schema stays current."""

from __future__ import annotations

import json
from pathlib import Path

from runbook.checklist import Decision, evaluate_gate, load_checklist
from runbook.format import json_schema
from runbook.loader import load_runbook

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_example_runbook_validates_and_holds_the_seed_timeline():
    runbook = load_runbook(EXAMPLES / "launch.yaml")
    assert len(runbook.steps) == 11  # the seed's ten milestones and the contract migration
    assert [s.id for s in runbook.steps][0] == "predeploy" and runbook.steps[-1].id == "handoff"
    assert [s.id for s in runbook.irreversible_steps] == ["contract"]
    assert [s.id for s in runbook.roll_forward] == ["flag-off", "validate-forward"]
    assert runbook.gate == (EXAMPLES / "checklist.yaml").resolve()
    assert {g.then.value for g in runbook.guards} == {"rollback", "ask"}


def test_example_checklist_decides_go_with_caution():
    assert evaluate_gate(load_checklist(EXAMPLES / "checklist.yaml")).decision is Decision.CAUTION


def test_committed_schema_matches_launchctl_schema():
    committed = json.loads((EXAMPLES / "runbook.schema.json").read_text())
    assert committed == json_schema(), "run: launchctl schema > examples/runbook.schema.json"


def test_dry_drill_of_the_example_launch_rolls_back_the_migration(cli, monkeypatch, tmp_path):
    monkeypatch.chdir(EXAMPLES.parent)
    result = cli(
        "drill", "examples/launch.yaml", "--fail-at", "migrate", "--journal", tmp_path / "j"
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "injected failure of step 'migrate'" in result.stdout
    assert any("restore-db" in line and " ok" in line for line in result.stdout.splitlines())
