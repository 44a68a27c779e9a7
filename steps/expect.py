"""What "the command worked" means: a result against the step's ``expect``, and the one-line
reason a fan-out failed."""

from __future__ import annotations

import re
from collections.abc import Sequence

from runbook import model
from steps.results import CommandResult


def command_problem(result: CommandResult, expect: model.Expect) -> str | None:
    """Why ``result`` does not meet ``expect``, or None when it does."""
    if result.dry_run:
        return None
    if result.reason:
        return result.reason
    if result.exit_code != expect.exit:
        last = f" (last output: {result.tail[-1]!r})" if result.tail else ""
        return f"exit code {result.exit_code}, expected {expect.exit}{last}"
    if expect.stdout_contains is not None and expect.stdout_contains not in result.stdout:
        return f"output does not contain {expect.stdout_contains!r}"
    if expect.stdout_matches is not None and not re.search(
        expect.stdout_matches, result.stdout, re.MULTILINE
    ):
        return f"output does not match /{expect.stdout_matches}/"
    return None


def hosts_failure(failures: Sequence[tuple[CommandResult, str]], per_host: bool) -> str:
    """``on app2: exit code 1, expected 0 (and 3 more hosts)``: the first failure names the rest."""
    result, problem = failures[0]
    names_host = problem.startswith((f"{result.host}:", f"{result.host} ("))
    where = f"on {result.host}: " if per_host and not names_host else ""
    more = f" (and {len(failures) - 1} more hosts)" if len(failures) > 1 else ""
    return f"{where}{problem}{more}"
