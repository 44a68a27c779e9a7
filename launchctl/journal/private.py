"""Journal files are private: directories 0700 and files 0600, whatever the umask.

A journal holds command output, hosts and launch details; on a shared bastion
the default 0755/0644 would let every user read them. Modes are set
explicitly after creating (``os.open``'s mode is filtered by the umask), and a
journal directory that others may write is refused for driving: someone else
could plant a request file or rewrite the journal that ``resume`` trusts.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from runbook.errors import InputError

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600


class JournalNotPrivate(InputError):
    """A journal directory that users other than its owner can write (exit 2)."""


def make_private_dir(directory: Path) -> None:
    """Create ``directory`` and any missing parents, each 0700; an existing one is left as is."""
    missing = []
    for path in (directory, *directory.parents):
        if path.exists():
            break
        missing.append(path)
    for path in reversed(missing):
        try:
            path.mkdir(mode=DIRECTORY_MODE)
        except FileExistsError:
            continue
        os.chmod(path, DIRECTORY_MODE)


def open_private(path: Path, flags: int) -> int:
    """``os.open`` a file the launch writes, made 0600 even if it existed with another mode."""
    fd = os.open(path, flags | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    except OSError:
        os.close(fd)
        raise
    return fd


def check_private(directory: Path) -> str | None:
    """A warning when others can read ``directory``; raises when others can write it."""
    try:
        mode = stat.S_IMODE(directory.stat().st_mode)
    except FileNotFoundError:
        return None
    shown = f"{directory} (mode {mode:04o})"
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise JournalNotPrivate(
            f"{shown}: other users can write this journal directory, so they could change what "
            f"resume trusts; refusing to drive it (chmod 700 {directory})"
        )
    if mode & (stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH):
        return (
            f"warning: {shown}: other users can read this journal (command output, hosts); "
            f"chmod 700 {directory}"
        )
    return None
