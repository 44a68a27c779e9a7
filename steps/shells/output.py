"""Bounded capture of a command's output: a head kept for ``expect`` and a tail for people.

A command that floods its output must not grow launchctl's memory, so both
parts have fixed limits; what falls between them is counted, not kept.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

HEAD_LIMIT = 1024 * 1024
TAIL_LINES = 40
MAX_LINE = 4096


class OutputCapture:
    def __init__(
        self, on_line: Callable[[str], None] | None = None, tail_lines: int = TAIL_LINES
    ) -> None:
        self._head: list[str] = []
        self._head_size = 0
        self._tail: deque[str] = deque(maxlen=tail_lines)
        self._dropped = 0
        self._on_line = on_line
        self._lock = threading.Lock()
        self._pending = b""

    def feed(self, chunk: bytes) -> None:
        """Add raw bytes; complete lines are decoded and delivered."""
        data = self._pending + chunk
        *lines, self._pending = data.split(b"\n")
        if len(self._pending) > MAX_LINE:
            lines.append(self._pending)
            self._pending = b""
        for raw in lines:
            self._add(raw.decode("utf-8", errors="replace").rstrip("\r"))

    def close(self) -> None:
        if self._pending:
            self._add(self._pending.decode("utf-8", errors="replace").rstrip("\r"))
            self._pending = b""

    def _add(self, line: str) -> None:
        if len(line) > MAX_LINE:
            line = line[:MAX_LINE] + " …(line truncated)"
        with self._lock:
            if self._head_size < HEAD_LIMIT:
                self._head.append(line)
                self._head_size += len(line) + 1
            else:
                self._dropped += 1
            self._tail.append(line)
        if self._on_line is not None:
            self._on_line(line)

    @property
    def text(self) -> str:
        """What ``expect`` matches against: the head, plus the tail when output overflowed."""
        with self._lock:
            if not self._dropped:
                return "\n".join(self._head)
            return "\n".join([*self._head, f"… {self._dropped} lines not kept …", *self._tail])

    @property
    def tail(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._tail)
