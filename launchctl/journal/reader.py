"""Reading a journal back: every complete, well-formed event; torn or forged lines are counted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launchctl.errors import JournalUnreadable
from launchctl.journal.catalogue import EVENTS, well_formed
from launchctl.journal.fields import holds_non_finite, restore_numbers
from launchctl.journal.writer import JOURNAL_FILE


@dataclass
class JournalRead:
    events: list[dict[str, Any]]
    torn_lines: int


def read_journal(directory: Path) -> JournalRead:
    """Every complete, well-formed event; anything else (a torn tail, a forged or garbled line)
    is counted, not fatal. Well-formed means as the event catalogue declares it."""
    path = directory / JOURNAL_FILE
    if not directory.is_dir():
        raise JournalUnreadable(f"{directory}: no such journal directory")
    if not path.is_file():
        raise JournalUnreadable(
            f"{directory}: no {JOURNAL_FILE} here; is this a launch journal directory?"
        )
    events: list[dict[str, Any]] = []
    torn = 0
    first: Any = None
    for line in _lines(path):
        try:
            event = json.loads(line)
        except ValueError:
            torn += 1
            continue
        if holds_non_finite(line):
            event = restore_numbers(event)
        if first is None:
            first = event
        if well_formed(event):
            events.append(event)
        else:
            torn += 1
    if not events or events[0].get("event") != "launch_started":
        raise JournalUnreadable(f"{path}: does not start with a launch_started event{_why(first)}")
    return JournalRead(events, torn)


def _why(first: Any) -> str:
    """What is wrong with a first line that looks like a launch_started but is not one."""
    if not isinstance(first, dict) or first.get("event") != "launch_started":
        return ""
    problems = list(EVENTS["launch_started"].problems(first))
    return f" ({'; '.join(problems[:3])}); not a launchctl journal?" if problems else ""


def _lines(path: Path) -> Iterator[str]:
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.strip():
                yield line
