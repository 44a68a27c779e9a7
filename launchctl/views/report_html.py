"""The launch record as one self-contained HTML page: inline CSS and SVG, no network assets,
so it can be attached to a ticket or opened on an air-gapped laptop."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from launchctl.journal.replay import LaunchState
from launchctl.views.checkpoint_record import html_section
from launchctl.views.clock_text import event_time, slip_text
from launchctl.views.guard_chart import render_chart
from launchctl.views.guard_record import guard_charts, timeline_marks
from launchctl.views.report import (
    OUTCOMES,
    _dt,
    _hms,
    _when,
    baseline_lines,
    format_value,
    mode_words,
    row_planned,
    row_started,
    row_status,
    to_json_data,
)
from launchctl.views.sanitize import terminal_safe

STATUS_COLOURS = {
    "ok": "#2e7d32",
    "failed": "#c62828",
    "interrupted": "#c62828",
    "skipped": "#f9a825",
    "started": "#1565c0",
    "pending": "#9e9e9e",
}
CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#1a1a1a;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
.badge{display:inline-block;padding:.2rem .6rem;border-radius:4px;color:#fff;font-weight:600}
.meta{color:#555}.meta td{padding:.1rem 1rem .1rem 0}
table.grid{border-collapse:collapse;width:100%;font-size:13px}table.grid th,table.grid td{border-bottom:1px solid #eee;padding:.3rem .4rem;text-align:left;vertical-align:top}
table.grid th{background:#fafafa}code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
pre{background:#f6f8fa;padding:.6rem;overflow:auto;border-radius:4px}.warn{background:#fff8e1;border-left:4px solid #f9a825;padding:.5rem .8rem}
.bad{background:#ffebee;border-left:4px solid #c62828;padding:.5rem .8rem}svg text{font:11px system-ui,sans-serif}
"""


def render_html(state: LaunchState) -> str:
    data = to_json_data(state)
    outcome = data["outcome"]
    colour = (
        "#2e7d32"
        if outcome == "completed"
        else "#c62828"
        if outcome != "in_progress"
        else "#1565c0"
    )
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>Launch record: {escape(data['name'] or '')}</title><style>{CSS}</style></head><body>",
        f"<h1>Launch record: {escape(data['name'] or '')}</h1>",
        f"<p><span class=badge style='background:{colour}'>{escape(OUTCOMES.get(outcome, outcome))}</span>"
        + (f" &nbsp;exit {data['exit_code']}" if data["exit_code"] is not None else "")
        + "</p>",
        _meta(data),
        _gate(data),
        "<h2>Timeline</h2>",
        _timeline_svg(data, timeline_marks(state)),
        _steps_table(data, state),
        _fleet(data),
        _failures(data),
        _checks(data),
        _guards(data, state),
        _remedy(data, "rollback", "Rollback"),
        _remedy(data, "roll_forward", "Roll-forward"),
        html_section(data["checkpoints"]),
        _decisions(data),
        _notifications(data),
        "</body></html>",
    ]
    # Escaped for HTML piece by piece above; control characters are shown, colour codes dropped.
    return terminal_safe("\n".join(p for p in parts if p), colour=False)


def _meta(data: dict[str, Any]) -> str:
    kind = mode_words(data["mode"])
    rows = [
        (
            "Launch",
            f"<code>{escape(data['launch_id'])}</code> ({escape(kind)}), driven by {escape(str(data['user']))}",
        ),
        ("T0", escape(str(data["t0"]))),
        (
            "Runbook",
            f"<code>{escape(str(data['runbook']))}</code> sha256 <code>{escape((data['runbook_sha256'] or '')[:12])}</code>",
        ),
        (
            "Started / finished",
            f"{escape(_when(data, 'started'))} / {escape(_when(data, 'finished'))}"
            + (f" ({data['duration_s']:.1f}s)" if data["duration_s"] is not None else ""),
        ),
    ]
    if data["clock_note"]:
        rows.append(("Times", escape(data["clock_note"].removeprefix("times: "))))
    return (
        "<table class=meta>"
        + "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in rows)
        + "</table>"
    )


def _gate(data: dict[str, Any]) -> str:
    out = []
    if data["gate"]:
        gate = data["gate"]
        css = "warn" if gate["decision"] != "GO" else "meta"
        reasons = "".join(f"<li>{escape(r)}</li>" for r in gate["reasons"])
        out.append(
            f"<div class={css}><b>Go/no-go: {escape(gate['decision'])}</b> — critical {gate['critical']['passed']}/{gate['critical']['total']}, "
            f"total {gate['total']['passed']}/{gate['total']['total']}<ul>{reasons}</ul></div>"
        )
    if data["gate_override"]:
        out.append(
            f"<p class=bad><b>Go/no-go gate overridden:</b> {escape(data['gate_override'])}</p>"
        )
    if data["paused"]:
        out.append(f"<p class=warn><b>Paused:</b> {escape(str(data['paused'].get('reason')))}</p>")
    return "\n".join(out)


