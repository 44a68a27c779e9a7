"""One driver per journal: an exclusive ``flock`` on ``journal.lock`` that the kernel drops
when the holding process dies, however it dies; and a way for others to see who holds it."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from launchctl.errors import JournalBusy
from launchctl.journal.private import check_private, open_private

LOCK_FILE = "journal.lock"


class JournalLock:
    """Exclusive ownership of a journal directory for this process's lifetime. A directory
    others can write is refused before the lock is taken (``check_private``)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        check_private(self.path.parent)
        fd = open_private(self.path, os.O_RDWR)
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


def driver_alive(directory: Path) -> str | None:
    """Who holds the journal's lock right now, or None when no process drives it."""
    path = directory / LOCK_FILE
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
