"""Property: whatever a secret's value — including values equal to parts of step ids, hosts,
time stamps and numbers — the journal parses, and status, resume, rollback and the report behave
exactly as in the same launch whose secret never appears (outputs compared once free text, which
masking may change, and run-specific values such as times are set aside)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from launchctl.cli import run_cli
from launchctl.journal import fields as kinds
from launchctl.journal.catalogue import EVENTS
from launchctl.journal.masking import MIN_SECRET_LENGTH

RUNBOOK = """
version: 1
name: Property launch
secrets: [SECRET]
steps:
  - {id: deploy-start, at: T-5m, run: 'echo "start $S"', env: {S: "${SECRET}"}}
  - {id: migrate-db, at: T+0, run: 'echo migrating; echo 1000 rows', env: {S: "${SECRET}"}}
  - {id: go-live, at: T+0, confirm: "Go live now?", run: 'echo live'}
  - {id: verify-2, at: T+0, run: 'exit 3'}
rollback:
  - {id: undo-migrate, if_started: migrate-db, run: 'echo "undo $S"', env: {S: "${SECRET}"}}
  - {id: undo-live, if_started: go-live, run: 'echo undo live'}
"""
NEVER_SEEN = "qzx-never-seen-value-9431"
YEAR = str(datetime.now(UTC).year)
VOLATILE = {"ts", "clock", "seq", "launch_id", "pid", "cwd", "runbook", "journal", "planned"}
VOLATILE |= {"duration_s", "runbook_sha256", "anchor", "until", "t0", "started", "finished"}

PARTS = [
    "deploy",
    "start",
    "deploy-start",
    "migrate",
    "live",
    "localhost",
    "local",
    YEAR,
    f"{YEAR}-",
    "1000",
    "T+0m",
    "T-5m",
    "undo",
    "echo",
    "completed",
    "rolled_back",
    "status",
    "event",
    '","',
    "\\u00",
    "0.00",
    "true",
    "root",
    "operator",
]
SECRETS = st.one_of(
    st.sampled_from(PARTS),
    st.text(alphabet='abcdefT+-:.0123456789" \\{}\n', min_size=MIN_SECRET_LENGTH, max_size=10),
).filter(lambda s: len(s.strip()) >= MIN_SECRET_LENGTH and "\x00" not in s)


def _cli(*args, env: dict[str, str]) -> tuple[int, str]:
    runner = CliRunner()
    with runner.isolation(env=env) as (out, _err, _):
        code = run_cli([str(a) for a in args])
        return int(code), out.getvalue().decode()


def _kept(value, kind: kinds.Kind | None):
    """``value`` without free text (by the catalogue's kinds) and run-specific members."""
    if isinstance(kind, kinds.ListOf) and isinstance(value, list):
        return [_kept(v, kind.item) for v in value]
    if isinstance(kind, kinds.Record) and isinstance(value, dict):
        members = kind.members
        return {
            k: _kept(v, members.get(k))
            for k, v in value.items()
            if k not in VOLATILE and not (k in members and members[k].free_text)
        }
    return value


def _events(journal: Path) -> list[dict]:
    """The journal as it must be whatever the secret: ids, statuses, numbers, order."""
    events = [json.loads(line) for line in (journal / "journal.jsonl").read_text().splitlines()]
    kept = []
    for event in events:
        kind = EVENTS[event["event"]]
        members = {name: spec.kind for name, spec in kind.fields.items()}
        kept.append(_kept(event, kinds.record(**members)))
    return kept


def _steps(rows: list[dict]) -> list[tuple]:
    return [(r["step"], r["status"], r.get("attempts")) for r in rows]


def _report(data: dict) -> dict:
    rollback = data["rollback"] or {}
    return {
        "outcome": data["outcome"],
        "exit_code": data["exit_code"],
        "steps": _steps(data["steps"]),
        "rollback": _steps(rollback.get("steps", [])),
        "rollback_status": rollback.get("status"),
        "trigger": rollback.get("trigger"),
    }


def _status(data: dict) -> dict:
    return {
        "phase": data["phase"],
        "outcome": data["outcome"],
        "in_flight": data["in_flight"],
        "steps": [(s["step"], s["status"]) for s in data["steps"]],
        "rollback": data["rollback"] and data["rollback"]["steps"],
    }


@contextlib.contextmanager
def _in_scratch() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="secret-property-"))
    previous = Path.cwd()
    os.chdir(directory)
    try:
        yield directory
    finally:
        os.chdir(previous)
        shutil.rmtree(directory, ignore_errors=True)


def _launch(secret: str) -> dict:
    """Run to the confirmation (paused), then resume one copy and roll back another."""
    env = {"SECRET": secret}
    with _in_scratch() as scratch:
        (scratch / "launch.yaml").write_text(RUNBOOK)
        paused, _ = _cli("run", "launch.yaml", "--no-wait", "--journal", "j", env=env)
        seen = {"run": paused, "paused_events": _events(scratch / "j")}
        status_code, status = _cli("status", "j", "--format", "json", env=env)
        seen["status"] = (status_code, _status(json.loads(status)))
        shutil.copytree(scratch / "j", scratch / "k")
        seen["resume"] = _cli("resume", "j", "--yes", env=env)[0]
        seen["rollback"] = _cli("rollback", "k", "--reason", "by hand", env=env)[0]
        for name in ("j", "k"):
            seen[f"{name}_events"] = _events(scratch / name)
            code, report = _cli("report", name, "--format", "json", env=env)
            seen[f"{name}_report"] = (code, _report(json.loads(report)))
            markdown_code, _ = _cli("report", name, env=env)
            seen[f"{name}_markdown"] = markdown_code
    return seen


BASELINE: dict = {}


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(secret=SECRETS)
@example(secret="deploy")
@example(secret=YEAR)
@example(secret="localhost")
@example(secret="migrate-db")
def test_a_secret_changes_nothing_but_the_free_text_it_masks(secret):
    if not BASELINE:
        BASELINE.update(_launch(NEVER_SEEN))
        assert BASELINE["run"] == 5 and BASELINE["resume"] == 1 and BASELINE["rollback"] == 0
    assert _launch(secret) == BASELINE
