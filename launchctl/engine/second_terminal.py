"""``launchctl rollback JOURNAL_DIR --reason TEXT``: roll a launch back from a second terminal.

With a live driver, leave it a request (an atomically written file it checks
several times a second) and wait for it to acknowledge. With none, take the
journal's lock and run the rollback sequence here. Either way the sequence
runs under the journal's lock and only when the journal shows it has not run,
so it runs exactly once even when a request races the driver's own rollback.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from launchctl.engine.engine import ROLLBACK_REQUEST_FILE
from launchctl.errors import JournalBusy
from launchctl.journal.lock import driver_alive
from launchctl.journal.reader import read_journal
from launchctl.journal.replay import LaunchState, replay
from runbook.errors import EXIT_BAD_INPUT, EXIT_OK, EXIT_ROLLBACK_INCOMPLETE, EXIT_ROLLED_BACK

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
    run_here: Callable[[Path, str], int],
) -> int:
    journal_dir = journal_dir.absolute()
    state = _state(journal_dir)
    if (done := _already(state)) is not None:
        echo(f"{state.launch_id}: {done}; nothing to do")
        return EXIT_BAD_INPUT
    holder = driver_alive(journal_dir)
    if holder is not None:
        outcome = _ask_driver(journal_dir, reason, holder, state.last_seq, echo)
        if outcome is not None:
            return outcome
    try:
        return run_here(journal_dir, reason)
    except JournalBusy:
        # A driver appeared between our look and our lock: hand it the request instead.
        outcome = _ask_driver(
            journal_dir, reason, driver_alive(journal_dir) or "a driver", state.last_seq, echo
        )
        return outcome if outcome is not None else EXIT_BAD_INPUT


def _ask_driver(
    journal_dir: Path, reason: str, holder: str, seen: int, echo: Callable[[str], None]
) -> int | None:
    """Leave the request and wait for the driver to take it; None when it went away without doing so."""
    request = journal_dir / ROLLBACK_REQUEST_FILE
    temporary = journal_dir / f".{ROLLBACK_REQUEST_FILE}.{os.getpid()}"
    temporary.write_text(reason + "\n", encoding="utf-8")
    os.replace(temporary, request)
    echo(f"asked the live driver ({holder}) to roll back: {reason}")
    deadline = time.monotonic() + ACK_SECONDS
    while time.monotonic() < deadline:
        events = read_journal(journal_dir).events
        new = [e for e in events if e.get("seq", 0) > seen]
        taken = next(
            (e for e in new if e["event"] in ("rollback_requested", "rollback_started")), None
        )
        if taken is not None:
            echo(
                f"the driver started the rollback at {taken['ts']}; follow it with: launchctl status {journal_dir}"
            )
            return EXIT_OK
        if driver_alive(journal_dir) is None:
            request.unlink(missing_ok=True)
            echo("the driver stopped without taking the request; rolling back here")
            return None
        time.sleep(0.1)
    echo(
        f"the driver has not acknowledged within {ACK_SECONDS:.0f}s; the request stays in {request}"
    )
    return EXIT_ROLLBACK_INCOMPLETE


def rollback_exit_code(engine_code: int) -> int:
    """The rollback command did what it was asked when the rollback completed."""
    return EXIT_OK if engine_code == EXIT_ROLLED_BACK else engine_code
