"""The loader's error corpus: every invalid runbook in tests/data/invalid_runbooks/ is
refused with exactly the FILE:LINE:COL diagnostics listed in its expected.yaml, in
process and through the real `launchctl validate` (exit 2, no traceback)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from runbook.errors import EXIT_BAD_INPUT, ValidationFailed
from runbook.v1.loader import load_runbook

CORPUS = Path(__file__).resolve().parent.parent / "data" / "invalid_runbooks"
EXPECTED_FILE = CORPUS / "expected.yaml"
EXPECTED: dict[str, list[str]] = yaml.safe_load(EXPECTED_FILE.read_text(encoding="utf-8"))
CASES = sorted(path.name for path in CORPUS.glob("*.yaml") if path != EXPECTED_FILE)

# A spread of failure layers: the byte decoder, the YAML parser, the tree walker
# (tags, aliases), field conversion, cross-field checks and several at once.
CLI_CASES = [
    "non_utf8_bytes.yaml",
    "yaml_syntax_error.yaml",
    "empty_file.yaml",
    "python_tag.yaml",
    "alias_bomb.yaml",
    "unknown_top_level_key.yaml",
    "offsets_out_of_order.yaml",
    "several_problems.yaml",
    "waves_sizes_as_written.yaml",
    "waves_against_hosts.yaml",
]


def _validate_subprocess(path_arg: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "launchctl.cli", "validate", path_arg],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_corpus_has_at_least_25_cases():
    assert len(CASES) >= 25


def test_every_corpus_file_has_an_expectation_and_every_expectation_a_file():
    assert sorted(EXPECTED) == CASES


def test_every_expectation_lists_at_least_one_diagnostic():
    assert all(isinstance(lines, list) and lines for lines in EXPECTED.values())


@pytest.mark.parametrize("name", CASES)
def test_loader_reports_exactly_the_expected_diagnostics(name: str):
    path = CORPUS / name
    with pytest.raises(ValidationFailed) as failure:
        load_runbook(path)
    diagnostics = failure.value.diagnostics
    assert [f"{d.line}:{d.column}: {d.message}" for d in diagnostics] == EXPECTED[name]
    assert {d.file for d in diagnostics} == {str(path)}
    assert failure.value.lines() == [f"{path}:{line}" for line in EXPECTED[name]]
    assert failure.value.exit_code == EXIT_BAD_INPUT


@pytest.mark.parametrize("name", CLI_CASES)
def test_validate_prints_one_file_line_col_line_per_problem_and_exits_2(name: str):
    result = _validate_subprocess(name, cwd=CORPUS)
    assert result.returncode == EXIT_BAD_INPUT, result.stderr
    assert result.stderr.splitlines() == [f"{name}:{line}" for line in EXPECTED[name]]
    assert result.stdout == ""
    assert "Traceback" not in result.stdout + result.stderr


def test_validate_names_the_file_as_given_on_the_command_line():
    path = CORPUS / "version_2.yaml"
    result = _validate_subprocess(str(path), cwd=CORPUS.parent)
    assert result.returncode == EXIT_BAD_INPUT
    assert result.stderr.splitlines() == [f"{path}:{EXPECTED['version_2.yaml'][0]}"]
    assert "Traceback" not in result.stderr


def test_alias_bomb_is_refused_without_expanding_it():
    started = time.monotonic()
    with pytest.raises(ValidationFailed):
        load_runbook(CORPUS / "alias_bomb.yaml")
    assert time.monotonic() - started < 5
