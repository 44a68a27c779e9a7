"""Questions the launch asks a person, as values; who may answer them, and how.

A question is never a blocking call: the launch loop shows it, keeps
watching guards, signals and the second terminal while it is open, and
takes the answer as one more input. So a breach can withdraw a question
nobody is answering. ``TerminalPrompter`` shows questions on the terminal
and reads answers from stdin when the loop says a line is there;
``HeadlessRules`` answers by the rules of the runbook format when nobody
can: with no terminal, ``ask`` means rollback and ``confirm`` means yes only
with ``--yes`` (otherwise the launch pauses, or waits for ``launchctl
approve`` until the confirmation's timeout).
"""

from __future__ import annotations

import contextlib
import os
import sys
import termios
import time
from dataclasses import dataclass, field
from typing import Any

import click


@dataclass
class Question:
    """One question. ``holds`` questions (Ctrl-C menu, guard alerts) stop the timeline until answered."""

    kind: str  # confirm | not-confirmed | on-failure | interrupt | guard | in-flight | held | leave | checkpoint
    text: str
    choices: tuple[str, ...]
    default: str | None = None
    step: str | None = None
    holds: bool = False
    timeout: float | None = None  # real seconds; None waits for ever
    on_timeout: str | None = None
    remote: bool = False  # ``launchctl approve`` may answer it
    opened: float = field(default_factory=time.monotonic)

    @property
    def expires(self) -> float | None:
        return None if self.timeout is None else self.opened + self.timeout


@dataclass(frozen=True)
class Answer:
    value: str
    by: str
    how: str  # terminal | second-terminal | --yes | timeout | rules


class HeadlessRules:
    """The answers nobody types: what the launch does on its own when there is no terminal."""

    interactive = False

    def __init__(self, yes: bool) -> None:
        self.yes = yes

    def answer(self, question: Question) -> tuple[str, str] | None:
        """(answer, how), or None when the question must wait (for a second terminal or its timeout)."""
        kind = question.kind
        if kind in ("caution", "past-no-return"):
            return None  # a person must decide: a terminal or a second terminal, never a rule
        if kind == "confirm":
            if self.yes:
                return "yes", "--yes"
            return None if question.timeout is not None else ("pause", "rules")
        if kind == "in-flight":
            return ("rerun", "--yes") if self.yes else ("pause", "rules")
        if kind == "interrupt":
            return "pause", "rules"
        return {"on-failure": "rollback", "guard": "rollback", "leave": "yes"}.get(
            kind, question.default or question.choices[0]
        ), "rules"


class TerminalPrompter:
    """Shows questions on stderr and reads one answer line at a time from stdin.

    The live view is paused while a question is on screen. Only the newest
    open question is shown; when it closes, the one beneath is shown again.
    """

    interactive = True

    def __init__(self, display: Any = None, stdin_fd: int | None = None) -> None:
        self.display = display
        self.fd = sys.stdin.fileno() if stdin_fd is None else stdin_fd
        self._buffer = b""
        self._paused: contextlib.ExitStack | None = None

    def show(self, question: Question) -> None:
        self._pause_display()
        with contextlib.suppress(termios.error, OSError):
            termios.tcflush(self.fd, termios.TCIFLUSH)  # typed-ahead text answers nothing
        self._buffer = b""
        click.echo("", err=True)
        if question.kind in ("guard", "on-failure", "past-no-return", "checkpoint"):
            click.secho(f"! {question.text}", fg="red", bold=True, err=True)
        elif question.kind in ("interrupt", "in-flight", "held"):
            click.secho(f"{question.text}", fg="yellow", bold=True, err=True)
        click.echo(self._prompt_line(question), nl=False, err=True)

    def _prompt_line(self, question: Question) -> str:
        if question.kind in ("confirm", "leave", "caution"):
            line = click.style(f"? {question.text}", bold=True) + " [y/N]: "
        else:
            label = {
                "not-confirmed": "Not confirmed. What now?",
                "on-failure": "What now?",
                "guard": "Roll back?",
                "in-flight": "Re-run it?",
                "held": "What now?",
                "past-no-return": "A person must decide. What now?",
                "checkpoint": "A checkpoint failed. What now?",
            }.get(question.kind, "")
            if question.kind == "interrupt":
                label = question.text.split("\n")[-1]
            choices = ", ".join(question.choices)
            default = f" [{question.default}]" if question.default else ""
            line = f"{label} ({choices}){default}: "
        if question.expires is not None:
            left = max(0, question.expires - time.monotonic())
            line = f"(answer within {left:.0f}s, else {question.on_timeout}) " + line
        return line

    def read(self, question: Question) -> str | None:
        """Called when stdin is readable: the answer once a valid line is in, else None."""
        try:
            chunk = os.read(self.fd, 4096)
        except (BlockingIOError, InterruptedError):
            return None
        if not chunk:
            raise EOFError("the terminal closed")
        self._buffer += chunk
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            answer = self._parse(question, line.decode(errors="replace").strip())
            if answer is not None:
                return answer
            click.echo(f"Error: answer one of: {', '.join(self._accepted(question))}", err=True)
            click.echo(self._prompt_line(question), nl=False, err=True)
        return None

    @staticmethod
    def _accepted(question: Question) -> tuple[str, ...]:
        return ("y", "n") if question.kind in ("confirm", "leave", "caution") else question.choices

    @staticmethod
    def _parse(question: Question, text: str) -> str | None:
        text = text.lower()
        if question.kind in ("confirm", "leave", "caution"):
            if text in ("y", "yes"):
                return "yes"
            if text in ("", "n", "no"):
                return "no"
            return None
        if not text and question.default:
            return question.default
        return text if text in question.choices else None

    def close(self, question: Question, why: str | None = None) -> None:
        """The question is answered or withdrawn; ``why`` says why it was withdrawn."""
        if why:
            click.secho(f"\n(question withdrawn: {why})", fg="yellow", err=True)
        self._resume_display()

    def _pause_display(self) -> None:
        if self._paused is None and self.display is not None:
            self._paused = contextlib.ExitStack()
            self._paused.enter_context(self.display.paused())

    def _resume_display(self) -> None:
        if self._paused is not None:
            self._paused.close()
            self._paused = None
