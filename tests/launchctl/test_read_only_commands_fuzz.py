"""Commands that act on nothing (plan, validate, status, report, schema, gate) never end in the
internal-error code, whatever odd input they are given: a runbook, checklist or journal with any
field replaced by an odd value, odd option values. Each ends 0, 1, 2 or 4, without a traceback."""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from launchctl.cli import run_cli

ACCEPTABLE = {0, 1, 2, 4}
FUZZ = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

RUNBOOK = {
    "version": 1,
    "name": "Fuzz {{ release }}",
    "t0": "2026-12-01T14:00:00Z",
    "vars": {"release": "v1"},
    "secrets": ["TOKEN"],
    "notify": [{"webhook": "http://127.0.0.1:9/${TOKEN}"}],
    "prometheus": {"url": "http://127.0.0.1:9"},
    "steps": [
        {"id": "pre", "at": "T-10m", "run": "echo {{ release }}", "timeout": "1m"},
        {
            "id": "go",
            "at": "T+0",
            "confirm": "Go {{ release }}?",
            "check": [{"http": "http://127.0.0.1:9/x", "within": "1m", "every": "5s"}],
        },
    ],
    "guards": [
        {"id": "err", "prometheus": "up", "breach": "> 0.5", "during": ["T+0", "T+5m"]},
    ],
    "rollback": [{"id": "undo", "if_started": "pre", "run": "echo undo"}],
}

CHECKLIST = {
    "checklist": "Readiness",
    "items": [
        {"id": "A", "category": "c", "title": "t", "critical": True, "status": "PASS"},
        {"id": "B", "category": "c", "title": "t", "critical": False, "status": "PARTIAL"},
    ],
    "risks": [{"id": "R", "title": "t", "likelihood": "LOW", "impact": "HIGH", "mitigated": True}],
    "signoffs": [{"role": "CTO", "name": "x", "signed": True}],
}

ODD_SCALARS = st.sampled_from(
    [
        None,
        "",
        "~",
        0,
        -1,
        10**30,
        1e308,
        float("inf"),
        True,
        "T+9999999h",
        "T-0",
        "{{ nope }}",
        "{{",
        "${UNSET_X}",
        "\x1b]0;title\x07",
        "a\x00b",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "2026-13-45",
        "x" * 5000,
        "ünïcödé ☃",
        [],
        {},
        [None],
        {"a": {"b": []}},
    ]
)
ODD = st.one_of(ODD_SCALARS, st.text(max_size=30), st.integers(), st.floats())


def _paths(data, prefix=()):
    """Every path to a value inside nested dicts and lists."""
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _paths(value, (*prefix, index))


def _replace(data, path, value):
    if not path:
        return value
    copy = json.loads(json.dumps(data))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


def mutated(document):
    paths = list(_paths(document))
    return st.tuples(st.sampled_from(paths), ODD).map(lambda pv: _replace(document, *pv))


def _run(*args: str) -> tuple[int, str]:
    from click.testing import CliRunner

    runner = CliRunner()
    with runner.isolation(env={"TOKEN": "tok-12345"}) as (_out, err, _):
        code = run_cli([str(a) for a in args])
        return code, err.getvalue().decode(errors="replace")


def _assert_no_bug(code: int, stderr: str, what) -> None:
    assert code in ACCEPTABLE, (code, stderr, what)
    assert "internal error" not in stderr and "Traceback" not in stderr, (stderr, what)


@contextlib.contextmanager
def scratch_dir() -> Iterator[Path]:
    """A fresh directory per example (hypothesis runs many examples in one test call)."""
    directory = Path(tempfile.mkdtemp(prefix="fuzz-"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _write_yaml(directory: Path, name: str, data) -> Path:
    path = directory / name
    try:
        path.write_text(yaml.safe_dump(data, allow_unicode=True))
    except (yaml.YAMLError, ValueError):
        path.write_text(str(data))
    return path


@FUZZ
@given(document=mutated(RUNBOOK), t0=st.one_of(st.none(), st.text(max_size=25), ODD_SCALARS))
def test_validate_and_plan_never_fail_as_a_bug(document, t0):
    with scratch_dir() as scratch:
        _validate_and_plan(scratch, document, t0)


def _validate_and_plan(scratch: Path, document, t0) -> None:
    runbook = _write_yaml(scratch, "launch.yaml", document)
    code, err = _run("validate", runbook)
    _assert_no_bug(code, err, document)
    plan = ["plan", runbook] + ([] if t0 is None else [f"--t0={t0}"])
    code, err = _run(*plan)
    _assert_no_bug(code, err, (document, t0))


@FUZZ
@given(text=st.text(max_size=300), var=st.text(max_size=40))
def test_validate_and_plan_take_any_text_as_a_runbook(text, var):
    with scratch_dir() as scratch:
        runbook = scratch / "launch.yaml"
        runbook.write_text(text)
        for args in (("validate", runbook), ("plan", runbook, "--var", var)):
            code, err = _run(*args)
            _assert_no_bug(code, err, (text, var))


@FUZZ
@given(document=mutated(CHECKLIST), fmt=st.sampled_from(["text", "json"]))
def test_gate_never_fails_as_a_bug(document, fmt):
    with scratch_dir() as scratch:
        checklist = _write_yaml(scratch, "checklist.yaml", document)
        code, err = _run("gate", checklist, "--format", fmt)
        _assert_no_bug(code, err, document)


@pytest.fixture(scope="module")
def recorded_journal(tmp_path_factory) -> list[dict]:
    """A real dry-run journal (guards, confirmation, rollback plan) to mutate."""
    directory = tmp_path_factory.mktemp("journal")
    runbook = directory / "launch.yaml"
    runbook.write_text(yaml.safe_dump(RUNBOOK))
    code, err = _run("run", runbook, "--dry-run", "--journal", directory / "j")
    assert code == 0, err
    lines = (directory / "j" / "journal.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


@FUZZ
@given(data=st.data())
def test_status_and_report_never_fail_as_a_bug(recorded_journal, data):
    events = list(recorded_journal)
    index = data.draw(st.integers(0, len(events) - 1))
    events[index] = data.draw(mutated(events[index]))
    if data.draw(st.booleans()):
        events = data.draw(st.permutations(events))
    with scratch_dir() as journal:
        text = "".join(json.dumps(e, default=str) + "\n" for e in events)
        (journal / "journal.jsonl").write_text(text)
        _status_and_report(journal, events[index])


def _status_and_report(journal: Path, changed) -> None:
    for args in (
        ("status", journal),
        ("status", journal, "--format", "json"),
        ("report", journal),
        ("report", journal, "--format", "json"),
        ("report", journal, "--format", "html"),
    ):
        code, err = _run(*args)
        _assert_no_bug(code, err, (args, changed))


def test_schema_ends_well():
    code, err = _run("schema")
    assert code == 0 and err == ""