def _timeline_svg(data: dict[str, Any], marks: list[tuple[datetime, str, str]]) -> str:
    """Planned start (hollow diamond) against actual run (bar), per step, on one time axis;
    guard breaches, verdicts and the rollback's start as vertical marks."""
    # On the launch clock (the wall clock outside a rehearsal): where the plan's diamonds are.
    steps = [
        {
            **s,
            "started": s["clock_started"] or s["started"],
            "finished": s["clock_finished"] or s["finished"],
        }
        for s in data["steps"]
    ]
    moments = [
        _dt(s[key]) for s in steps for key in ("planned", "started", "finished") if s.get(key)
    ]
    if moments:
        moments += [moment for moment, _, _ in marks]
    if not moments:
        return "<p>No step has a time yet.</p>"
    start, end = min(moments), max(moments)
    span = max((end - start).total_seconds(), 1.0)
    width, left, row_h = 1000, 200, 22
    height = row_h * len(steps) + 30

    def x(moment: datetime) -> float:
        return left + (width - left - 20) * (moment - start).total_seconds() / span

    shapes = []
    for index, step in enumerate(steps):
        y = 10 + index * row_h
        label = escape(f"{step['offset'] or ''} {step['step']}")
        shapes.append(f"<text x=4 y={y + 14}>{label}</text>")
        shapes.append(
            f"<line x1={left} x2={width - 20} y1={y + row_h - 2} y2={y + row_h - 2} stroke='#f0f0f0'/>"
        )
        colour = STATUS_COLOURS.get(step["status"], "#9e9e9e")
        if step.get("started"):
            x0 = x(_dt(step["started"]))
            x1 = x(_dt(step["finished"])) if step.get("finished") else x0 + 2
            shapes.append(
                f"<rect x={x0:.1f} y={y + 4} width={max(x1 - x0, 3):.1f} height=12 fill='{colour}' rx=2>"
                f"<title>{escape(step['step'])}: {escape(step['status'])}</title></rect>"
            )
        if step.get("planned"):
            px = x(_dt(step["planned"]))
            shapes.append(
                f"<path d='M{px:.1f} {y + 3} l5 7 l-5 7 l-5 -7 z' fill='none' stroke='#333'/>"
            )
    for moment, label, css in marks:
        mx = min(max(x(moment), left), width - 20)
        colour = "#ef6c00" if css == "breach-marker" else "#b71c1c"
        shapes.append(
            f"<line class={css} x1={mx:.1f} x2={mx:.1f} y1=4 y2={height - 20} stroke='{colour}' "
            f"stroke-width=2 stroke-dasharray='4 3'><title>{escape(label)} {_hms(moment.isoformat())}</title></line>"
        )
    axis = f"<text x={left} y={height - 4}>{_hms(steps[0].get('planned') or start)}</text>"
    axis += f"<text x={width - 80} y={height - 4}>{escape(end.astimezone().strftime('%H:%M:%S'))}</text>"
    clock = " (on the launch clock)" if data["clock_note"] else ""
    return (
        f"<svg viewBox='0 0 {width} {height}' width='100%' role=img aria-label='timeline'>"
        + "".join(shapes)
        + axis
        + f"</svg><p class=meta>◇ planned start &nbsp; ▬ actual run, coloured by outcome{clock}</p>"
    )


def _steps_table(data: dict[str, Any], state: LaunchState) -> str:
    rows = []
    for step in data["steps"]:
        slip = escape(slip_text(step["late_s"], state.launch))
        duration = f"{step['duration_s']:.1f}s" if step["duration_s"] is not None else ""
        colour = STATUS_COLOURS.get(step["status"], "#555")
        rows.append(
            f"<tr><td>{escape(step['offset'] or '')}</td><td>{escape(step['step'])}</td><td>{escape(step['title'] or '')}</td>"
            f"<td>{escape(row_planned(step, state))}</td><td>{escape(row_started(step))}</td><td>{slip}</td><td>{duration}</td>"
            f"<td style='color:{colour};font-weight:600'>{escape(row_status(step))}</td></tr>"
        )
    return (
        "<table class=grid><tr><th>Offset</th><th>Step</th><th>Title</th><th>Planned</th><th>Actual</th>"
        "<th>Slip</th><th>Duration</th><th>Status</th></tr>" + "".join(rows) + "</table>"
    )


def _fleet(data: dict[str, Any]) -> str:
    """Per wave and per host, for each fan-out step."""
    steps = [step for step in data["steps"] if step.get("fleet_lines")]
    if not steps:
        return ""
    out = ["<h2>Hosts, per wave</h2>"]
    for step in steps:
        items = "".join(f"<li>{escape(line)}</li>" for line in step["fleet_lines"])
        out.append(f"<h3>{escape(step['step'])}</h3><ul>{items}</ul>")
    return "\n".join(out)


