"""Appending to ``journal.jsonl``: each event on disk before the action it records goes on.

Each event is written with a single ``write`` on an ``O_APPEND`` descriptor and
then ``fsync``ed, so a crash or ``kill -9`` can tear at most the last line,
which readers skip and ``resume`` cuts off before appending.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from launchctl.errors import JournalWriteFailed
from launchctl.journal.private import make_private_dir, open_private

JOURNAL_FILE = "journal.jsonl"


class JournalWriter:
    """Appends events durably. Not thread-safe by itself: the recorder serialises calls."""

    def __init__(self, directory: Path, durable: bool = True) -> None:
        self.directory = directory
        self.path = directory / JOURNAL_FILE
        self.durable = durable
        self._fd: int | None = None

    def open(self) -> None:
        try:
            make_private_dir(self.directory)
            repair_torn_tail(self.path)
            self._fd = open_private(self.path, os.O_WRONLY | os.O_APPEND)
        except OSError as exc:
            raise JournalWriteFailed(f"cannot open journal {self.path}: {exc.strerror}") from None

    def append(self, event: dict[str, Any]) -> None:
        self.append_line(json.dumps(event, ensure_ascii=False, default=str, separators=(",", ":")))

    def append_line(self, text: str) -> None:
        """One rendered event (without its newline), whole and on disk before this returns."""
        if self._fd is None:
            raise JournalWriteFailed("journal is not open")
        line = (text + "\n").encode()
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
