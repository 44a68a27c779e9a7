"""Hostile and broken runbooks: a clear FILE:LINE:COL error, quickly, in bounded memory; never a
traceback, never a hang. Mutations of valid runbooks are generated with hypothesis."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runbook.errors import InputError, ValidationFailed
from runbook.v1.loader import load_runbook

VALID = """version: 1
name: Mutated launch
vars: {release: v1.4.0, api: "http://127.0.0.1:8000"}
secrets: [DB_PASSWORD]
prometheus: {url: "http://127.0.0.1:9090"}
targets:
  api: {hosts: [app1, app2], parallel: 2, max_fail: "50%"}
steps:
  - id: migrate
    at: T-15m
    run: alembic upgrade {{ release }}
    env: {PGPASSWORD: "${DB_PASSWORD}"}
    timeout: 10m
    expect: {exit: 0, stdout_contains: head}
  - id: health
    at: T-5m
    check:
      - http: "{{ api }}/health"
        within: 2m
        every: 5s
  - id: golive
    at: T+0
    confirm: Go live with {{ release }}?
    run: ./cutover.sh
    on: api
guards:
  - {id: errors, prometheus: "sum(rate(x[5m]))", breach: "> 0.05", every: 15s, for: 1m, during: [T+0, T+30m]}
rollback:
  - {id: announce, notify: "ROLLBACK {{ rollback.reason }}"}
  - {id: restore, if_started: migrate, run: alembic downgrade -1, retries: 2}
"""

HOSTILE = {
    "deep_sequence": "version: 1\nname: x\nvars: {a: "
    + "[" * 5000
    + "]" * 5000
    + "}\nsteps: [{id: a, at: T+0, notify: hi}]\n",
    "deep_mapping": "version: 1\nname: x\nsteps: [{id: a, at: T+0, notify: hi}]\nx: "
    + "{a: " * 3000
    + "1"
    + "}" * 3000
    + "\n",
    "absurd_integer": "version: 1\nname: x\nsteps: [{id: a, at: T+0, run: 'true', timeout: "
    + "9" * 20000
    + "}]\n",
    "infinite_timeout": "version: 1\nname: x\nsteps: [{id: a, at: T+0, run: 'true', timeout: .inf}]\n",
    "nan_timeout": "version: 1\nname: x\nsteps: [{id: a, at: T+0, run: 'true', timeout: .nan}]\n",
    "huge_offset": "version: 1\nname: x\nsteps: [{id: a, at: T+99999999999999h, notify: hi}]\n",
    "enormous_string": "version: 1\nname: "
    + "x" * 3_000_000
    + "\nsteps: [{id: a, at: T+0, notify: hi}]\n",
    "billion_laughs": "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n"
    + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=False)
    )
    + "version: 1\nname: x\nsteps: [{id: a, at: T+0, notify: hi}]\n",
    "python_object": "version: 1\nname: !!python/object/apply:os.system ['touch /tmp/pwned']\nsteps: []\n",
    "non_scalar_var": "version: 1\nname: x\nvars: {a: {b: c}}\nsteps: [{id: a, at: T+0, notify: hi}]\n",
    "nul_byte": "version: 1\nname: x\x00\nsteps: [{id: a, at: T+0, notify: hi}]\n",
    "escape_sequence": 'version: 1\nname: x\n"\\e[2Jkey": 1\nsteps: [{id: a, at: T+0, notify: hi}]\n',
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_runbook_is_refused_without_hanging_in_bounded_memory(name, tmp_path):
    """A hang guard, not a speed test (speed lives in tests/perf/): a parser that went
    exponential would take minutes, not the ten seconds allowed on a loaded CI machine."""
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(HOSTILE[name].encode())
    code = (
        "import resource,sys,time; from launchctl.cli import run_cli; t=time.monotonic();"
        f"c=run_cli(['validate', {str(path)!r}]); "
        "print('STATS', c, time.monotonic()-t, [int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')][0], file=sys.stderr)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30
    )
    assert "Traceback" not in result.stderr
    stats = result.stderr.strip().splitlines()[-1].split()
    exit_code, seconds, max_rss_kib = int(stats[1]), float(stats[2]), int(stats[3])
    assert exit_code == 2, result.stderr
    assert seconds < 10.0, f"took {seconds:.2f}s"
    assert max_rss_kib < 300_000, f"used {max_rss_kib} KiB"
    lines = result.stderr.strip().splitlines()[:-1]
    assert lines and all(line.startswith(str(path) + ":") for line in lines), lines
    assert not Path("/tmp/pwned").exists()


def test_escape_sequences_from_the_file_never_reach_the_terminal(tmp_path, cli):
    path = tmp_path / "escape.yaml"
    path.write_bytes(HOSTILE["escape_sequence"].encode())
    result = cli("validate", path)
    assert result.exit_code == 2 and "\x1b" not in result.stderr and "\\x1b[2Jkey" in result.stderr


MUTATIONS = st.sampled_from(["delete", "duplicate", "insert", "replace", "swap_lines", "truncate"])
JUNK = st.sampled_from(
    [
        ":",
        "- ",
        "{",
        "}",
        "[",
        "]",
        "&a",
        "*a",
        "!!binary",
        "!x",
        "'",
        '"',
        "{{",
        "}}",
        "${X}",
        "T+",
        "\t",
        "#",
        "\\",
        "%",
        "@",
        "`",
        "\u0085",
        "\ufeff",
        "~",
        "null",
        "yes",
        "1e999",
        "-1",
        "0x10",
        "10m",
        "T-1h",
        "<<: *a",
    ]
)


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_runbooks_load_or_fail_with_located_errors(data, tmp_path_factory):
    text = VALID
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(MUTATIONS)
        position = data.draw(st.integers(0, max(len(text) - 1, 0)))
        if kind == "delete":
            text = text[:position] + text[position + data.draw(st.integers(1, 20)) :]
        elif kind == "duplicate":
            text = text[:position] + text[position : position + 30] + text[position:]
        elif kind == "insert":
            text = text[:position] + data.draw(JUNK) + text[position:]
        elif kind == "replace":
            text = text[:position] + data.draw(JUNK) + text[position + 1 :]
        elif kind == "swap_lines":
            lines = text.split("\n")
            i, j = (
                data.draw(st.integers(0, len(lines) - 1)),
                data.draw(st.integers(0, len(lines) - 1)),
            )
            lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
        else:
            text = text[:position]
    path = tmp_path_factory.mktemp("mut") / "launch.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    started = time.monotonic()
    try:
        load_runbook(path)
    except ValidationFailed as failure:
        assert failure.exit_code == 2 and failure.diagnostics
        for diagnostic in failure.diagnostics:
            assert diagnostic.line >= 1 and diagnostic.column >= 1 and diagnostic.message
            assert "\n" not in diagnostic.message
    except InputError as failure:
        assert failure.exit_code == 2
    assert time.monotonic() - started < 1.0


def test_a_few_mutations_through_the_real_cli_exit_0_or_2_without_traceback(tmp_path):
    variants = [
        VALID.replace("T-15m", "T-15x"),
        VALID.replace("  - id: health", "  - id: health\n  - id: health"),
        VALID[:300],
        VALID,
    ]
    for index, text in enumerate(variants):
        path = tmp_path / f"v{index}.yaml"
        path.write_text(text)
        result = subprocess.run(
            [sys.executable, "-m", "launchctl.cli", "validate", str(path)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode in (0, 2) and "Traceback" not in result.stderr
    assert result.returncode == 0
