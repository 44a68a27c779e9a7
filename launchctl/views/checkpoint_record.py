"""The watch after the launch as the record shows it, from the journal alone: each checkpoint's
result, each metric's trend against its baseline, what is next, and "declared stable" once the
last checkpoint passed. ``status`` and the reports (Markdown, JSON, HTML) read it from here."""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape
from typing import Any

from launchctl.journal.catalogue import parse_iso
from launchctl.journal.replay import LaunchState

SPARK = "▁▂▃▄▅▆▇█"
MARKS = {"pass": "✓", "fail": "✗", "inconclusive": "?", "missed": "–"}


def checkpoint_data(state: LaunchState) -> dict[str, Any] | None:
    """None for a launch without checkpoints; else the schedule's progress and results."""
    schedule = state.launch.get("checkpoints") or []
    results = state.checkpoints
    if not schedule and not results:
        return None
    done = {str(r.get("slot")) for r in results}
    latest = results[-1] if results else None
    stable = next((r["slot"] for r in results if r.get("last") and r.get("status") == "pass"), None)
    return {
        "planned": len(schedule) or None,
        "done": len(done),
        "results": [_result(r) for r in results],
        "metrics": _metrics(results),
        "baselines": list(state.baselines),
        "next": _next(state, schedule, done, latest),
        "declared_stable": stable,
    }


def _result(event: dict[str, Any]) -> dict[str, Any]:
    keys = ("slot", "due", "review", "status", "reason", "late_s", "checks")
    return {key: event.get(key) for key in keys}


def _metrics(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per check (by position): what it is, its baseline, and its value slot by slot."""
    metrics: list[dict[str, Any]] = []
    for result in results:
        for index, check in enumerate(result.get("checks") or []):
            if index == len(metrics):
                metrics.append(
                    {
                        "kind": check.get("kind"),
                        "subject": check.get("subject"),
                        "expect": check.get("expect"),
                        "baseline": check.get("baseline"),
                        "values": [],
                        "ratios": [],
                    }
                )
            metric = metrics[index]
            metric["baseline"] = metric["baseline"] or check.get("baseline")
            metric["values"].append(check.get("value"))
            metric["ratios"].append(check.get("ratio"))
    return metrics


def _next(
    state: LaunchState, schedule: list[dict[str, Any]], done: set[str], latest: Any
) -> dict[str, Any] | None:
    if latest is not None:
        nxt = latest.get("next")
        return {"slot": nxt, "due": latest.get("next_due")} if nxt else None
    anchor = next(
        (e.get("anchor") for e in reversed(state.guard_events) if e["event"] == "guards_anchored"),
        None,
    )
    for item in schedule:
        if item["slot"] not in done:
            due = parse_iso(anchor) + timedelta(seconds=float(item["offset_s"])) if anchor else None
            return {"slot": item["slot"], "due": _iso(due)}
    return None


def _iso(moment: datetime | None) -> str | None:
    from launchctl.journal.catalogue import iso

    return iso(moment) if moment else None


def status_line(data: dict[str, Any] | None) -> str | None:
    """One line for ``status``: where the watch stands."""
    if data is None:
        return None
    progress = f"{data['done']}/{data['planned']}" if data["planned"] else str(data["done"])
    last = data["results"][-1] if data["results"] else None
    parts = [f"checkpoints: {progress} done"]
    if last is not None:
        parts.append(f"last {last['slot']} {last['status']}")
    if data["declared_stable"]:
        parts.append(f"declared stable at {data['declared_stable']}")
    elif data["next"]:
        due = data["next"]["due"]
        parts.append(f"next {data['next']['slot']}" + (f" at {_local(due)}" if due else ""))
    return "; ".join(parts)


def _local(stamp: str) -> str:
    return parse_iso(stamp).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def _cell(check: dict[str, Any]) -> str:
    value = check.get("value")
    shown = "—" if value is None else f"{value:.4g}"
    ratio = check.get("ratio")
    against = f" ({ratio:.2f}× baseline)" if ratio is not None else ""
    return f"{MARKS.get(check.get('status'), '')} {shown}{against}".strip()


def trend(ratios: list[float | None]) -> str:
    """The metric slot after slot against its baseline, from 0 to at least 2×: the service's
    normal (1×) sits mid-height, a rise climbs, a fall sinks."""
    values = [r for r in ratios if r is not None]
    if not values:
        return ""
    low, high = min(0.0, *values), max(2.0, *values)
    span = (high - low) or 1.0
    return "".join(
        SPARK[min(7, int((r - low) / span * 7.999))] if r is not None else " " for r in ratios
    )


def markdown_lines(data: dict[str, Any] | None) -> list[str]:
    if data is None:
        return []
    lines = ["", "## Checkpoints", ""]
    if data["declared_stable"]:
        lines += [
            f"**Declared stable at {data['declared_stable']}**: the last checkpoint passed.",
            "",
        ]
    elif data["next"]:
        lines += [f"Next checkpoint: {data['next']['slot']} (due {data['next']['due']}).", ""]
    metrics = data["metrics"]
    header = ["Checkpoint", "Result", *[f"check {i + 1}" for i in range(len(metrics))]]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for result in data["results"]:
        review = " (review)" if result.get("review") else ""
        cells = [_escape(_cell(check)) for check in result.get("checks") or []]
        lines.append(
            f"| {result['slot']}{review} | {result['status']} | " + " | ".join(cells) + " |"
        )
    lines.append("")
    for index, metric in enumerate(metrics):
        baseline = metric["baseline"]
        against = f"; baseline {baseline:.4g}, trend {trend(metric['ratios'])}" if baseline else ""
        expect = f" {metric['expect']}" if metric.get("expect") else ""
        lines.append(
            f"- check {index + 1}: {metric['kind']} `{_escape(metric['subject'])}`{expect}{against}"
        )
    failed = [r for r in data["results"] if r["status"] not in ("pass",)]
    for result in failed:
        lines.append(f"- {result['slot']} {result['status']}: {_escape(result['reason'] or '')}")
    return lines


def html_section(data: dict[str, Any] | None) -> str:
    if data is None:
        return ""
    metrics = data["metrics"]
    head = "".join(f"<th>check {i + 1}</th>" for i in range(len(metrics)))
    rows = "".join(
        f"<tr><td>{escape(str(r['slot']))}{' (review)' if r.get('review') else ''}</td>"
        f"<td>{escape(str(r['status']))}</td>"
        + "".join(f"<td>{escape(_cell(c))}</td>" for c in r.get("checks") or [])
        + "</tr>"
        for r in data["results"]
    )
    legend = "".join(
        f"<li>check {i + 1}: {escape(str(m['kind']))} <code>{escape(str(m['subject']))}</code> "
        f"{escape(str(m.get('expect') or ''))}"
        + (f"; baseline {m['baseline']:.4g}, trend {trend(m['ratios'])}" if m["baseline"] else "")
        + "</li>"
        for i, m in enumerate(metrics)
    )
    stable = (
        f"<p><b>Declared stable at {escape(data['declared_stable'])}</b>: the last checkpoint passed.</p>"
        if data["declared_stable"]
        else ""
    )
    return (
        f"<h2>Checkpoints</h2>{stable}<table class=grid><tr><th>Checkpoint</th><th>Result</th>"
        f"{head}</tr>{rows}</table><ul>{legend}</ul>"
    )


def _escape(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
