"""Terminal hygiene: command output on the terminal (plain lines), in the live view, in Markdown
and in status keeps printable text and colour (SGR) only; every other escape sequence is shown
escaped; HTML stays escaped."""

from __future__ import annotations

import io
import json

import pytest

from launchctl.views.sanitize import terminal_safe

HOSTILE = (
    "\x1b]0;pwned-title\x07"  # window title (OSC 0)
    "\x1b[2J\x1b[H"  # clear screen, cursor home
    "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"  # OSC 8 link
    "\x1b[5A"  # cursor up five lines
    "\x1b[31mred\x1b[0m"  # colour: kept
    " <script>alert(1)</script>"
)
RAW_CONTROL = ("\x1b]", "\x1b[2J", "\x1b[H", "\x1b[5A", "\x07", "\x9b")


@pytest.mark.parametrize(
    "given,shown",
    [
        ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),
        ("\x1b]2;title\x1b\\", "\\x1b]2;title\\x1b\\"),
        ("\x1b[2J", "\\x1b[2J"),
        ("\x1b[10;20H", "\\x1b[10;20H"),
        ("\x9b2J", "\\x9b2J"),
        ("a\rb\bc", "a\\x0db\\x08c"),
        ("\u202eevil", "\\u202eevil"),
        ("\x1b[1;31mbold red\x1b[0m", "\x1b[1;31mbold red\x1b[0m"),
        ("tab\tand\nnewline", "tab\tand\nnewline"),
        ("plain ünïcode ☃", "plain ünïcode ☃"),
    ],
)
def test_only_printable_text_and_colour_survive(given, shown):
    assert terminal_safe(given) == shown


def test_without_colour_sgr_is_dropped_and_the_rest_still_escaped():
    assert terminal_safe("\x1b[31mred\x1b[0m\x1b[2J", colour=False) == "red\\x1b[2J"


RUNBOOK = """
version: 1
name: Hostile output
steps:
  - id: noisy
    at: T+0
    run: "cat hostile.txt; exit 1"
"""


@pytest.fixture
def hostile_run(write_runbook, workdir, cli):
    (workdir / "hostile.txt").write_text(HOSTILE + "\n")
    result = cli("run", write_runbook(RUNBOOK), "--no-wait")
    assert result.exit_code == 1
    return result


def test_plain_lines_show_hostile_output_escaped(hostile_run):
    out = hostile_run.stdout
    assert not any(raw in out for raw in RAW_CONTROL)
    assert "  | \\x1b]0;pwned-title\\x07\\x1b[2J\\x1b[H" in out
    assert "\x1b[31mred\x1b[0m" in out


def test_the_markdown_record_shows_hostile_output_escaped(hostile_run, cli, workdir):
    assert cli("report", hostile_run.journal_dir, "-o", workdir / "record.md").exit_code == 0
    markdown = (workdir / "record.md").read_text()
    assert "\\x1b]0;pwned-title\\x07" in markdown and "\x1b[31mred" in markdown
    assert not any(raw in markdown for raw in RAW_CONTROL)


def test_the_html_record_stays_escaped(hostile_run, cli):
    html = cli("report", hostile_run.journal_dir, "--format", "html").stdout
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "\x1b" not in html and "\\x1b]0;pwned-title" in html


def test_the_json_record_keeps_the_bytes_as_json_escapes(hostile_run, cli):
    data = json.loads(cli("report", hostile_run.journal_dir, "--format", "json").stdout)
    assert data["steps"][0]["commands"][0]["tail"] == [HOSTILE]


def test_the_live_view_shows_hostile_output_escaped():
    from rich.console import Console

    from launchctl.views.live_view import LiveView

    screen = io.StringIO()
    view = LiveView(Console(file=screen, force_terminal=True, width=200, color_system="standard"))
    view(
        {
            "ts": "2026-12-01T14:00:00.000Z",
            "event": "launch_started",
            "launch_id": "x",
            "name": "Launch \x1b]0;name\x07",
            "t0": "2026-12-01T14:00:00.000Z",
            "runbook": "r",
            "steps": ["noisy"],
            "plan": [{"step": "noisy", "title": "noisy", "offset": "T+0", "target": "local"}],
        }
    )
    view({"ts": "2026-12-01T14:00:01.000Z", "event": "step_started", "step": "noisy"})
    view({"event": "output", "host": "localhost", "line": HOSTILE})
    view(
        {
            "ts": "2026-12-01T14:00:02.000Z",
            "event": "step_finished",
            "step": "noisy",
            "status": "failed",
            "reason": "boom \x1b[2J",
        }
    )
    view.console.print(view.render())
    shown = screen.getvalue()
    assert not any(raw in shown for raw in RAW_CONTROL)
    assert "\\x1b]0;pwned-title\\x07" in shown and "\\x1b]0;name\\x07" in shown
    assert "boom \\x1b[2J" in shown


def test_status_shows_a_hostile_reason_escaped(write_runbook, cli, hostile_run):
    journal = hostile_run.journal_dir / "journal.jsonl"
    events = [json.loads(line) for line in journal.read_text().splitlines()]
    for event in events:
        if event["event"] == "step_finished":
            event["reason"] = "failed \x1b]0;owned\x07\x1b[2J"
    journal.write_text("".join(json.dumps(e) + "\n" for e in events))
    status = cli("status", hostile_run.journal_dir).stdout
    assert "failed \\x1b]0;owned\\x07\\x1b[2J" in status
    assert not any(raw in status for raw in RAW_CONTROL)
