"""The journal: ``journal.jsonl``, one event per line, on disk before the action it records goes on.

Each event is written with a single ``write`` on an ``O_APPEND`` descriptor and
then ``fsync``ed, so a crash or ``kill -9`` can tear at most the last line,
which readers skip and ``resume`` cuts off before appending. A ``flock`` on
``journal.lock`` lets only one process drive a journal; the kernel drops it
when that process dies, however it dies.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from launchctl.errors import JournalBusy, JournalUnreadable, JournalWriteFailed

JOURNAL_FILE = "journal.jsonl"
REQUIRED_START_KEYS = ("launch_id", "runbook", "t0", "steps")
LOCK_FILE = "journal.lock"


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a ``Z``: the journal's one time format."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JournalLock:
    """Exclusive ownership of a journal directory for this process's lifetime."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise JournalBusy(
                f"{self.path.parent}: this journal is being driven by {holder}; "
                "only one launchctl may drive a launch (use `launchctl status` to watch it)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {os.uname().nodename}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class JournalWriter:
    """Appends events durably. Not thread-safe by itself: the recorder serialises calls."""

    def __init__(self, directory: Path, durable: bool = True) -> None:
        self.directory = directory
        self.path = directory / JOURNAL_FILE
        self.durable = durable
        self._fd: int | None = None

    def open(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            repair_torn_tail(self.path)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise JournalWriteFailed(f"cannot open journal {self.path}: {exc.strerror}") from None

    def append(self, event: dict[str, Any]) -> None:
        if self._fd is None:
            raise JournalWriteFailed("journal is not open")
        line = (
            json.dumps(event, ensure_ascii=False, default=str, separators=(",", ":")) + "\n"
        ).encode()
        size = os.lseek(self._fd, 0, os.SEEK_END)
        try:
            written = os.write(self._fd, line)
            if written != len(line):
                raise OSError(28, "short write (disk full?)")
            if self.durable:
                os.fsync(self._fd)
        except OSError as exc:
            self._cut_back(size)
            raise JournalWriteFailed(
                f"cannot write journal {self.path}: {exc.strerror or exc}; the launch is paused so that "
                "nothing runs unrecorded"
            ) from None

    def _cut_back(self, size: int) -> None:
        """After a failed write, remove its partial line so the journal stays whole lines."""
        try:
            os.ftruncate(self._fd, size)
        except OSError:
            pass  # readers skip a torn last line, and resume cuts it anyway

    def close(self) -> None:
        if self._fd is not None:
            try:
                os.fsync(self._fd)
            except OSError:
                pass
            os.close(self._fd)
            self._fd = None


def repair_torn_tail(path: Path) -> bool:
    """Cut a last line that a crash left without its newline; True if something was cut."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return False
    if size == 0:
        return False
    with path.open("rb+") as handle:
        handle.seek(-1, os.SEEK_END)
        if handle.read(1) == b"\n":
            return False
        back = min(size, 1 << 20)
        handle.seek(size - back)
        chunk = handle.read(back)
        cut = chunk.rfind(b"\n")
        handle.truncate(size - back + cut + 1 if cut >= 0 else 0)
        handle.flush()
        os.fsync(handle.fileno())
    return True


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
