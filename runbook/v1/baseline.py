"""``baseline: {from: T-30m, to: T-5m}``: where a relative threshold's baseline is measured.

A guard's ``breach`` or a Prometheus check's ``expect`` may be relative to the
same query's average over this window (``"> 1.5x baseline"``); the window
defaults to T-30m..T-5m. Written beside an absolute threshold it would be
measured for nothing, so it is refused there, except in ``checkpoints:``,
whose record shows every metric against its baseline.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from runbook import model
from runbook.durations import format_offset
from runbook.schema.records import INVALID, Context, Field, Record, mark_of
from runbook.schema.yaml_tree import YMap
from runbook.v1.scalars import Offset

CHECKPOINT_SCOPE = "checkpoints"


def _build_window(values: dict[str, Any], node: YMap, path: str, ctx: Context) -> Any:
    start, end = values["from"], values["to"]
    if end <= start:
        ctx.error(
            mark_of(node, "to"),
            f"{path}.to",
            f"the baseline window must end after it starts ({format_offset(start)})",
        )
        return INVALID
    return model.BaselineWindow(start, end)


BASELINE = Field(
    Record(
        "baseline window",
        {
            "from": Field(Offset(), required=True, doc="where the window starts, e.g. T-30m"),
            "to": Field(Offset(), required=True, doc="where it ends and is measured, e.g. T-5m"),
        },
        _build_window,
    ),
    doc="where the baseline of a relative threshold ('> 1.5x baseline') is measured: the "
    "query's average over this window (default T-30m..T-5m)",
)


def baseline_window(
    values: dict[str, Any], node: YMap, path: str, ctx: Context, threshold_key: str
) -> Any:
    """The window to measure, None when nothing needs a baseline, or INVALID (reported)."""
    window = values["baseline"]
    relative = values[threshold_key].relative is not None
    if CHECKPOINT_SCOPE in ctx.scope:
        return window or model.DEFAULT_BASELINE
    if window is not None and not relative:
        ctx.error(
            mark_of(node, "baseline"),
            f"{path}.baseline",
            f"only applies to a threshold relative to the baseline (e.g. '> 1.5x baseline'), "
            f"not {values[threshold_key]}",
        )
        return INVALID
    return (window or model.DEFAULT_BASELINE) if relative else None


def check_before_window(
    window: model.BaselineWindow | None,
    opens: timedelta,
    marks: Any,
    path: str,
    ctx: Context,
    what: str,
    threshold_key: str,
) -> bool:
    """A baseline measured while the thing it judges is already watching would measure the launch
    itself: its window must end no later than ``opens``. ``marks`` locate the record's keys; the
    error points at ``baseline`` where written, else at the threshold that asked for the default."""
    if window is None or window.end <= opens:
        return True
    key = "baseline" if "baseline" in marks else threshold_key
    ctx.error(
        marks[key],
        f"{path}.{key}",
        f"the baseline window {format_offset(window.start)}..{format_offset(window.end)} ends "
        f"after {what} at {format_offset(opens)}: a baseline is measured before it judges anything",
    )
    return False
