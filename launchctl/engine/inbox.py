"""Requests left for the live driver by a second terminal: a rollback, or an answer to a confirmation.

Each is one small file in the journal directory, written atomically
(``os.replace``) by ``launchctl rollback`` or ``launchctl approve`` and taken
(read, then removed) by the driver's loop several times a second.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launchctl.journal.private import open_private

ROLLBACK_REQUEST_FILE = "rollback.request"
APPROVAL_REQUEST_FILE = "approve.request"


@dataclass(frozen=True)
class RollbackRequest:
    reason: str
    by: str | None = None
    force_past_no_return: bool = False


@dataclass(frozen=True)
class Approval:
    step: str
    answer: str  # yes | no
    by: str


def leave(directory: Path, name: str, text: str) -> Path:
    """Write a request atomically; returns its path."""
    path = directory / name
    temporary = directory / f".{name}.{os.getpid()}"
    fd = open_private(temporary, os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)
    return path


class Inbox:
    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    def _take(self, name: str) -> str | None:
        if self.directory is None:
            return None
        path = self.directory / name
        try:
            text = path.read_text(encoding="utf-8")
        except (FileNotFoundError, IsADirectoryError):
            return None
        except (OSError, UnicodeDecodeError):
            text = ""
        path.unlink(missing_ok=True)
        return text

    def take_rollback(self) -> RollbackRequest | None:
        """A pending rollback request, or None (written by ``rollback_request_text``)."""
        text = self._take(ROLLBACK_REQUEST_FILE)
        if text is None:
            return None
        try:
            data: Any = json.loads(text)
            return RollbackRequest(
                str(data["reason"]), data.get("by"), bool(data.get("force_past_no_return"))
            )
        except (ValueError, KeyError, TypeError):
            lines = text.strip().splitlines()
            return RollbackRequest(
                lines[0] if lines else "rollback requested from another terminal"
            )

    def take_approval(self) -> Approval | None:
        text = self._take(APPROVAL_REQUEST_FILE)
        if text is None:
            return None
        try:
            data: Any = json.loads(text)
            return Approval(str(data["step"]), str(data["answer"]), str(data["by"]))
        except (ValueError, KeyError, TypeError):
            return None

    def discard_rollback(self) -> None:
        if self.directory is not None:
            (self.directory / ROLLBACK_REQUEST_FILE).unlink(missing_ok=True)


def rollback_request_text(reason: str, by: str, force_past_no_return: bool) -> str:
    return json.dumps({"reason": reason, "by": by, "force_past_no_return": force_past_no_return})
