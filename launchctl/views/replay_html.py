"""A replay as one self-contained HTML page: the verdict, one chart per guard (the launch
record's chart), the checks and the sweep table. Inline CSS and SVG only."""

from __future__ import annotations

from html import escape

from launchctl.replay.evaluate import ReplayResult, verdict_line
from launchctl.views.guard_chart import GuardChart, render_chart
from launchctl.views.replay_report import guard_action, to_data, wall
from launchctl.views.report_html import CSS
from rollback.guard_replay import GuardReplay

VERDICT_COLOURS = {
    "completed": "#2e7d32",
    "warn": "#f9a825",
    "ask": "#ef6c00",
    "rollback": "#c62828",
}


def chart_of(result: ReplayResult, replay: GuardReplay) -> GuardChart:
    g = replay.guard
    return GuardChart(
        guard=g.id,
        threshold=g.breach.threshold,
        comparator=g.breach.op,
        points=[(s.at, s.value) for s in replay.samples],
        window=replay.window,
        breach_at=replay.breach_started if replay.verdict is not None else replay.first_breach,
        action_at=replay.fired_at,
        action=f"would {guard_action(replay)}" if replay.fired_at else "",
        t0=result.times.t0,
    )


def render_html(result: ReplayResult) -> str:
    data = to_data(result)
    colour = VERDICT_COLOURS.get(result.outcome.verdict, "#555")
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>Replay: {escape(result.book.name)}</title><style>{CSS}</style></head><body>",
        f"<h1>Replay: {escape(result.book.name)}</h1>",
        f"<p><span class=badge id=verdict style='background:{colour}'>{escape(verdict_line(result))}</span></p>",
        f"<table class=meta><tr><td>T0</td><td>{escape(wall(result.times.t0))}</td></tr>"
        f"<tr><td>Go-live</td><td>{escape(wall(result.times.go_live))}</td></tr>"
        f"<tr><td>History</td><td>{escape(result.source)}</td></tr></table>",
        "<h2>Guards</h2>",
    ]
    for replay, entry in zip(result.guards, data["guards"], strict=True):
        margin = "" if entry["margin"] is None else f", margin {entry['margin']:g}"
        parts.append(
            f"<h3>{escape(replay.guard.id)} <small>{escape(entry['breach'])}, then {escape(replay.guard.then.value)}</small></h3>"
            f"<p class=meta>{entry['samples']} samples, {entry['inconclusive']} inconclusive{escape(margin)}"
            f"{' — ' + escape(entry['reason']) if entry['reason'] else ''}</p>"
        )
        parts.append(render_chart(chart_of(result, replay)))
    parts.append(_checks(data))
    parts.append(_sweep(data))
    parts.append("</body></html>")
    return "\n".join(p for p in parts if p)


def _checks(data: dict) -> str:
    if not data["checks"]:
        return ""
    rows = "".join(
        f"<tr><td>{escape(c['step'])}[{c['index']}]</td><td><code>{escape(c['query'])}</code></td>"
        f"<td>{escape(c['expect'])}</td><td>{escape(c['result'])}</td><td>{escape(c['reason'])}</td></tr>"
        for c in data["checks"]
    )
    return (
        "<h2>Checks</h2><table class=grid><tr><th>Check</th><th>Query</th><th>Expect</th>"
        "<th>Result</th><th>Detail</th></tr>" + rows + "</table>"
    )


def _sweep(data: dict) -> str:
    if "sweep" not in data:
        return ""
    rows = "".join(
        f"<tr><td>{r['threshold']:g}</td><td>{'yes' if r['fired'] else 'no'}</td>"
        f"<td>{'' if r['at'] is None else r['at']}</td><td>{escape(r['action'])}</td>"
        f"<td>{'' if r['margin'] is None else format(r['margin'], 'g')}</td></tr>"
        for r in data["sweep"]
    )
    return (
        "<h2>Threshold sweep</h2><table class=grid id=sweep><tr><th>Threshold</th><th>Fired</th>"
        "<th>At (s from T0)</th><th>Action</th><th>Margin</th></tr>" + rows + "</table>"
    )
