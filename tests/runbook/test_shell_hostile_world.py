"""The hostile-world corpus (``tests/data/hostile_world/``): one case per file, a command
template and its values, and either the refusal expected or the exact script expected.

An accepted case is proven harmless by running it: with ``/bin/sh`` and ``bash`` in an
empty directory it must print exactly the expected text and create no file (every hostile
value tries ``touch pwned``).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from runbook.shell.template import render_shell_command
from runbook.templating import TemplateError

CORPUS = Path(__file__).resolve().parent.parent / "data" / "hostile_world"
CASES = sorted(CORPUS.glob("*.yaml"))
SHELLS = [shell for shell in ("/bin/sh", shutil.which("bash")) if shell]


def _case(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_the_corpus_has_both_refusals_and_runs():
    kinds = {"refused" in _case(path) for path in CASES}
    assert len(CASES) >= 30 and kinds == {True, False}


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_hostile_world_case(path: Path, tmp_path: Path):
    case = _case(path)
    if "refused" in case:
        with pytest.raises(TemplateError) as refusal:
            render_shell_command(case["command"], case["values"], case.get("patterns"))
        assert case["refused"] in str(refusal.value)
        return
    command = render_shell_command(case["command"], case["values"], case.get("patterns"))
    assert command.script == case["script"]
    assert command.display == command.script
    for shell in SHELLS:
        workdir = tmp_path / Path(shell).name
        workdir.mkdir()
        result = subprocess.run(
            [shell, "-c", command.script],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=10,
            env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent-home"},
        )
        assert result.stdout == case["stdout"], (shell, result.stderr)
        assert list(workdir.iterdir()) == [], f"{shell} created files: a value became code"
