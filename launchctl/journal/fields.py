"""The kinds of value a journal event's field may hold, and which of them are free text.

A kind says two things the rest of launchctl relies on: what a well-formed value
looks like (the reader skips an event that breaks it, like a torn line) and
whether the value is *free text* — output, messages, reasons, errors, commands,
questions — the only values secret masking touches. Ids, keys, paths,
timestamps, numbers and offsets are never masked: a secret that happens to
equal a step id must not rename the step in the journal that ``resume`` trusts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

TextMask = Callable[[str], str]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


NON_FINITE = {"+Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}
"""Numbers JSON cannot hold, written as Prometheus writes them."""


def finite_json(value: Any) -> Any:
    """``value`` with every infinite or NaN float replaced by its ``NON_FINITE`` string."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
    if isinstance(value, dict):
        return {key: finite_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(item) for item in value]
    return value


def restore_numbers(value: Any) -> Any:
    """The inverse of ``finite_json``, for a journal line that holds one of those strings."""
    if isinstance(value, str):
        return NON_FINITE.get(value, value)
    if isinstance(value, dict):
        return {key: restore_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [restore_numbers(item) for item in value]
    return value


def holds_non_finite(line: str) -> bool:
    return '"+Inf"' in line or '"-Inf"' in line or '"NaN"' in line


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class Kind:
    """A scalar kind: ``accepts`` a JSON value; ``free_text`` values are masked."""

    name: str
    accepts: Callable[[Any], bool]
    free_text: bool = False
    limit: int | None = None
    """Free text longer than this is cut, always after masking (never a secret cut in half)."""

    def check(self, value: Any) -> bool:
        return self.accepts(value)

    def mask(self, value: Any, text: TextMask) -> Any:
        if not (self.free_text and isinstance(value, str)):
            return value
        value = text(value)
        if self.limit is not None and len(value) > self.limit:
            return value[: self.limit] + " …(cut)"
        return value


@dataclass(frozen=True, eq=False)
class ListOf(Kind):
    """A JSON list of one kind."""

    item: Kind = field(default=None)  # type: ignore[assignment]

    def check(self, value: Any) -> bool:
        return isinstance(value, list) and all(self.item.check(v) for v in value)

    def mask(self, value: Any, text: TextMask) -> Any:
        if not isinstance(value, list):
            return mask_anything(value, text)
        return [self.item.mask(v, text) for v in value]


@dataclass(frozen=True, eq=False)
class Record(Kind):
    """A JSON object with declared members. Members it does not declare are treated as free
    text (masked), so a record can grow without a field slipping past the masker."""

    members: Mapping[str, Kind] = field(default_factory=dict)

    def check(self, value: Any) -> bool:
        return isinstance(value, dict) and all(
            kind.check(value[key])
            for key, kind in self.members.items()
            if value.get(key) is not None
        )

    def mask(self, value: Any, text: TextMask) -> Any:
        if not isinstance(value, dict):
            return mask_anything(value, text)
        return {
            key: (
                self.members[key].mask(v, text) if key in self.members else mask_anything(v, text)
            )
            for key, v in value.items()
        }


def mask_anything(value: Any, text: TextMask) -> Any:
    """Undeclared data: every string in it is treated as free text (the safe direction)."""
    if isinstance(value, str):
        return text(value)
    if isinstance(value, dict):
        return {k: mask_anything(v, text) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_anything(v, text) for v in value]
    return value


def _is_time(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


ID = Kind("id", lambda v: isinstance(v, str))
"""A name launchctl or the runbook gave something: step, guard, host, status, kind, user."""
KEY = Kind("key", lambda v: isinstance(v, str))
"""Configuration read back verbatim by ``resume``/``rollback``: paths, hashes, thresholds, offsets."""
TEXT = Kind("text", lambda v: isinstance(v, str), free_text=True)
"""Free text: output, messages, commands, questions, titles."""
REASON = Kind("reason", lambda v: isinstance(v, str), free_text=True, limit=2000)
"""Free text that may carry a whole error message from a library: masked, then cut to length."""
TIME = Kind("time", _is_time)
"""An ISO 8601 instant (``iso``); a ``datetime`` is accepted on emit and written as one."""
INT = Kind("int", _is_int)
NUMBER = Kind("number", _is_number)
BOOL = Kind("bool", lambda v: isinstance(v, bool))
VALUE = Kind(
    "value", lambda v: v is None or isinstance(v, str | bool) or _is_number(v), free_text=True
)
"""What a check or guard observed: a number, or text (masked), or nothing."""
IDS = ListOf("ids", lambda v: True, item=ID)
TEXTS = ListOf("texts", lambda v: True, free_text=True, item=TEXT)
KEY_MAP = Kind(
    "key map",
    lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
)
"""Names to values given on the command line (``--var``), replayed verbatim on resume."""


def record(**members: Kind) -> Record:
    return Record("record", lambda v: True, members=members)


def records(**members: Kind) -> ListOf:
    return ListOf("records", lambda v: True, item=record(**members))


@dataclass(frozen=True)
class FieldSpec:
    """One declared field: its kind and whether every such event must carry it."""

    kind: Kind
    required: bool = False


def required(kind: Kind) -> FieldSpec:
    return FieldSpec(kind, required=True)
