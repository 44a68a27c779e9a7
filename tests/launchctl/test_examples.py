"""The shipped examples stay valid and the committed schema stays current."""

from __future__ import annotations

import json
from pathlib import Path

from runbook.checklist import Decision, evaluate_gate, load_checklist
from runbook.v1.document import json_schema
from runbook.v1.loader import load_runbook

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


def test_the_format_reference_is_generated_from_the_format_itself():
    from runbook.v1.reference import markdown

    committed = (EXAMPLES.parent / "docs" / "runbook-format.md").read_text()
    assert committed == markdown(), (
        "run: launchctl schema --format markdown > docs/runbook-format.md"
    )


def test_the_format_references_example_validates(cli, tmp_path):
    import re
    import shutil

    from runbook.v1.reference import INTRO

    example = re.search(r"```yaml\n(.*?)```", INTRO, re.S).group(1)
    (tmp_path / "launch.yaml").write_text(example)
    shutil.copy(EXAMPLES / "checklist.yaml", tmp_path / "checklist.yaml")
    result = cli("validate", tmp_path / "launch.yaml")
    assert result.exit_code == 0, result.stderr


def test_docs_cited_by_the_readme_and_the_code_exist():
    import re

    repo = EXAMPLES.parent
    cited = set(re.findall(r"\(?(docs/[a-z-]+\.md)", (repo / "README.md").read_text()))
    for path in repo.glob("**/*.py"):
        if ".venv" not in path.parts:
            cited |= set(re.findall(r"(docs/[a-z-]+\.md)", path.read_text()))
    missing = [doc for doc in sorted(cited) if not (repo / doc).is_file()]
    assert not missing, f"cited but not in the repository: {missing}"
    outside = ("SPEC " + "section", "ARCHITECTURE" + ".md")  # spelt apart: this file is read too
    for path in [repo / "README.md", *repo.glob("*/**/*.py"), *repo.glob("examples/*.yaml")]:
        if ".venv" in path.parts:
            continue
        text = path.read_text()
        assert not any(name in text for name in outside), (
            f"{path} cites a document that is not in the repository"
        )


def test_the_example_posts_nothing_twice(cli, monkeypatch, tmp_path):
    """Its rollback leaves ROLLBACK INITIATED and COMPLETE to launchctl's own milestones."""
    from collections import Counter

    from conftest import events_of

    monkeypatch.chdir(EXAMPLES.parent)
    result = cli(
        "drill", "examples/launch.yaml", "--fail-at", "deploy", "--journal", tmp_path / "j"
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    messages = [e["message"] for e in events_of(result.events, "notification")]
    said = Counter(message.split(" - ")[0].split(":")[0] for message in messages)
    assert said["ROLLBACK INITIATED"] == 1 and said["ROLLBACK COMPLETE"] == 1, messages
    assert max(said.values()) == 1, f"posted twice: {said.most_common(1)}"
    assert all(step.notify is None for step in load_runbook(EXAMPLES / "launch.yaml").rollback)


def test_the_readme_names_every_built_in_milestone_and_the_reference_says_when():
    from runbook.model import MILESTONES

    readme = (EXAMPLES.parent / "README.md").read_text()
    reference = (EXAMPLES.parent / "docs" / "runbook-format.md").read_text()
    for milestone, meaning in MILESTONES.items():
        assert f"`{milestone}`" in readme, milestone
        assert f"| `{milestone}` | {meaning.replace('|', chr(92) + '|')} |" in reference
