"""A second terminal acting on a live launch: ``launchctl rollback`` and ``launchctl approve``.

Rollback: with a live driver, leave it a request (an atomically written file
its loop checks several times a second) and wait for it to acknowledge. With
none, take the journal's lock and run the rollback sequence here. Either way
the sequence runs under the journal's lock and only when the journal shows it
has not run, so it runs exactly once even when a request races the driver's
own rollback.

Approve: answer the confirmation the live driver is waiting for, naming the
step it is for (so an answer can never land on a later question), and wait
until the journal shows the driver took it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from launchctl.engine.inbox import (
    APPROVAL_REQUEST_FILE,
    ROLLBACK_REQUEST_FILE,
    leave,
    rollback_request_text,
)
from launchctl.errors import JournalBusy
from launchctl.journal.lock import driver_alive
from launchctl.journal.reader import read_journal
from launchctl.journal.replay import LaunchState, replay
from runbook.errors import EXIT_ROLLED_BACK, Outcome

ACK_SECONDS = 10.0


def _state(journal_dir: Path) -> LaunchState:
    read = read_journal(journal_dir)
    return replay(read.events, read.torn_lines)


def _already(state: LaunchState) -> str | None:
    if state.rollback is not None and state.rollback.status is not None:
        return f"already rolled back ({state.rollback.status}): {state.rollback.reason}"
    return None


def request_rollback(
    journal_dir: Path,
    reason: str,
    echo: Callable[[str], None],
    run_here: Callable[[Path, str, str | None], Outcome | int],
    *,
    by: str,
    force_past_no_return: bool = False,
) -> Outcome | int:
    """Roll back a launch: through its live driver, or here when none is live.

    Past the point of no return a rollback may make things worse; it is refused
    unless ``force_past_no_return`` (and the journal records who forced it).
    """
    journal_dir = journal_dir.absolute()
    state = _state(journal_dir)
    if (done := _already(state)) is not None:
        echo(f"{state.launch_id}: {done}; nothing to do")
        return Outcome.NOTHING_TO_DO
    ponr = state.point_of_no_return
    if ponr is not None and not force_past_no_return:
        echo(
            f"{state.launch_id}: past the point of no return ('{ponr.get('step')}': "
            f"{ponr.get('reason')}); a rollback would not undo it. Roll back anyway with "
            "--force-past-no-return (recorded with your name)"
        )
        return Outcome.BAD_INPUT
    forced = by if ponr is not None else None
    request = rollback_request_text(reason, by, force_past_no_return)
    holder = driver_alive(journal_dir)
    if holder is not None:
        outcome = _ask_driver(journal_dir, request, reason, holder, state.last_seq, echo)
        if outcome is not None:
            return outcome
    try:
        return run_here(journal_dir, reason, forced)
    except JournalBusy:
        # A driver appeared between our look and our lock: hand it the request instead.
        holder = driver_alive(journal_dir) or "a driver"
        outcome = _ask_driver(journal_dir, request, reason, holder, state.last_seq, echo)
        return outcome if outcome is not None else Outcome.BAD_INPUT


def _ask_driver(
    journal_dir: Path,
    request_text: str,
    reason: str,
    holder: str,
    seen: int,
    echo: Callable[[str], None],
) -> Outcome | None:
    """Leave the request and wait for the driver to take it; None when it went away without doing so."""
    request = leave(journal_dir, ROLLBACK_REQUEST_FILE, request_text)
    echo(f"asked the live driver ({holder}) to roll back: {reason}")
    deadline = time.monotonic() + ACK_SECONDS
    while time.monotonic() < deadline:
        events = read_journal(journal_dir).events
        new = [e for e in events if e.get("seq", 0) > seen]
        taken = next(
            (
                e
                for e in new
                if e["event"] in ("rollback_requested", "rollback_started", "rollback_refused")
            ),
            None,
        )
        if taken is not None and taken["event"] == "rollback_refused":
            echo(f"the driver refused: {taken.get('why')}")
            return Outcome.BAD_INPUT
        if taken is not None:
            echo(
                f"the driver started the rollback at {taken['ts']}; follow it with: launchctl status {journal_dir}"
            )
            return Outcome.ROLLBACK_REQUEST_TAKEN
        if driver_alive(journal_dir) is None:
            request.unlink(missing_ok=True)
            echo("the driver stopped without taking the request; rolling back here")
            return None
        time.sleep(0.1)
    echo(
        f"the driver has not acknowledged within {ACK_SECONDS:.0f}s; the request stays in {request}"
    )
    return Outcome.ROLLBACK_REQUEST_UNANSWERED


def rollback_exit_code(engine_code: int) -> Outcome | int:
    """The rollback command did what it was asked when the rollback completed."""
    return Outcome.DONE if engine_code == EXIT_ROLLED_BACK else engine_code


def waiting_question(state: LaunchState) -> dict | None:
    """The question the launch waits on that a second terminal may answer, from its journal."""
    pending: dict | None = None
    for event in state.confirmations:
        if event["event"] == "awaiting_answer":
            pending = event
        elif pending is not None and event.get("step") == pending.get("step"):
            pending = None
    return pending


def request_approval(
    journal_dir: Path, by: str, reject: bool, echo: Callable[[str], None]
) -> Outcome:
    """Answer the live driver's waiting confirmation; exit 0 once the journal shows it taken."""
    journal_dir = journal_dir.absolute()
    state = _state(journal_dir)
    if state.finished is not None:
        echo(
            f"{state.launch_id}: the launch has finished ({state.finished.get('status')}); nothing to approve"
        )
        return Outcome.BAD_INPUT
    pending = waiting_question(state)
    holder = driver_alive(journal_dir)
    if pending is None or holder is None:
        why = (
            "no confirmation is waiting" if pending is None else "no live launch is waiting for it"
        )
        echo(f"{state.launch_id}: {why}; nothing to approve")
        return Outcome.BAD_INPUT
    answer = "no" if reject else "yes"
    step = pending["step"]
    leave(
        journal_dir, APPROVAL_REQUEST_FILE, json.dumps({"step": step, "answer": answer, "by": by})
    )
    verb = "rejected" if reject else "approved"
    echo(
        f"{verb} '{pending.get('question')}' (step {step}) as {by}; waiting for the driver ({holder})"
    )
    deadline = time.monotonic() + ACK_SECONDS
    while time.monotonic() < deadline:
        for event in read_journal(journal_dir).events:
            if event.get("seq", 0) <= state.last_seq or event.get("step") != step:
                continue
            answered = event["event"] in ("confirm_answered", "operator_decision")
            if answered and event.get("how") == "second-terminal":
                echo(f"the driver took the answer at {event['ts']}")
                return Outcome.APPROVAL_TAKEN
            if answered or event["event"] in ("approval_ignored", "question_withdrawn"):
                echo(f"the driver did not take it: {event.get('reason') or event.get('how')}")
                return Outcome.BAD_INPUT
        time.sleep(0.1)
    (journal_dir / APPROVAL_REQUEST_FILE).unlink(missing_ok=True)
    echo(f"the driver has not taken the answer within {ACK_SECONDS:.0f}s; withdrawn")
    return Outcome.BAD_INPUT
