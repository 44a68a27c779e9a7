"""The launch's event stream: declared, masked, journaled durably, then shown.

The recorder is a structlog processor chain (``processor_chain``), built in
this one place: stamp (wall clock and launch clock) → check against the event
catalogue → mask the free-text fields → sequence → render one JSON line. The
wrapped "logger" appends that line to the journal (one ``write``, and an
``fsync`` unless the catalogue says the event is after the fact: ``JournalWriter``)
and only then do the sinks (plain console, live view, ``--log-format json``)
see the event, so what a person saw is always on disk. Workers (commands,
checks, guards) emit from their own threads; a lock keeps lines whole and
sequence numbers in journal order.

An event or field the catalogue does not declare is a bug. With
``LAUNCHCTL_STRICT_EVENTS=1`` (the test suite sets it) the recorder raises
``UndeclaredEvent`` at once; in a real launch it records the event anyway with
the undeclared fields masked as free text, because stopping a launch — perhaps
in the middle of its rollback — over a bookkeeping slip would do more harm than
the slip, and the fallback errs toward hiding, never toward leaking.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, MutableMapping
from datetime import datetime
from typing import Any

import structlog

from launchctl.errors import JournalWriteFailed
from launchctl.journal.catalogue import EVENTS, iso
from launchctl.journal.fields import finite_json
from launchctl.journal.masking import SecretMasker
from launchctl.journal.writer import JournalWriter
from steps.clock import Clock, utcnow

Sink = Callable[[dict[str, Any]], None]
EventDict = MutableMapping[str, Any]
STRICT_ENV = "LAUNCHCTL_STRICT_EVENTS"


class UndeclaredEvent(Exception):
    """An event, or a field of one, that the catalogue does not declare (strict mode only)."""


_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str, separators=(",", ":"), allow_nan=False)


def render_line(record: dict[str, Any]) -> str:
    """One event as the journal and ``--log-format json`` write it: compact JSON, one line.

    Strict JSON: a guard on ``x / 0`` samples ``+Inf``, which Python would write as a bare
    ``Infinity`` that ``JSON.parse``, Go and serde refuse; such numbers are written as the
    strings Prometheus uses (``finite_json``) and read back as numbers (``read_journal``).
    Only an event holding one pays for the second pass."""
    try:
        return _ENCODER.encode(record)
    except ValueError:
        return _ENCODER.encode(finite_json(record))


class _Journal:
    """What structlog calls the logger: it appends the rendered line, and hands the record back."""

    def __init__(self, writer: JournalWriter | None) -> None:
        self.writer = writer

    def msg(self, line: str | None, record: dict[str, Any]) -> dict[str, Any]:
        if self.writer is not None and line is not None:
            kind = EVENTS.get(record["event"])
            self.writer.append_line(line, after_the_fact=kind is not None and kind.after_the_fact)
        return record


class Recorder:
    def __init__(
        self,
        journal: JournalWriter | None,
        masker: SecretMasker,
        clock: Clock,
        sinks: list[Sink] | None = None,
        first_seq: int = 0,
        strict: bool | None = None,
    ) -> None:
        self.journal = journal
        self.masker = masker
        self.clock = clock
        self.sinks = list(sinks or [])
        self.strict = os.environ.get(STRICT_ENV) == "1" if strict is None else strict
        self._seq = first_seq
        self._lock = threading.Lock()
        self.failure: JournalWriteFailed | None = None  # once set, nothing more is recorded or done
        self._log = structlog.wrap_logger(
            _Journal(journal),
            processors=processor_chain(self),
            wrapper_class=structlog.BoundLogger,
            cache_logger_on_first_use=True,
        ).bind()

    def emit(self, event: str, **fields: Any) -> dict[str, Any]:
        with self._lock:
            if self.failure is not None:
                raise self.failure
            try:
                record: dict[str, Any] = self._log.msg(event, **fields)
            except JournalWriteFailed as failure:
                self.failure = failure
                raise
        for sink in self.sinks:
            sink(record)
        return record

    def output_line(self, host: str, line: str) -> None:
        """A line of command output: shown live, not journaled (the tail is, with the result)."""
        record = {"ts": iso(utcnow()), "event": "output", "host": host, "line": line}
        record = self.masker.event(EVENTS["output"], record)
        for sink in self.sinks:
            sink(record)

    # -- the processors, in chain order ---------------------------------------------------------

    def stamp(self, _logger: Any, _method: str, event_dict: EventDict) -> EventDict:
        """Wall-clock ``ts``, the launch ``clock`` in a rehearsal or dry run, times as ISO text;
        fields given as None are left out."""
        record: dict[str, Any] = {"ts": iso(utcnow()), "event": event_dict.pop("event")}
        if self.clock.simulated or self.clock.speed != 1:
            record["clock"] = iso(self.clock.now())
        for key, value in event_dict.items():
            if value is not None:
                record[key] = iso(value) if isinstance(value, datetime) else value
        return record

    def check(self, _logger: Any, _method: str, record: EventDict) -> EventDict:
        """Against the catalogue: in strict mode an undeclared event or field raises."""
        if not self.strict:
            return record
        kind = EVENTS.get(record["event"])
        if kind is None:
            raise UndeclaredEvent(f"event {record['event']!r} is not in the event catalogue")
        problems = [p for p in kind.problems({**record, "seq": 0})]
        if problems:
            raise UndeclaredEvent("; ".join(problems))
        return record

    def mask(self, _logger: Any, _method: str, record: EventDict) -> EventDict:
        """Free-text fields only, as the catalogue declares them; never ids, times or numbers."""
        return self.masker.event(EVENTS.get(record["event"]), dict(record))

    def sequence(self, _logger: Any, _method: str, record: EventDict) -> EventDict:
        """The next sequence number (the caller holds the lock, so numbers follow journal order)."""
        self._seq += 1
        record["seq"] = self._seq
        return record


def _render(
    logger: _Journal, _method: str, record: EventDict
) -> tuple[tuple[str | None], dict[str, Any]]:
    """The journal line (none when nothing is journaled, as in ``plan``), and the record itself
    for the sinks that come after the journal."""
    record = dict(record)
    line = render_line(record) if getattr(logger, "writer", True) is not None else None
    return (line,), {"record": record}


def processor_chain(recorder: Recorder) -> list[Callable[..., Any]]:
    """stamp → check → mask → sequence → render: the one recording pipeline."""
    return [recorder.stamp, recorder.check, recorder.mask, recorder.sequence, _render]
