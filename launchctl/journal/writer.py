"""Appending to ``journal.jsonl``: each event on disk before the action it records goes on.

Each event is written with a single ``write`` on an ``O_APPEND`` descriptor
before ``append_line`` returns, so a ``kill -9`` or a crash of launchctl loses
nothing (the kernel holds what was written) and can tear at most the last
line, which readers skip and ``resume`` cuts off before appending.

Against a crash of the machine itself the line must also reach the disk
(``fsync``). An event that launchctl will act on — a step or host started, a
rollback begun, an answer, a decision — is synced before ``append_line``
returns. A record of something already over (``after_the_fact`` in the
catalogue: a command's exit, a check's verdict, a guard sample) is synced by the
next synced event, and in any case within ``SYNC_AFTER_SECONDS`` by a flusher
thread: a power cut can lose at most that last stretch of such records, never a
start, and ``resume`` then treats what lost its ending as in flight and asks. A disk
error the flusher meets fails the next event written (the launch pauses): Linux
reports a failed writeback to one fsync only, so the next one would not.
Syncing each of those records too cost a launch of 1,000 quick steps about
2 s of its 5.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from launchctl.errors import JournalWriteFailed
from launchctl.journal.fields import finite_json
from launchctl.journal.private import make_private_dir, open_private

JOURNAL_FILE = "journal.jsonl"
SYNC_AFTER_SECONDS = 0.2


class JournalWriter:
    """Appends events durably. Not thread-safe by itself: the recorder serialises calls."""

    def __init__(self, directory: Path, durable: bool = True) -> None:
        self.directory = directory
        self.path = directory / JOURNAL_FILE
        self.durable = durable
        self._fd: int | None = None
        self._unsynced = threading.Event()  # written, not yet synced
        self._closing = threading.Event()
        self._flusher: threading.Thread | None = None
        # What the flusher's fsync met: Linux reports a failed writeback to one fsync of the
        # file only, so the next event's own fsync would succeed over records never on disk.
        self._sync_error: OSError | None = None

    def open(self) -> None:
        try:
            make_private_dir(self.directory)
            repair_torn_tail(self.path)
            self._fd = open_private(self.path, os.O_WRONLY | os.O_APPEND)
            self._closing.clear()
            self._sync_error = None
        except OSError as exc:
            raise JournalWriteFailed(f"cannot open journal {self.path}: {exc.strerror}") from None

    def append(self, event: dict[str, Any], *, after_the_fact: bool = False) -> None:
        line = json.dumps(
            finite_json(event), ensure_ascii=False, default=str, separators=(",", ":")
        )
        self.append_line(line, after_the_fact=after_the_fact)

    def append_line(self, text: str, *, after_the_fact: bool = False) -> None:
        """One rendered event (without its newline), written whole before this returns, and
        synced to disk too unless it is ``after_the_fact`` (then within SYNC_AFTER_SECONDS)."""
        if self._fd is None:
            raise JournalWriteFailed("journal is not open")
        if self._sync_error is not None:
            raise JournalWriteFailed(
                f"cannot write journal {self.path}: {self._sync_error.strerror or self._sync_error}"
                " (syncing records already written); the launch is paused so that nothing runs "
                "unrecorded"
            )
        line = (text + "\n").encode()
        size = os.lseek(self._fd, 0, os.SEEK_END)
        try:
            written = os.write(self._fd, line)
            if written != len(line):
                raise OSError(28, "short write (disk full?)")
            if self.durable and after_the_fact:
                self._sync_soon()
            elif self.durable:
                self._unsynced.clear()
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

    def _sync_soon(self) -> None:
        self._unsynced.set()
        if self._flusher is None:
            self._flusher = threading.Thread(
                target=self._flush_loop, name="journal-sync", daemon=True
            )
            self._flusher.start()

    def _flush_loop(self) -> None:
        """Syncs what was written after the fact, at most SYNC_AFTER_SECONDS after it was."""
        while not self._closing.is_set():
            self._unsynced.wait()
            if self._closing.wait(SYNC_AFTER_SECONDS):
                return
            fd = self._fd
            if fd is not None and self._unsynced.is_set():
                self._unsynced.clear()
                try:
                    os.fsync(fd)
                except OSError as exc:  # the next event reports it: the launch pauses
                    self._sync_error = exc
                    return

    def close(self) -> None:
        self._closing.set()
        self._unsynced.set()  # wakes the flusher to leave
        if self._flusher is not None:
            self._flusher.join()
            self._flusher = None
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
