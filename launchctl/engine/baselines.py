"""A launch's baselines: each measured once, journaled (``baseline_measured``), shared by whoever
judges against it.

A baseline is what it measures: a query (as rendered) over a window of
offsets. Guards, step checks and checkpoint checks that share both share one
measurement, so they judge against one number. It is measured when the
window's end has passed in launch time (``--speed`` compresses windows),
over the wall-clock stretch Prometheus recorded for it (``Clock.real_at``),
and never again: a resumed launch, ``watch`` and ``checkpoint`` read it from
the journal. One measured without a value (Prometheus unreachable) is
measured again every ``RETRY_SECONDS`` while the launch runs, by the next
process, and by ``watch`` at each checkpoint. A window that has not ended is not measured: a guard asks again
later (``None``), a check that cannot wait says so (inconclusive).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from launchctl.journal.catalogue import iso, parse_iso
from rollback.guards import LaunchTimes, baseline_range, window
from runbook import model
from runbook.durations import format_offset
from runbook.errors import Diagnostic, ValidationFailed
from steps.baseline import Baseline, measure_baseline
from steps.cancel import CancelToken
from steps.clock import Clock, ScaledClock
from steps.deadline import Deadline
from steps.executor import render_text
from steps.http import HttpSession

DEADLINE_SECONDS = 10.0
RETRY_SECONDS = 30.0


@dataclass(frozen=True)
class BaselineKey:
    """What a baseline measures: the rendered query over a window (``T-30m..T-5m``); ``span``
    is the window itself where it came from the runbook (not from the journal)."""

    query: str
    window: str
    span: model.BaselineWindow | None = field(default=None, compare=False, hash=False)

    @classmethod
    def of(cls, query: str, baseline: model.BaselineWindow) -> BaselineKey:
        return cls(query, window_text(baseline), baseline)


def window_text(baseline: model.BaselineWindow) -> str:
    return f"{format_offset(baseline.start)}..{format_offset(baseline.end)}"


def recorded(event: Mapping[str, Any]) -> tuple[BaselineKey, Baseline]:
    """A ``baseline_measured`` event back into what was measured."""
    value = event.get("value")
    number = (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    )
    start, end = event.get("start"), event.get("end")
    return BaselineKey(str(event.get("query")), str(event.get("window"))), Baseline(
        number,
        str(event.get("reason") or ("" if number is not None else "no value recorded")),
        int(event.get("points") or 0),
        parse_iso(start) if isinstance(start, str) else None,
        parse_iso(end) if isinstance(end, str) else None,
        float(event.get("fetch_s") or 0.0),
    )


def users(
    book: model.Runbook, values: Mapping[str, str], watch: bool = False
) -> dict[BaselineKey, list[str]]:
    """Who judges against each baseline: ``guard:ID``, ``check:STEP[i]``, ``checkpoints[i]``.
    A launch measures what its guards and steps need; ``watch`` what its checkpoints need."""
    found: dict[BaselineKey, list[str]] = {}

    def add(query: str, baseline: model.BaselineWindow | None, who: str) -> None:
        if baseline is not None:
            key = BaselineKey.of(render_text(query, values), baseline)
            found.setdefault(key, []).append(who)

    if watch and book.checkpoints is not None:
        for index, criterion in enumerate(book.checkpoints.check):
            if isinstance(criterion, model.PrometheusCriterion):
                add(criterion.query, criterion.baseline, f"checkpoints[{index}]")
        return found
    for guard in book.guards:
        add(guard.query, guard.baseline, f"guard:{guard.id}")
    for step in book.steps:
        for index, criterion in enumerate(step.check):
            if isinstance(criterion, model.PrometheusCriterion):
                add(criterion.query, criterion.baseline, f"check:{step.id}[{index}]")
    return found


class BaselineBook:
    """The baselines of one launch (or its watch): measured on demand, once, and journaled."""

    def __init__(
        self,
        url: str | None,
        clock: Clock,
        times: LaunchTimes,
        emit: Callable[..., Any],
        users: Mapping[BaselineKey, list[str]],
        journaled: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        self.url = url
        self.clock = clock
        self.times = times
        self.emit = emit
        self.users = users
        self.http = HttpSession()
        # A baseline journaled without a value (Prometheus unreachable, no data yet) is measured
        # again when next needed: its window is history, and taking "none" for good would
        # leave every later judge by it inconclusive (a resumed launch, each checkpoint).
        self.measured: dict[BaselineKey, Baseline] = {
            key: baseline
            for key, baseline in (recorded(e) for e in journaled)
            if baseline.value is not None
        }
        self._lock = threading.Lock()
        self._measuring: dict[BaselineKey, threading.Lock] = {}
        self._unmeasured_at: dict[BaselineKey, float] = {}  # real seconds of the last try

    def close(self) -> None:
        self.http.close()

    def forget_unmeasured(self) -> None:
        """Drop the baselines measured without a value, so the next judge measures them again
        (``watch``: each checkpoint, not only the first, may find Prometheus back)."""
        with self._lock:
            for key in [k for k, b in self.measured.items() if b.value is None]:
                del self.measured[key]

    def for_guard(
        self, guard: model.Guard, values: Mapping[str, str], cancel: CancelToken
    ) -> Baseline | None:
        """A guard's baseline, once its window has ended (None before); its range ends no later
        than the guard's window opens (``baseline_range``)."""
        if guard.baseline is None:
            return None
        opens, _ = window(guard, self.times)
        return self.get(render_text(guard.query, values), guard.baseline, opens, cancel)

    def for_check(
        self, criterion: model.PrometheusCriterion, values: Mapping[str, str], cancel: CancelToken
    ) -> Baseline:
        """A check's baseline now: it runs now, so a window not over yet is no baseline."""
        baseline = criterion.baseline or model.DEFAULT_BASELINE
        query = render_text(criterion.query, values)
        found = self.get(query, baseline, self.clock.now(), cancel)
        if found is not None:
            return found
        return Baseline(None, f"the baseline window {window_text(baseline)} is not over yet")

    def get(
        self,
        query: str,
        baseline: model.BaselineWindow,
        judged_from: datetime | None,
        cancel: CancelToken | None = None,
    ) -> Baseline | None:
        """The baseline of ``query`` over ``baseline``: journaled, or measured now if its window
        is over; None while it is not. ``judged_from``: when what judges by it starts."""
        key = BaselineKey.of(query, baseline)
        with self._lock:
            if key in self.measured and not self._retry_due(key):
                return self.measured[key]
            guard = self._measuring.setdefault(key, threading.Lock())
        stretch = baseline_range(baseline, self.times, judged_from)
        if stretch is None or self.clock.now() < stretch[1]:
            return None
        with guard:  # two guards sharing a baseline: the second waits and reads the first's
            if key in self.measured and not self._retry_due(key):
                return self.measured[key]
            measured = self._measure(key, stretch, cancel)
            with self._lock:
                self.measured[key] = measured
                self._unmeasured_at[key] = self.clock.real_seconds()
            return measured

    def _retry_due(self, key: BaselineKey) -> bool:
        """A baseline measured without a value (a Prometheus blip as its window closed) is
        measured again every RETRY_SECONDS of real time: its window is history by then, and
        keeping "none" would leave a relative guard inconclusive for the rest of the launch."""
        if self.measured[key].value is not None:
            return False
        failed = self._unmeasured_at.get(key)
        return failed is None or self.clock.real_seconds() - failed >= RETRY_SECONDS

    def _measure(
        self, key: BaselineKey, stretch: tuple[datetime, datetime], cancel: CancelToken | None
    ) -> Baseline:
        start, end = (self.clock.real_at(moment) for moment in stretch)
        if not self.url:
            measured = Baseline(None, "no prometheus url configured", 0, start, end)
        else:
            deadline = Deadline.after(DEADLINE_SECONDS, cancel)
            measured = measure_baseline(self.http, self.url, key.query, start, end, deadline)
        self.emit("baseline_measured", **journal_fields(key, measured, self.users.get(key, [])))
        return measured


