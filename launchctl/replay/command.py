"""``launchctl replay`` behind the CLI: options to a ``ReplayRequest``, the result to text and an
exit code (0 would have completed, 1 would have rolled back or asked; bad input raises)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from launchctl.engine.schedule import parse_t0
from launchctl.replay.evaluate import ReplayRequest, run_replay
from launchctl.replay.sources import save_series as write_series
from launchctl.replay.whatif import apply_settings, parse_sweep
from runbook import model
from runbook.errors import EXIT_OK, EXIT_ROLLED_BACK, InputError
from steps.clock import utcnow


def replay_command(
    book: model.Runbook,
    *,
    t0: str | None,
    settings: tuple[str, ...],
    sweep: str | None,
    series: Path | None,
    journal: Path | None,
    save_series: Path | None,
    fmt: str,
    environ: Mapping[str, str],
) -> tuple[str, int]:
    if series is not None and journal is not None:
        raise InputError("--series and --journal are two sources of history; give one")
    if save_series is not None and (series or journal):
        raise InputError(
            "--save-series keeps what Prometheus answered; it needs no --series/--journal"
        )
    now = utcnow()
    book = apply_settings(book, settings)
    request = ReplayRequest(
        t0=parse_t0(t0, now) if t0 else None,
        now=now,
        series_file=series,
        journal=journal,
        sweep=parse_sweep(book, sweep) if sweep else None,
    )
    result = run_replay(book, request, environ)
    if save_series is not None and result.saved_answers is not None:
        write_series(save_series, result.saved_answers)
    if fmt == "json":
        from launchctl.views.replay_report import render_json

        text = render_json(result)
    elif fmt == "html":
        from launchctl.views.replay_html import render_html

        text = render_html(result)
    else:
        from launchctl.views.replay_report import render_text

        text = render_text(result)
    stopped = result.outcome.verdict in ("rollback", "ask")
    return text, EXIT_ROLLED_BACK if stopped else EXIT_OK
