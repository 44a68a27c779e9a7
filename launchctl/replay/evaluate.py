"""Assemble a replay: the resolved launch, its moments, its history, and what it would have done.

The runbook is resolved with ``template_values`` for the given T0 exactly as a
launch resolves it (one resolve pass); guards are judged by
``rollback.guard_replay`` (the live decision code), checks by
``launchctl.replay.checks``. Nothing is run, notified or journaled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from launchctl.journal.catalogue import iso
from launchctl.replay.checks import CheckReplay, replay_checks
from launchctl.replay.sources import JournalHistory, PrometheusHistory, SeriesFile, SeriesSource
from launchctl.replay.timeline import scheduled_times
from launchctl.replay.whatif import Sweep, with_threshold
from rollback.guard_replay import GuardReplay, Series, replay_guard
from rollback.guards import LaunchTimes, VerdictKind
from runbook import model
from runbook.durations import format_duration, format_offset
from runbook.errors import InputError
from runbook.resolve import resolve, template_values
from runbook.templating import secret_refs
from steps.baseline import Baseline
from steps.executor import prometheus_url, render_text

FETCH_AT_ONCE = 4
ACTION_WORDS = {"rollback": "rolled back", "ask": "asked a person", "warn": "warned"}


@dataclass(frozen=True)
class ReplayRequest:
    t0: datetime | None
    now: datetime
    series_file: Path | None = None
    journal: Path | None = None
    sweep: Sweep | None = None


@dataclass(frozen=True)
class Outcome:
    verdict: str  # completed | rollback | ask | warn
    at: datetime | None = None
    reason: str = ""


@dataclass
class ReplayResult:
    book: model.Runbook
    times: LaunchTimes
    source: str
    guards: list[GuardReplay]
    checks: list[CheckReplay]
    outcome: Outcome
    sweep: list[tuple[float, GuardReplay]] | None = None
    series: dict[str, Series] = field(default_factory=dict)
    saved_answers: dict | None = None

    def offset(self, moment: datetime) -> str:
        return format_offset(moment - self.times.t0)


def run_replay(
    book: model.Runbook, request: ReplayRequest, environ: Mapping[str, str]
) -> ReplayResult:
    journal = JournalHistory(request.journal) if request.journal else None
    t0 = request.t0 or (journal.t0 if journal else book.t0)
    if t0 is None:
        raise InputError("replay needs --t0: the past moment go-live would have been")
    if t0 > request.now:
        raise InputError(f"--t0 {iso(t0)} is in the future; replay judges history (give a past T0)")
    launch_id = journal.launch.get("launch_id", "replay") if journal else "replay"
    values = template_values(book, t0=iso(t0), launch_id=launch_id)
    book = resolve(book, values)
    times = (
        scheduled_times(book, t0, journal.anchor, journal.finished or None)
        if journal
        else scheduled_times(book, t0)
    )
    source, label, history = _source(book, request, journal, values, environ)
    try:
        series, baselines = _fetch_all(book, source, values, times)
        guards = [replay_guard(g, times, series[g.id], baselines.get(g.id)) for g in book.guards]
        url = prometheus_url(book, values, environ) if history is not None else None
        session = history.session if history is not None else None
        checks = replay_checks(book, times, values, url, request.now, session)
    finally:
        if history is not None:
            history.close()
    result = ReplayResult(book, times, label, guards, checks, Outcome("completed"), series=series)
    result.outcome = decide(result)
    if request.sweep is not None:
        result.sweep = sweep(book, times, series, request.sweep, baselines)
    if history is not None:
        result.saved_answers = history.answers
    return result


def _fetch_all(
    book: model.Runbook, source: SeriesSource, values: Mapping[str, str], times: LaunchTimes
) -> tuple[dict[str, Series], dict[str, Baseline]]:
    """Every guard's series, and the baseline of each relative one; a few range queries at once
    (Prometheus answers them in parallel)."""
    from concurrent.futures import ThreadPoolExecutor

    def fetch(guard: model.Guard) -> tuple[Series, Baseline | None]:
        query = render_text(guard.query, values)
        measured = source.baseline(guard, query, times) if guard.baseline is not None else None
        return source.series(guard, query, times), measured

    with ThreadPoolExecutor(max_workers=FETCH_AT_ONCE) as pool:
        fetched = dict(zip([g.id for g in book.guards], pool.map(fetch, book.guards), strict=True))
    series = {guard: found[0] for guard, found in fetched.items()}
    baselines = {guard: found[1] for guard, found in fetched.items() if found[1] is not None}
    return series, baselines


def _source(
    book: model.Runbook,
    request: ReplayRequest,
    journal: JournalHistory | None,
    values: Mapping[str, str],
    environ: Mapping[str, str],
) -> tuple[SeriesSource, str, PrometheusHistory | None]:
    if journal is not None:
        return journal, f"journal {request.journal}", None
    if request.series_file is not None:
        return SeriesFile(request.series_file), f"series file {request.series_file}", None
    url = prometheus_url(book, values, environ)
    if not url:
        raise InputError(
            "replay needs Prometheus: the runbook has no prometheus.url (or use --series)"
        )
    missing = [n for n, _ in secret_refs(book.prometheus_url or "") if not environ.get(n)]
    if missing:
        raise InputError(f"prometheus.url needs secret {missing[0]}, not set in the environment")
    history = PrometheusHistory(url, request.now)
    shown = book.prometheus_url or url
    return history, f"Prometheus {shown}", history


def sweep(
    book: model.Runbook,
    times: LaunchTimes,
    series: dict[str, Series],
    plan: Sweep,
    baselines: Mapping[str, Baseline] | None = None,
) -> list[tuple[float, GuardReplay]]:
    """The swept guard judged at each threshold, on the history already fetched (a relative
    threshold sweeps its factor or offset, against the same baseline)."""
    guard = next(g for g in book.guards if g.id == plan.guard)
    baseline = (baselines or {}).get(guard.id)
    return [
        (t, replay_guard(with_threshold(guard, t), times, series[guard.id], baseline))
        for t in plan.thresholds
    ]


def verdict_reason(result: GuardReplay) -> str:
    verdict = result.verdict
    if verdict is None:
        return ""
    guard = result.guard
    if verdict.kind is VerdictKind.BLIND:
        return verdict.reason.replace(f"guard '{guard.id}'", f"guard {guard.id}", 1)
    held = f" (held {format_duration(verdict.held)})" if guard.hold.total_seconds() > 0 else ""
    return f"guard {guard.id} {verdict.value:g} {guard.breach}{held}"


def decide(result: ReplayResult) -> Outcome:
    """The earliest thing that would have stopped the launch: a guard's rollback or ask, or a
    failed check's ``on_failure``; else ``warn`` when a guard only warned, else completed."""
    stops: list[tuple[datetime, str, str]] = []
    warned: list[tuple[datetime, str]] = []
    for guard in result.guards:
        if guard.verdict is None or guard.fired_at is None:
            continue
        if guard.verdict.action.value == "warn":
            warned.append((guard.fired_at, verdict_reason(guard)))
        else:
            stops.append((guard.fired_at, guard.verdict.action.value, verdict_reason(guard)))
    for check in result.checks:
        if check.stops_launch:
            action = "ask" if check.step.on_failure.value == "ask" else "rollback"
            stops.append((check.at, action, f"check {check.step.id}[{check.index}] {check.reason}"))
    if stops:
        at, action, reason = min(stops, key=lambda stop: stop[0])
        return Outcome(action, at, reason)
    if warned:
        at, reason = min(warned)
        return Outcome("warn", at, reason)
    return Outcome("completed")


def verdict_line(result: ReplayResult) -> str:
    outcome = result.outcome
    if outcome.verdict == "completed" or outcome.at is None:
        return "would have completed"
    if outcome.verdict == "warn":
        return (
            f"would have completed, with a warning at {result.offset(outcome.at)}: {outcome.reason}"
        )
    return f"would have {ACTION_WORDS[outcome.verdict]} at {result.offset(outcome.at)}: {outcome.reason}"