def journal_fields(key: BaselineKey, measured: Baseline, used_by: list[str]) -> dict[str, Any]:
    """``baseline_measured``'s fields for a baseline measured before the journal existed."""
    return {
        "query": key.query,
        "window": key.window,
        "value": measured.value,
        "status": "ok" if measured.value is not None else "inconclusive",
        "reason": measured.reason or None,
        "points": measured.points,
        "start": iso(measured.start) if measured.start else None,
        "end": iso(measured.end) if measured.end else None,
        "fetch_s": measured.fetch_s,
        "used_by": used_by or None,
    }


def measure_before_start(
    book: model.Runbook, values: Mapping[str, str], url: str | None, t0: datetime
) -> list[dict[str, Any]]:
    """A late start: the baselines whose window was over before the launch began, measured now
    from history. One that is 0 under a factor is visible now, so it is refused now
    (``ValidationFailed``, at the threshold that needs it) rather than blinding the launch later.
    Returns the ``baseline_measured`` fields to journal once the launch has started."""
    events: list[dict[str, Any]] = []
    keyed = users(book, values)
    meter = BaselineBook(
        url, ScaledClock(), LaunchTimes(t0), lambda _e, **f: events.append(f), keyed
    )
    try:
        for key in keyed:
            if key.span is not None:
                meter.get(key.query, key.span, None)
    finally:
        meter.close()
    problems = [
        Diagnostic(str(book.source), mark.line, mark.column, f"{where}: {message}")
        for where, mark, message in _zero_under_factor(book, values, meter.measured)
    ]
    if problems:
        raise ValidationFailed(problems)
    return events


def _zero_under_factor(
    book: model.Runbook, values: Mapping[str, str], measured: Mapping[BaselineKey, Baseline]
) -> Iterable[tuple[str, Any, str]]:
    judged: list[tuple[str, Any, str, model.BaselineWindow | None, Any]] = [
        (f"guards[{i}].breach", g.marks.get("breach"), g.query, g.baseline, g.breach)
        for i, g in enumerate(book.guards)
    ]
    judged += [
        (
            f"steps[{s}].check[{c}].expect",
            crit.marks.get("expect"),
            crit.query,
            crit.baseline,
            crit.expect,
        )
        for s, step in enumerate(book.steps)
        for c, crit in enumerate(step.check)
        if isinstance(crit, model.PrometheusCriterion)
    ]
    for where, mark, query, baseline, threshold in judged:
        if baseline is None or not threshold.multiplies or mark is None:
            continue
        found = measured.get(BaselineKey.of(render_text(query, values), baseline))
        if found is not None and found.value is not None and found.value <= 0:
            wrong = (
                f"{threshold} of 0 compares with 0"
                if found.value == 0
                else f"a factor of a negative baseline turns {threshold} around"
            )
            yield (
                where,
                mark,
                (
                    f"the baseline over {window_text(baseline)} is {found.value:g} (measured now: "
                    f"the launch starts after that window), and {wrong}; use a threshold such "
                    "as '> baseline + 0.01', or a fixed one"
                ),
            )
