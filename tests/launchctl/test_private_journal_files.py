"""Files are private: journal directories 0700 and their files 0600 whatever the umask; a journal
directory others can read is reported, one others can write is refused; ``report -o`` is 0600
unless ``--mode`` says otherwise."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from launchctl.engine.inbox import ROLLBACK_REQUEST_FILE, leave

RUNBOOK = """
version: 1
name: Private
steps:
  - {id: a, at: T+0, run: "true"}
  - {id: b, at: T+0, confirm: "Go on?", run: "true"}
"""


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask():
    """The most permissive umask: whatever launchctl creates must still be private."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def test_journal_directories_and_files_are_private_whatever_the_umask(
    write_runbook, cli, workdir, open_umask
):
    result = cli("run", write_runbook(RUNBOOK), "--no-wait")
    assert result.exit_code == 5
    journal = result.journal_dir
    assert _mode(workdir / ".launchctl") == 0o700 and _mode(journal) == 0o700
    assert {p.name: _mode(p) for p in journal.iterdir()} == {
        "journal.jsonl": 0o600,
        "journal.lock": 0o600,
    }
    leave(journal, ROLLBACK_REQUEST_FILE, "why\n")
    assert _mode(journal / ROLLBACK_REQUEST_FILE) == 0o600


def test_resume_makes_an_old_journals_files_private(write_runbook, cli, open_umask):
    paused = cli("run", write_runbook(RUNBOOK), "--no-wait")
    for name in ("journal.jsonl", "journal.lock"):
        os.chmod(paused.journal_dir / name, 0o644)
    resumed = cli("resume", paused.journal_dir, "--yes")
    assert resumed.exit_code == 0, resumed.stderr
    assert _mode(paused.journal_dir / "journal.jsonl") == 0o600
    assert _mode(paused.journal_dir / "journal.lock") == 0o600


def test_a_journal_directory_others_can_read_is_reported_in_one_line(write_runbook, cli, workdir):
    shared = workdir / "shared"
    shared.mkdir()
    os.chmod(shared, 0o755)
    result = cli("run", write_runbook(RUNBOOK), "--no-wait", "--yes", "--journal", shared)
    assert result.exit_code == 0
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: {shared} (mode 0755): other users can read this journal (command output, "
        f"hosts); chmod 700 {shared}"
    ]


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o1733])
@pytest.mark.parametrize("command", ["run", "resume", "rollback"])
def test_a_journal_directory_others_can_write_is_refused(
    write_runbook, cli, workdir, mode, command
):
    runbook = write_runbook(RUNBOOK)
    if command == "run":
        journal = workdir / "open"
        journal.mkdir()
    else:
        journal = cli("run", runbook, "--no-wait").journal_dir
    os.chmod(journal, mode)
    before = (journal / "journal.jsonl").read_text() if command != "run" else ""
    args = {"run": ("run", runbook, "--no-wait", "--journal", journal)}.get(
        command,
        (command, journal, "--yes") if command == "resume" else (command, journal, "--reason", "x"),
    )
    result = cli(*args)
    assert result.exit_code == 2
    assert "other users can write this journal directory" in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2
    if command != "run":
        assert (journal / "journal.jsonl").read_text() == before
    else:
        assert not (journal / "journal.jsonl").exists()


def test_report_files_are_0600_unless_mode_says_otherwise(write_runbook, cli, workdir, open_umask):
    journal = cli("run", write_runbook(RUNBOOK), "--no-wait", "--yes").journal_dir
    (workdir / "old.md").write_text("x")
    os.chmod(workdir / "old.md", 0o666)
    assert cli("report", journal, "-o", workdir / "old.md").exit_code == 0
    assert _mode(workdir / "old.md") == 0o600
    assert cli("report", journal, "-o", workdir / "r.html", "--format", "html").exit_code == 0
    assert _mode(workdir / "r.html") == 0o600
    assert cli("report", journal, "-o", workdir / "shared.md", "--mode", "0644").exit_code == 0
    assert _mode(workdir / "shared.md") == 0o644


@pytest.mark.parametrize("mode", ["rw", "999", "-1", "01777"])
def test_a_bad_report_mode_is_bad_input(write_runbook, cli, workdir, mode):
    journal = cli("run", write_runbook(RUNBOOK), "--no-wait", "--yes").journal_dir
    result = cli("report", journal, "-o", workdir / "r.md", "--mode", mode)
    assert result.exit_code == 2 and "--mode" in result.stderr
    assert not (workdir / "r.md").exists()


def test_a_report_that_cannot_be_written_is_bad_input_not_a_bug(write_runbook, cli, workdir):
    journal = cli("run", write_runbook(RUNBOOK), "--no-wait", "--yes").journal_dir
    result = cli("report", journal, "-o", workdir / "missing-dir" / "r.md")
    assert result.exit_code == 2 and result.stderr.startswith("cannot write")
