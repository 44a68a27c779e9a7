"""structlog does the recording: one processor chain (stamp → check → mask → sequence → render),
configured in one place, and ``--log-format json`` streams the same events on stdout."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import structlog
from conftest import read_events

from launchctl.journal.masking import SecretMasker
from launchctl.journal.recorder import Recorder, processor_chain
from steps.clock import SimulatedClock

REPO = Path(__file__).resolve().parents[2]


def test_the_recorder_is_one_structlog_chain_in_pipeline_order():
    recorder = Recorder(None, SecretMasker(["hunter22"]), SimulatedClock(), strict=True)
    names = [getattr(p, "__name__", "") for p in processor_chain(recorder)]
    assert names == ["stamp", "check", "mask", "sequence", "_render"]
    captured = structlog.testing.CapturingLogger()
    logger = structlog.wrap_logger(captured, processors=processor_chain(recorder))
    logger.msg("step_failed", step="hunter22-db", status="failed", reason="bad hunter22")
    (call,) = captured.calls
    line, record = call.args[0], call.kwargs["record"]
    assert json.loads(line) == record
    assert record["step"] == "hunter22-db" and record["reason"] == "bad ***" and record["seq"] == 1
    assert list(record)[:3] == ["ts", "event", "clock"]


def test_structlog_is_configured_in_one_place():
    places = []
    for package in ("runbook", "steps", "rollback", "launchctl"):
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Attribute)
                    and getattr(node.value, "id", "") == "structlog"
                    and node.attr in ("wrap_logger", "configure", "BoundLogger")
                ):
                    places.append(str(path.relative_to(REPO)))
    assert set(places) == {"launchctl/journal/recorder.py"}


RUNBOOK = """
version: 1
name: Json
secrets: [TOKEN]
steps:
  - {id: a, at: T+0, run: 'echo "using $T"', env: {T: "${TOKEN}"}}
  - {id: b, at: T+0, run: 'exit 3'}
rollback:
  - {id: r, run: 'echo undone'}
"""


def test_log_format_json_streams_the_journals_events_as_json_lines(write_runbook, cli):
    result = cli(
        "run",
        write_runbook(RUNBOOK),
        "--no-wait",
        "--log-format",
        "json",
        env={"TOKEN": "tok-secret-1"},
    )
    assert result.exit_code == 1
    streamed = [json.loads(line) for line in result.stdout.splitlines()]
    journaled = read_events(result.journal_dir)
    assert [e for e in streamed if e["event"] != "output"] == journaled
    output = [e for e in streamed if e["event"] == "output"]
    assert [e["line"] for e in output] == ["using ***", "undone"]
    assert "tok-secret-1" not in result.stdout + result.stderr


@pytest.mark.parametrize("command", ["resume", "rollback", "drill"])
def test_resume_rollback_and_drill_take_log_format_json(write_runbook, cli, command):
    runbook = write_runbook(
        RUNBOOK.replace("exit 3", "true").replace("- {id: a,", "- {id: a, confirm: Go?,")
    )
    env = {"TOKEN": "tok-secret-1"}
    if command == "drill":
        result = cli("drill", runbook, "--fail-at", "b", "--log-format", "json", env=env)
        assert result.exit_code == 0
        events = [json.loads(line)["event"] for line in result.stdout.splitlines()]
        assert events[0] == "launch_started" and "drill_result" in events
        assert "drill (dry drill" in result.stderr
        return
    paused = cli("run", runbook, "--no-wait", env=env)
    assert paused.exit_code == 5
    args = ["--yes"] if command == "resume" else ["--reason", "stop"]
    result = cli(command, paused.journal_dir, *args, "--log-format", "json", env=env)
    assert result.exit_code == 0, result.stderr
    events = [json.loads(line)["event"] for line in result.stdout.splitlines()]
    first = "launch_resumed" if command == "resume" else "rollback_requested"
    assert events[0] == first and events[-1] == "launch_finished"
