"""The person at the keyboard, or the absence of one.

The engine asks questions through an ``Operator``; ``TerminalOperator`` asks a
human, ``HeadlessOperator`` answers by the rules of SPEC section 2: with no
terminal, ``ask`` means rollback, ``confirm`` means yes only with ``--yes``
and otherwise pauses the launch.
"""

from __future__ import annotations

import contextlib
from typing import Any, Protocol

import click


class Operator(Protocol):
    interactive: bool

    def confirm(self, question: str) -> str:
        """'yes', or what to do instead: rollback | pause | skip."""
        ...

    def on_failure(self, step_id: str, reason: str) -> str:
        """rollback | retry | continue | pause"""
        ...

    def interrupted(self, phase: str) -> str:
        """After Ctrl-C: rollback | pause | continue (during rollback: pause | continue)."""
        ...

    def rerun_in_flight(self, step_id: str) -> str:
        """On resume: rerun | skip | rollback | pause."""
        ...

    def guard_alert(self, guard_id: str, reason: str) -> str:
        """A guard with ``then: ask`` (or blind too long): rollback | continue | pause."""
        ...


class HeadlessOperator:
    interactive = False

    def __init__(self, yes: bool) -> None:
        self.yes = yes

    def confirm(self, question: str) -> str:
        return "yes" if self.yes else "pause"

    def on_failure(self, step_id: str, reason: str) -> str:
        return "rollback"

    def interrupted(self, phase: str) -> str:
        return "pause"

    def rerun_in_flight(self, step_id: str) -> str:
        return "rerun" if self.yes else "pause"

    def guard_alert(self, guard_id: str, reason: str) -> str:
        return "rollback"


def _choose(prompt: str, choices: list[str], default: str) -> str:
    click.echo("")
    return click.prompt(
        prompt, type=click.Choice(choices), default=default, show_choices=True, err=True
    )


class TerminalOperator:
    """Asks a person; the display is paused while a question is on screen."""

    interactive = True

    def __init__(self, display: Any = None) -> None:
        self.display = display

    def _paused(self) -> Any:
        return self.display.paused() if self.display is not None else contextlib.nullcontext()

    def confirm(self, question: str) -> str:
        with self._paused():
            return self._confirm(question)

    def _confirm(self, question: str) -> str:
        if click.confirm(click.style(f"\n? {question}", bold=True), default=False, err=True):
            return "yes"
        return _choose(
            "Not confirmed. What now?", ["rollback", "pause", "skip", "ask-again"], "pause"
        ).replace("ask-again", "again")

    def on_failure(self, step_id: str, reason: str) -> str:
        with self._paused():
            return self._on_failure(step_id, reason)

    def _on_failure(self, step_id: str, reason: str) -> str:
        click.secho(f"\n! step {step_id} failed: {reason}", fg="red", bold=True, err=True)
        return _choose("What now?", ["rollback", "retry", "continue", "pause"], "rollback")

    def interrupted(self, phase: str) -> str:
        with self._paused():
            return self._interrupted(phase)

    def _interrupted(self, phase: str) -> str:
        click.secho("\n^C launch interrupted", fg="yellow", bold=True, err=True)
        if phase == "rollback":
            return _choose("The rollback is running. What now?", ["continue", "pause"], "continue")
        if phase == "monitoring":
            return _choose(
                "Monitoring guards. What now?", ["rollback", "pause", "continue", "end"], "continue"
            )
        return _choose("What now?", ["rollback", "pause", "continue"], "continue")

    def rerun_in_flight(self, step_id: str) -> str:
        with self._paused():
            return self._rerun_in_flight(step_id)

    def _rerun_in_flight(self, step_id: str) -> str:
        click.secho(
            f"\n! step {step_id} was in flight when the launch stopped",
            fg="yellow",
            bold=True,
            err=True,
        )
        return _choose("Re-run it?", ["rerun", "skip", "rollback", "pause"], "rerun")

    def guard_alert(self, guard_id: str, reason: str) -> str:
        with self._paused():
            return self._guard_alert(guard_id, reason)

    def _guard_alert(self, guard_id: str, reason: str) -> str:
        click.secho(f"\n! {reason}", fg="red", bold=True, err=True)
        return _choose("Roll back?", ["rollback", "continue", "pause"], "rollback")
