"""The one exception tree of launchctl.

Every error a user can cause or meet derives from ``LaunchctlError`` and carries
the process exit code the CLI maps it to at its single boundary (the exit-code table in README.md).
It lives in ``runbook`` because every other package may import from here.

    LaunchctlError                 exit_code chosen by the raiser
    ├── InputError                 2: bad runbook / checklist / targets / option
    │   └── ValidationFailed       2: one or more FILE:LINE:COL diagnostics
    ├── JournalBusy                2: another process drives this journal
    └── ...                        engine-level errors live in launchctl.errors
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EXIT_OK = 0
EXIT_ROLLED_BACK = 1
EXIT_BAD_INPUT = 2
EXIT_ROLLBACK_INCOMPLETE = 3
EXIT_NO_GO = 4
EXIT_PAUSED = 5


class LaunchctlError(Exception):
    """Base of every error launchctl reports to a user; ``exit_code`` is what the CLI exits with."""

    exit_code: int = 1

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def lines(self) -> list[str]:
        """The lines to print for this error, one per problem."""
        return [self.message]


class InputError(LaunchctlError):
    """Bad input from the user: a file, an option, a value. Always exit 2."""

    exit_code = EXIT_BAD_INPUT


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem in an input file, located as the YAML parser saw it (1-based)."""

    file: str
    line: int
    column: int
    message: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", printable(self.message))

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Text from an input file made safe for one terminal line: control characters escaped.

    A key spelled with a newline must not split a diagnostic in two, and an
    escape sequence in a value must not repaint the operator's terminal.
    """
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class ValidationFailed(InputError):
    """An input file has problems; ``diagnostics`` holds every one found, in file order."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))

    def lines(self) -> list[str]:
        return [str(d) for d in self.diagnostics]
