"""The one exception tree of launchctl.

Every error a user can cause or meet derives from ``LaunchctlError`` and carries
the outcome the CLI maps to an exit code at its single boundary (the exit-code table
in README.md). Beside the tree sits that table: ``ExitCode`` says what each code
means to the person or script reading it, ``Outcome`` names everything a command
can end in, and ``exit_code_for`` is the only place an outcome becomes a code. It
lives in ``runbook`` because every other package may import from here.

    LaunchctlError                 exit_code chosen by the raiser
    ├── InputError                 2: bad runbook / checklist / targets / option
    │   └── ValidationFailed       2: one or more FILE:LINE:COL diagnostics
    ├── JournalBusy                2: another process drives this journal
    └── ...                        engine-level errors live in launchctl.errors
"""

from __future__ import annotations

import re
from enum import IntEnum, StrEnum

from runbook.values import value


class ExitCode(IntEnum):
    """What a launchctl process's exit status tells whoever started it (README, "Exit codes")."""

    OK = 0
    """Done as planned: launch completed, drill's rollback completed, gate GO, file valid."""
    SETBACK = 1
    """Done, not as planned, nobody needs to act now: rolled back and restored (or rolled
    forward past the point of no return), GO WITH CAUTION, a preflight problem."""
    BAD_INPUT = 2
    """Bad input: an unreadable or invalid file, a bad option value, a journal in use."""
    ROLLBACK_INCOMPLETE = 3
    """A rollback (or roll-forward) failed or did not finish: a person must act."""
    NO_GO = 4
    """Refused by the go/no-go gate."""
    PAUSED = 5
    """Paused or aborted by the operator (or the journal could not be written); resumable."""
    INTERNAL_ERROR = 70
    """A bug in launchctl (sysexits' EX_SOFTWARE); the journal, if any, is intact."""
    INTERRUPTED = 130
    """Ctrl-C outside a launch (a launch turns Ctrl-C into its own menu)."""


class Outcome(StrEnum):
    """Every way a command can end. A launch's ``launch_finished`` status is one of these."""

    COMPLETED = "completed"
    ROLLED_BACK = "rolled_back"
    ROLLED_FORWARD = "rolled_forward"
    ROLLBACK_INCOMPLETE = "rollback_incomplete"
    ROLL_FORWARD_INCOMPLETE = "roll_forward_incomplete"
    PAUSED = "paused"
    REFUSED_BY_GATE = "refused_by_gate"
    GATE_GO = "gate_go"
    GATE_CAUTION = "gate_caution"
    GATE_NO_GO = "gate_no_go"
    PREFLIGHT_PASSED = "preflight_passed"
    PREFLIGHT_PROBLEM = "preflight_problem"
    DRILL_ROLLBACK_COMPLETE = "drill_rollback_complete"
    ROLLBACK_REQUEST_TAKEN = "rollback_request_taken"
    ROLLBACK_REQUEST_UNANSWERED = "rollback_request_unanswered"
    APPROVAL_TAKEN = "approval_taken"
    NOTHING_TO_DO = "nothing_to_do"
    DONE = "done"
    BAD_INPUT = "bad_input"
    INTERRUPTED = "interrupted"
    INTERNAL_ERROR = "internal_error"


_EXIT_CODES: dict[Outcome, ExitCode] = {
    Outcome.COMPLETED: ExitCode.OK,
    Outcome.ROLLED_BACK: ExitCode.SETBACK,
    Outcome.ROLLED_FORWARD: ExitCode.SETBACK,
    Outcome.ROLLBACK_INCOMPLETE: ExitCode.ROLLBACK_INCOMPLETE,
    Outcome.ROLL_FORWARD_INCOMPLETE: ExitCode.ROLLBACK_INCOMPLETE,
    Outcome.PAUSED: ExitCode.PAUSED,
    Outcome.REFUSED_BY_GATE: ExitCode.NO_GO,
    Outcome.GATE_GO: ExitCode.OK,
    Outcome.GATE_CAUTION: ExitCode.SETBACK,
    Outcome.GATE_NO_GO: ExitCode.NO_GO,
    Outcome.PREFLIGHT_PASSED: ExitCode.OK,
    Outcome.PREFLIGHT_PROBLEM: ExitCode.SETBACK,
    Outcome.DRILL_ROLLBACK_COMPLETE: ExitCode.OK,
    Outcome.ROLLBACK_REQUEST_TAKEN: ExitCode.OK,
    Outcome.ROLLBACK_REQUEST_UNANSWERED: ExitCode.ROLLBACK_INCOMPLETE,
    Outcome.APPROVAL_TAKEN: ExitCode.OK,
    Outcome.NOTHING_TO_DO: ExitCode.BAD_INPUT,
    Outcome.DONE: ExitCode.OK,
    Outcome.BAD_INPUT: ExitCode.BAD_INPUT,
    Outcome.INTERRUPTED: ExitCode.INTERRUPTED,
    Outcome.INTERNAL_ERROR: ExitCode.INTERNAL_ERROR,
}


def exit_code_for(outcome: Outcome | ExitCode | int | None) -> ExitCode:
    """The one mapping from how a command ended to the process's exit code.

    Engine results that are already codes pass through (checked against the
    table, so a stray integer cannot leave the process); ``None`` is a command
    that printed what it was asked to.
    """
    if outcome is None:
        return ExitCode.OK
    if isinstance(outcome, Outcome):
        return _EXIT_CODES[outcome]
    return ExitCode(outcome)


# The names the engine uses for a launch's ends, all read from the one table.
EXIT_OK = exit_code_for(Outcome.COMPLETED)
EXIT_ROLLED_BACK = exit_code_for(Outcome.ROLLED_BACK)
EXIT_BAD_INPUT = exit_code_for(Outcome.BAD_INPUT)
EXIT_ROLLBACK_INCOMPLETE = exit_code_for(Outcome.ROLLBACK_INCOMPLETE)
EXIT_NO_GO = exit_code_for(Outcome.REFUSED_BY_GATE)
EXIT_PAUSED = exit_code_for(Outcome.PAUSED)


class LaunchctlError(Exception):
    """Base of every error launchctl reports to a user; ``exit_code`` is what the CLI exits with."""

    exit_code: ExitCode = ExitCode.SETBACK

    def __init__(self, message: str, exit_code: ExitCode | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = ExitCode(exit_code)

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def lines(self) -> list[str]:
        """The lines to print for this error, one per problem."""
        return [self.message]


class InputError(LaunchctlError):
    """Bad input from the user: a file, an option, a value. Always exit 2."""

    exit_code = EXIT_BAD_INPUT


@value(order=True)
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
