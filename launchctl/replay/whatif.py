"""What-if settings for a replay: ``--set GUARD.FIELD=VALUE`` and ``--sweep GUARD.breach=LO:HI:STEP``.

Values are parsed by the runbook's own scalar parsers, so ``--set`` accepts
exactly what the YAML would, and a bad value is one clear line (exit 2).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import timedelta

from runbook import model
from runbook.comparison import parse_comparison
from runbook.durations import parse_duration, parse_offset
from runbook.errors import InputError

SETTABLE = (
    "breach",
    "for",
    "every",
    "then",
    "inconclusive_limit",
    "during",
    "timeout",
    "baseline",
)
MAX_SWEEP_ROWS = 1000


@dataclass(frozen=True)
class Sweep:
    guard: str
    thresholds: tuple[float, ...]


def _split(option: str, text: str) -> tuple[str, str, str]:
    target, sep, value = text.partition("=")
    guard, dot, name = target.strip().rpartition(".")
    if not sep or not dot or not guard:
        raise InputError(f"{option} {text!r}: expected GUARD.FIELD=VALUE, e.g. error-rate.for=30s")
    return guard, name.strip(), value.strip()


def _guard(book: model.Runbook, option: str, text: str, guard_id: str) -> model.Guard:
    for guard in book.guards:
        if guard.id == guard_id:
            return guard
    known = ", ".join(g.id for g in book.guards) or "none"
    raise InputError(f"{option} {text!r}: no guard '{guard_id}' in the runbook (guards: {known})")


def _changed(guard: model.Guard, name: str, value: str) -> model.Guard:
    """The guard with one field set; ``ValueError`` with the parser's message when ``value`` is bad."""
    if name == "breach":
        breach = parse_comparison(value)
        window = (guard.baseline or model.DEFAULT_BASELINE) if breach.relative else None
        return replace(guard, breach=breach, baseline=window)
    if name == "baseline":
        if guard.breach.relative is None:
            raise ValueError(f"the guard's breach {guard.breach} is not relative to a baseline")
        start, end = _offsets(value)
        return replace(guard, baseline=model.BaselineWindow(start, end))
    if name in ("for", "every", "timeout"):
        duration = parse_duration(value)
        if name != "for" and not duration:
            raise ValueError("must be longer than 0s")
        return replace(guard, **{"hold" if name == "for" else name: duration})
    if name == "then":
        if value not in {a.value for a in model.GuardAction}:
            raise ValueError("must be one of rollback | ask | warn")
        return replace(guard, then=model.GuardAction(value))
    if name == "inconclusive_limit":
        if not value.isdigit() or not 1 <= int(value) <= 1000:
            raise ValueError("must be a whole number from 1 to 1000")
        return replace(guard, inconclusive_limit=int(value))
    return replace(guard, during=_offsets(value))


def _offsets(value: str) -> tuple[timedelta, timedelta]:
    start, comma, end = value.strip("[] ").partition(",")
    if not comma:
        raise ValueError("use two T-offsets, e.g. T+0,T+30m")
    window = (parse_offset(start.strip()), parse_offset(end.strip()))
    if window[1] <= window[0]:
        raise ValueError("the window must end after it starts")
    return window


def apply_settings(book: model.Runbook, settings: Iterable[str]) -> model.Runbook:
    """The runbook with each ``--set`` applied to its guard, in order."""
    for text in settings:
        guard_id, name, value = _split("--set", text)
        guard = _guard(book, "--set", text, guard_id)
        if name not in SETTABLE:
            raise InputError(
                f"--set {text!r}: a guard's '{name}' cannot be set (settable: {', '.join(SETTABLE)})"
            )
        try:
            changed = _changed(guard, name, value)
        except ValueError as error:
            raise InputError(f"--set {text!r}: {error}") from None
        book = replace(book, guards=tuple(changed if g is guard else g for g in book.guards))
    return book


def parse_sweep(book: model.Runbook, text: str) -> Sweep:
    """``GUARD.breach=LO:HI:STEP``: thresholds from LO to HI (inclusive) in STEP increments."""
    guard_id, name, value = _split("--sweep", text)
    _guard(book, "--sweep", text, guard_id)
    if name != "breach":
        raise InputError(f"--sweep {text!r}: only a guard's breach can be swept")
    try:
        low, high, step = (float(part) for part in value.split(":"))
    except ValueError:
        raise InputError(
            f"--sweep {text!r}: expected LO:HI:STEP numbers, e.g. 0.01:0.10:0.01"
        ) from None
    if not step > 0 or not low <= high:
        raise InputError(f"--sweep {text!r}: needs LO <= HI and STEP > 0")
    count = int((high - low) / step + 1e-9) + 1
    if count > MAX_SWEEP_ROWS:
        raise InputError(f"--sweep {text!r}: {count} thresholds; at most {MAX_SWEEP_ROWS}")
    return Sweep(guard_id, tuple(round(low + i * step, 12) for i in range(count)))


def with_threshold(guard: model.Guard, threshold: float) -> model.Guard:
    return replace(guard, breach=replace(guard.breach, threshold=threshold))
