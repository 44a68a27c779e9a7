"""Bounded capture of a command's output: a head kept for ``expect`` and a tail for people.

A command that floods its output must not grow launchctl's memory, so both
parts have fixed limits; what falls between them is counted, not kept. The
output is decoded as a stream and passed through the launch's ``TextFilter``
(secret masking) *before* it is split into lines or cut to ``MAX_LINE``: a
secret that straddles two reads, two lines or the cut point is still whole
when the filter sees it.
"""

from __future__ import annotations

import codecs
import threading
from collections import deque
from collections.abc import Callable
from typing import Protocol

HEAD_LIMIT = 1024 * 1024
TAIL_LINES = 40
MAX_LINE = 4096


class TextFilter(Protocol):
    """Rewrites a text stream chunk by chunk (the launch's secret masking). ``feed`` returns
    what is final now and may hold back a tail; ``flush`` returns the rest at the end."""

    def feed(self, text: str) -> str: ...

    def flush(self) -> str: ...


class Redaction(Protocol):
    """The launch's secret masking as steps see it: for text, and for a command's output stream."""

    def text(self, value: str) -> str: ...

    def stream(self) -> TextFilter: ...


class OutputCapture:
    def __init__(
        self,
        on_line: Callable[[str], None] | None = None,
        tail_lines: int = TAIL_LINES,
        text_filter: TextFilter | None = None,
    ) -> None:
        self._head: list[str] = []
        self._head_size = 0
        self._tail: deque[str] = deque(maxlen=tail_lines)
        self._dropped = 0
        self._on_line = on_line
        self._lock = threading.Lock()
        self._stream_lock = threading.Lock()  # the reader thread feeds; the runner closes
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._filter = text_filter
        self._pending = ""

    def feed(self, chunk: bytes) -> None:
        """Add raw bytes; complete lines are decoded, filtered and delivered."""
        with self._stream_lock:
            self._take(self._decoder.decode(chunk))

    def close(self) -> None:
        with self._stream_lock:
            self._take(self._decoder.decode(b"", final=True), final=True)
            if self._pending:
                self._add(self._pending.rstrip("\r"))
                self._pending = ""

    def _take(self, text: str, final: bool = False) -> None:
        if self._filter is not None:
            text = self._filter.feed(text) + (self._filter.flush() if final else "")
        *lines, self._pending = (self._pending + text).split("\n")
        if len(self._pending) > MAX_LINE:
            lines.append(self._pending)
            self._pending = ""
        for line in lines:
            self._add(line.rstrip("\r"))

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
