"""The launch record and status, rendered from the journal alone."""

from __future__ import annotations

import json
import re

RUNBOOK = """
version: 1
name: Recorded launch
steps:
  - {id: predeploy, at: T-60m, run: "echo validating; echo all good"}
  - {id: health, at: T-5m, check: [{command: "true"}]}
  - {id: migrate, at: T-15m, run: "echo applying 0042; echo 'ERROR: lock timeout' >&2; exit 1"}
rollback:
  - {id: restore, if_started: migrate, run: "echo restoring"}
  - {id: never, run: "true"}
"""


def _failed_launch(write_runbook, cli):
    text = RUNBOOK.replace("T-15m", "T-1m")
    return cli("run", write_runbook(text), "--no-wait")


def test_markdown_report_shows_planned_and_actual_times_failures_and_rollback(write_runbook, cli):
    result = _failed_launch(write_runbook, cli)
    assert result.exit_code == 1
    report = cli("report", result.journal_dir)
    assert report.exit_code == 0
    text = report.stdout
    assert text.startswith("# Launch record: Recorded launch")
    assert "Launch failed; rollback completed" in text
    assert "| Offset | Step | Planned | Actual | Slip | Duration | Status |" in text
    assert "| T-1h | predeploy |" in text and "| T-1m | migrate |" in text
    assert "### migrate: exit code 1, expected 0" in text
    assert "ERROR: lock timeout" in text  # the command's last output lines
    assert "## Rollback" in text
    assert re.search(r"\| restore \| \d\d:\d\d:\d\d \| \d+\.\ds \| ok \| 1 \|", text)
    assert "## Checks" in text and "| health | command | `true` | pass |" in text


def test_json_report_is_structured(write_runbook, cli, workdir):
    result = _failed_launch(write_runbook, cli)
    out = workdir / "record.json"
    assert cli("report", result.journal_dir, "--format", "json", "-o", out).exit_code == 0
    data = json.loads(out.read_text())
    assert data["outcome"] == "rolled_back" and data["exit_code"] == 1
    steps = {s["step"]: s for s in data["steps"]}
    assert steps["predeploy"]["status"] == "ok" and steps["predeploy"]["planned"]
    assert steps["migrate"]["status"] == "failed"
    assert steps["migrate"]["commands"][0]["tail"][-1] == "ERROR: lock timeout"
    assert data["rollback"]["status"] == "complete"
    assert [s["step"] for s in data["rollback"]["steps"]] == ["restore", "never"]


def test_status_shows_each_step_and_the_outcome(write_runbook, cli):
    result = _failed_launch(write_runbook, cli)
    status = cli("status", result.journal_dir)
    assert status.exit_code == 0
    assert "phase: finished" in status.stdout and "outcome: rolled_back, exit 1" in status.stdout
    assert "✓ T-1h" in status.stdout and "✗ T-1m" in status.stdout
    data = json.loads(cli("status", result.journal_dir, "--format", "json").stdout)
    assert data["rollback"]["status"] == "complete"


def test_dry_run_report_says_it_was_a_dry_run(write_runbook, cli):
    result = cli("run", write_runbook(RUNBOOK.replace("T-15m", "T-1m")), "--dry-run")
    assert result.exit_code == 0
    assert "(dry run" in cli("report", result.journal_dir).stdout


def test_html_report_is_one_self_contained_page_with_the_timeline_drawn(
    write_runbook, cli, workdir
):
    result = _failed_launch(write_runbook, cli)
    out = workdir / "record.html"
    assert cli("report", result.journal_dir, "--format", "html", "-o", out).exit_code == 0
    page = out.read_text()
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert "<svg" in page and "aria-label='timeline'" in page
    assert "Launch failed; rollback completed" in page
    assert "ERROR: lock timeout" in page and "<h2>Rollback</h2>" in page
    for remote in ("http://", "https://", "src=", "@import", "<link", "<script"):
        assert remote not in page, f"the page must not load {remote!r}"


def test_html_report_escapes_what_commands_printed(write_runbook, cli, workdir):
    runbook = write_runbook(
        """
        version: 1
        name: "<b>Escaped</b>"
        steps:
          - {id: a, at: T+0, run: "echo '<script>alert(1)</script>'; exit 1"}
        """
    )
    result = cli("run", runbook, "--no-wait")
    page = cli("report", result.journal_dir, "--format", "html").stdout
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<b>Escaped</b>" not in page
