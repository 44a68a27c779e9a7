"""Every string field of the runbook format renders ``{{ }}`` or refuses it at validate.

The fields come from the JSON Schema (``runbook.v1.document.json_schema``), so a field added to
the format without being resolved fails here. For each one: an unknown name must be refused
at that field's FILE:LINE:COL; a known var must either be refused there too (ids, offsets,
numbers) or reach the resolved launch rendered, with no placeholder left anywhere.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from runbook.errors import ValidationFailed
from runbook.resolve import resolve, stand_in_values
from runbook.v1.document import json_schema
from runbook.v1.loader import load_runbook

KNOWN_VALUE = "RENDERED7"


def _action(name: str) -> dict:
    """What a launch step and a rollback step share, every key given."""
    return {
        "id": name,
        "name": name.title(),
        "run": f"echo {name}",
        "on": "local",
        "timeout": "5m",
        "env": {"PGPASSWORD": "${DB_PASSWORD}"},
        "expect": {"exit": 0, "stdout_contains": name, "stdout_matches": f"{name}.*"},
        "notify": f"{name} now",
    }


# Every key of the format, at least once (each criterion and notify kind included).
MAXIMAL = {
    "version": 1,
    "name": "Maximal launch",
    "t0": "2026-12-01T14:00:00Z",
    "gate": "named.file",
    "vars": {
        "known": KNOWN_VALUE,
        "greeting": "hello",
        "release": {"default": "v1", "pattern": "v[0-9]+"},
    },
    "secrets": ["DB_PASSWORD", "SLACK_URL"],
    "targets": {
        "web": {
            "transport": "ssh",
            "hosts": ["app1", "app2"],
            "user": "deploy",
            "port": 22,
            "parallel": 2,
            "max_fail": 0,
            "waves": [1, "100%"],
            "between_waves": {"hold": "1m", "check": [{"http": "http://{{ host }}:8000/health"}]},
        }
    },
    "ssh": {
        "config": "named.file",
        "known_hosts": "named.file",
        "host_key_policy": "strict",
        "connect_timeout": "10s",
    },
    "prometheus": {"url": "http://127.0.0.1:9090", "scrape_interval": "15s"},
    "notify": [
        {"slack": "${SLACK_URL}", "milestones": ["go_live"]},
        {"webhook": "http://127.0.0.1:9999/hook", "milestones": ["launch_finished"]},
    ],
    "steps": [
        {
            **_action("deploy"),
            "at": "T-10m",
            "check": [
                {
                    "http": "http://127.0.0.1:8000/health",
                    "status": 200,
                    "body_contains": "ok",
                    "timeout": "5s",
                    "on": "web",
                    "within": "1m",
                    "every": "5s",
                },
                {
                    "prometheus": "up",
                    "expect": "> 0",
                    "after": "deploy",
                    "timeout": "5s",
                    "within": "1m",
                    "every": "5s",
                },
                {
                    "prometheus": "up",
                    "expect": "> 0.5x baseline",
                    "baseline": {"from": "T-1h", "to": "T-20m"},
                },
                {
                    "command": "true",
                    "on": "local",
                    "exit": 0,
                    "timeout": "5s",
                    "within": "1m",
                    "every": "5s",
                },
            ],
            "confirm": {"question": "Go?", "timeout": "5m", "on_timeout": "pause"},
            "wait": "1s",
            "on_failure": "rollback",
        },
        {"id": "golive", "at": "T+0", "confirm": "Go live?"},
        {"id": "contract", "at": "T+1m", "run": "true", "irreversible": "drops a column"},
        {
            "id": "rollout",
            "at": "T+2m",
            "on": "web",
            "run": "deploy {{ host }}",
            "parallel": 1,
            "max_fail": "50%",
            "waves": ["50%", "100%"],
            "between_waves": {"hold": "30s", "check": {"command": "true", "on": "web"}},
        },
    ],
    "guards": [
        {
            "id": "errors",
            "name": "Errors",
            "prometheus": "rate(errors[1m])",
            "breach": "> 0.05",
            "every": "15s",
            "for": "30s",
            "during": ["T-5m", "T+30m"],
            "then": "rollback",
            "inconclusive_limit": 3,
            "timeout": "5s",
            "after": "deploy",
        },
        {
            "id": "latency",
            "prometheus": "histogram_quantile(0.95, rate(latency_bucket[1m]))",
            "breach": "> 1.5x baseline",
            "baseline": {"from": "T-30m", "to": "T-10m"},
        },
    ],
    "rollback": [
        {
            **_action("restore"),
            "check": {"command": "true"},
            "if_started": "deploy",
            "if_not_started": "contract",
            "parallel": 3,
            "max_fail": 1,
            "retries": 1,
            "retry_delay": "1s",
        }
    ],
    "roll_forward": [{**_action("flag-off"), "if_started": "contract"}],
    "checkpoints": {
        "check": [
            {"prometheus": "up", "expect": "< 1.2x baseline"},
            {"http": "http://127.0.0.1:8000/health"},
        ],
        "schedule": [
            {"every": "2h", "until": "T+24h"},
            {"from": "T+24h", "every": "4h", "until": "T+48h"},
        ],
        "review": ["T+24h", "T+48h"],
        "then": "notify",
    },
}


def _is_string(schema: dict[str, Any]) -> bool:
    types = schema.get("type")
    if types == "string" or (isinstance(types, list) and "string" in types):
        return True
    if "enum" in schema:
        return True
    return any(_is_string(option) for option in schema.get("anyOf", []))


def string_fields(schema: dict[str, Any], doc: Any, path: tuple, variants: set) -> Iterator[tuple]:
    """Paths (in ``doc``) of every string the schema allows; ``variants`` collects what was seen."""
    if "oneOf" in schema:
        if isinstance(doc, dict):
            matching = [v for v in schema["oneOf"] if set(v.get("required", [None])) <= set(doc)]
        else:
            matching = [v for v in schema["oneOf"] if _is_string(v)]
        assert len(matching) == 1, path
        variants.add(matching[0].get("title", "a string"))
        yield from string_fields(matching[0], doc, path, variants)
        return
    if "anyOf" in schema and isinstance(doc, dict | list):
        kind = "object" if isinstance(doc, dict) else "array"
        branch = next(b for b in schema["anyOf"] if b.get("type") == kind or "oneOf" in b)
        yield from string_fields(branch, doc, path, variants)
        return
    if "properties" in schema:
        for key, sub in schema["properties"].items():
            if key in doc:
                variants.add((schema.get("title"), key))
                yield from string_fields(sub, doc[key], path + (key,), variants)
    elif "additionalProperties" in schema and isinstance(doc, dict):
        for key, value in doc.items():
            yield from string_fields(schema["additionalProperties"], value, path + (key,), variants)
    elif schema.get("type") == "array":
        for index, item in enumerate(doc):
            yield from string_fields(schema["items"], item, path + (index,), variants)
    elif _is_string(schema):
        yield path


def _all_variants(schema: Any) -> set:
    """Every oneOf variant and every (record, key) of the schema."""
    found: set = set()
    if isinstance(schema, dict):
        for variant in schema.get("oneOf", []):
            found.add(variant.get("title", "a string"))
        for key in schema.get("properties", {}):
            found.add((schema.get("title"), key))
        for value in schema.values():
            found |= _all_variants(value)
    elif isinstance(schema, list):
        for value in schema:
            found |= _all_variants(value)
    return found


def _fields() -> list[tuple]:
    schema = json_schema()
    seen: set = set()
    fields = list(string_fields(schema, MAXIMAL, (), seen))
    missing = _all_variants(schema) - seen
    assert not missing, f"the maximal runbook must use every key and variant; add {missing}"
    return fields


FIELDS = _fields()


def _with(path: tuple, value: str) -> dict:
    doc = yaml.safe_load(yaml.safe_dump(MAXIMAL))
    node = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return doc


def _write(workdir: Path, doc: dict, marker: str) -> tuple[Path, str]:
    """The runbook file and the LINE:COL where ``marker`` (a quoted scalar) starts."""
    text = yaml.safe_dump(doc, sort_keys=False, width=1000)
    path = workdir / "launch.yaml"
    path.write_text(text)
    for number, line in enumerate(text.splitlines(), start=1):
        column = line.find(marker)
        if column >= 0:
            quoted = line[column - 1] in "'\""
            return path, f"{number}:{column if quoted else column + 1}"
    raise AssertionError(f"{marker} not written")


@pytest.fixture
def named_files(workdir: Path) -> Path:
    (workdir / "named.file").write_text("")
    (workdir / KNOWN_VALUE).write_text("")
    return workdir


def test_the_maximal_runbook_is_valid(named_files, cli):
    path, _ = _write(named_files, MAXIMAL, "Maximal")
    result = cli("validate", path)
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize("field", FIELDS, ids=lambda p: ".".join(map(str, p)))
def test_an_unknown_name_is_refused_at_the_field(field, named_files, cli):
    path, where = _write(named_files, _with(field, "{{ nosuch }}"), "{{ nosuch }}")
    result = cli("validate", path)
    assert result.exit_code == 2, result.stdout
    assert f"{path}:{where}: " in result.stderr, result.stderr


@pytest.mark.parametrize("field", FIELDS, ids=lambda p: ".".join(map(str, p)))
def test_a_known_var_is_rendered_or_refused_at_the_field(field, named_files):
    path, where = _write(named_files, _with(field, "{{ known }}"), "{{ known }}")
    try:
        book = load_runbook(path)
    except ValidationFailed as failed:
        assert any(str(d).startswith(f"{path}:{where}: ") for d in failed.diagnostics), failed
        return
    resolved = resolve(book, stand_in_values(book))
    strings = list(_strings(resolved))
    assert not [s for s in strings if "{{ known" in s]
    assert [s for s in strings if KNOWN_VALUE in s and s != str(named_files / KNOWN_VALUE)] or (
        field[-1] in ("gate", "config", "known_hosts")
    )


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Path):
        yield str(value)
    elif dataclasses.is_dataclass(value):
        for item in dataclasses.fields(value):
            if item.name not in ("marks", "vars"):
                yield from _strings(getattr(value, item.name))
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _strings(item)
