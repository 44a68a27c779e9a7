"""The launch's event stream: masked, journaled durably, then shown.

Every event goes to the journal first (fsync) and only then to the terminal
or live view, so what a person saw is always on disk. Workers (commands,
checks) emit from their own threads; a lock keeps lines whole and ordered.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from launchctl.errors import JournalWriteFailed
from launchctl.journal.catalogue import iso
from launchctl.journal.masking import SecretMasker
from launchctl.journal.writer import JournalWriter
from steps.clock import Clock, utcnow

Sink = Callable[[dict[str, Any]], None]


class Recorder:
    def __init__(
        self,
        journal: JournalWriter | None,
        masker: SecretMasker,
        clock: Clock,
        sinks: list[Sink] | None = None,
        first_seq: int = 0,
    ) -> None:
        self.journal = journal
        self.masker = masker
        self.clock = clock
        self.sinks = list(sinks or [])
        self._seq = first_seq
        self._lock = threading.Lock()
        self.failure: JournalWriteFailed | None = None  # once set, nothing more is recorded or done

    def emit(self, event: str, **fields: Any) -> dict[str, Any]:
        record: dict[str, Any] = {"ts": iso(utcnow()), "event": event}
        if self.clock.simulated or self.clock.speed != 1:
            record["clock"] = iso(self.clock.now())
        record.update(
            {
                k: iso(v) if isinstance(v, datetime) else v
                for k, v in fields.items()
                if v is not None
            }
        )
        record = self.masker.data(record)
        with self._lock:
            if self.failure is not None:
                raise self.failure
            self._seq += 1
            record["seq"] = self._seq
            if self.journal is not None:
                try:
                    self.journal.append(record)
                except JournalWriteFailed as failure:
                    self.failure = failure
                    raise
        for sink in self.sinks:
            sink(record)
        return record

    def output_line(self, host: str, line: str) -> None:
        """A line of command output: shown live, not journaled (the tail is, with the result)."""
        masked = self.masker.text(line)
        for sink in self.sinks:
            sink({"event": "output", "host": host, "line": masked})