def _failures(data: dict[str, Any]) -> str:
    failed = [s for s in data["steps"] if s["reason"] and s["status"] in ("failed", "interrupted")]
    if not failed:
        return ""
    out = ["<h2>Failures</h2>"]
    for step in failed:
        out.append(f"<h3>{escape(step['step'])}</h3><p class=bad>{escape(step['reason'])}</p>")
        for command in step["commands"]:
            if command.get("status") == "ok":
                continue
            out.append(
                f"<p><code>{escape(command['command'])}</code> → exit {escape(str(command.get('exit_code')))}</p>"
            )
            if command.get("tail"):
                out.append("<pre>" + escape("\n".join(command["tail"][-20:])) + "</pre>")
    return "\n".join(out)


def _checks(data: dict[str, Any]) -> str:
    rows = [
        f"<tr><td>{escape(step['step'])}</td><td>{escape(c['kind'])}</td><td><code>{escape(c['subject'])}</code>"
        f"{' [' + escape(c['host']) + ']' if c.get('host') else ''}</td><td>{escape(c['status'])}</td>"
        f"<td>{escape(format_value(c.get('value')))}</td><td>{escape(str(c.get('reason', '')))}</td></tr>"
        for step in data["steps"]
        for c in step["checks"]
    ]
    if not rows:
        return ""
    return (
        "<h2>Checks</h2><table class=grid><tr><th>Step</th><th>Kind</th><th>Subject</th><th>Result</th>"
        "<th>Value</th><th>Detail</th></tr>" + "".join(rows) + "</table>"
    )


def _guards(data: dict[str, Any], state: LaunchState) -> str:
    if not data["guards"]:
        return ""
    out = [
        "<h2>Guards</h2><table class=grid><tr><th>Guard</th><th>Samples</th><th>Last value</th><th>Min / max</th></tr>"
    ]
    for guard, entry in data["guards"].items():
        last = "" if entry["last"] is None else f"{entry['last']:.4g}"
        bounds = "" if entry["min"] is None else f"{entry['min']:.4g} / {entry['max']:.4g}"
        out.append(
            f"<tr><td>{escape(guard)}</td><td>{entry['samples']}</td><td>{last}</td><td>{bounds}</td></tr>"
        )
    out.append("</table>")
    out += [
        f"<p>{escape(line.removeprefix('- '))}</p>" for line in baseline_lines(data["baselines"])
    ]
    out += [render_chart(chart) for chart in guard_charts(state).values()]
    for entry in data["guards"].values():
        for breach in entry["breaches"]:
            out.append(
                f"<p class=bad>{escape(event_time(breach))} {escape(str(breach['reason']))} → {escape(str(breach['action']))}</p>"
            )
    return "\n".join(out)


def _seconds_text(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds:.1f}s"


def _remedy(data: dict[str, Any], key: str, title: str) -> str:
    """The rollback (or roll-forward), apart from the launch's steps: each of its steps in
    order, with when it started, how long it really took, or why it was skipped."""
    rb = data[key]
    if not rb:
        return ""
    rows = "".join(
        f"<tr><td>{escape(s['step'])}</td><td>{escape(row_started(s))}</td>"
        f"<td>{_seconds_text(s['duration_s'])}</td>"
        f"<td style='color:{STATUS_COLOURS.get(s['status'], '#555')}'>{escape(s['status'])}</td>"
        f"<td>{s['attempts']}</td><td>{escape('; '.join(p for p in (s['reason'], s.get('undid')) if p))}</td></tr>"
        for s in rb["steps"]
    )
    took = f" in {rb['duration_s']:.1f}s" if rb["duration_s"] is not None else ""
    return (
        f"<h2>{title}</h2><p class=bad><b>Reason:</b> {escape(str(rb['reason']))}<br><b>Trigger:</b> {escape(str(rb['trigger']))}"
        f"<br><b>Result:</b> {escape(str(rb['status'] or 'in progress'))}{took}</p>"
        "<table class=grid><tr><th>Step</th><th>Started</th><th>Duration</th><th>Status</th>"
        "<th>Attempts</th><th>Detail</th></tr>" + rows + "</table>"
    )


def _decisions(data: dict[str, Any]) -> str:
    if not data["decisions"]:
        return ""
    items = "".join(
        f"<li>{escape(event_time(d))} {escape(str(d.get('user')))}: {escape(str(d.get('question')))} → <b>{escape(str(d.get('answer')))}</b></li>"
        for d in data["decisions"]
    )
    return f"<h2>Operator decisions</h2><ul>{items}</ul>"


def _notifications(data: dict[str, Any]) -> str:
    if not data["notifications"]:
        return ""
    items = "".join(
        f"<li>{escape(event_time(n))} {'would notify: ' if n.get('dry_run') else ''}"
        f"{escape(str(n.get('message')))}</li>"
        for n in data["notifications"]
    )
    dry = " (a dry run: none was sent)" if data["mode"].get("dry_run") else ""
    return f"<h2>Notifications{dry}</h2><ul>{items}</ul>"
