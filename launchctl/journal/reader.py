"""Reading a journal back: every complete, well-formed event; torn or forged lines are counted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launchctl.errors import JournalUnreadable
from launchctl.journal.writer import JOURNAL_FILE

REQUIRED_START_KEYS = ("launch_id", "runbook", "t0", "steps")


@dataclass
class JournalRead:
    events: list[dict[str, Any]]
    torn_lines: int


def read_journal(directory: Path) -> JournalRead:
    """Every complete event; unparsable lines (a torn tail) are counted, not fatal."""
    path = directory / JOURNAL_FILE
    if not directory.is_dir():
        raise JournalUnreadable(f"{directory}: no such journal directory")
    if not path.is_file():
        raise JournalUnreadable(
            f"{directory}: no {JOURNAL_FILE} here; is this a launch journal directory?"
        )
    events, torn = [], 0
    for line in _lines(path):
        try:
            event = json.loads(line)
        except ValueError:
            torn += 1
            continue
        if _well_formed(event):
            events.append(event)
        else:
            torn += 1
    if not events or events[0].get("event") != "launch_started":
        raise JournalUnreadable(f"{path}: does not start with a launch_started event")
    missing = [key for key in REQUIRED_START_KEYS if not isinstance(events[0].get(key), str | list)]
    if missing:
        raise JournalUnreadable(
            f"{path}:1: launch_started lacks {', '.join(missing)}; not a launchctl journal?"
        )
    return JournalRead(events, torn)


_FIELD_TYPES = {
    "event": str,
    "ts": str,
    "step": str,
    "status": str,
    "host": str,
    "seq": int,
    "clock": str,
}


def _well_formed(event: object) -> bool:
    """An event as launchctl writes it; anything else (garbled, forged) is skipped like a torn line."""
    if not isinstance(event, dict) or not isinstance(event.get("event"), str):
        return False
    return all(
        key not in event or (isinstance(event[key], kind) and not isinstance(event[key], bool))
        for key, kind in _FIELD_TYPES.items()
    )


def _lines(path: Path) -> Iterator[str]:
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.strip():
                yield line
