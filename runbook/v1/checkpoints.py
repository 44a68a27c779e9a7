"""``checkpoints:``, the watch after the launch: what to check, on which schedule, and the reviews.

    checkpoints:
      check: [...]                      # criteria, as a step's check
      schedule:
        - {every: 2h, until: T+24h}     # T+2h, T+4h, ... T+24h
        - {every: 4h, until: T+48h}     # from the previous entry's end: T+28h ... T+48h
      review: [T+24h, T+48h]
      then: notify                      # or ask; never a rollback by itself

Offsets are T+ from the launch's recorded go-live; a checkpoint before it is
the launch's own business (its guards), and two schedule entries may not
cover the same stretch: each problem is reported at its key.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from runbook import model
from runbook.durations import format_duration, format_offset
from runbook.schema.records import INVALID, Context, Field, ListOf, Record, Type, mark_of
from runbook.schema.scalars import Choice
from runbook.schema.yaml_tree import YMap, YNode, YSeq
from runbook.v1.baseline import CHECKPOINT_SCOPE
from runbook.v1.common import given, marks
from runbook.v1.scalars import Duration, Offset
from runbook.values import value

MAX_SLOTS = 1000
"""A schedule with more checkpoints than this is a typo (``every: 1m`` for two days), not a plan."""


@value
class _Entry:
    """A schedule entry as written: ``start`` is None when it follows the previous one."""

    start: timedelta | None
    every: timedelta
    until: timedelta
    marks: dict[str, Any]


def _build_cadence(values: dict[str, Any], node: YMap, path: str, ctx: Context) -> Any:
    return _Entry(values["from"], values["every"], values["until"], marks(node))


class AfterGoLive(Offset):
    """A T+ offset of the watch after the launch; ``T+0`` itself only where a stretch starts."""

    def __init__(self, zero_ok: bool = False) -> None:
        self.zero_ok = zero_ok

    def convert(self, node: YNode, path: str, ctx: Context) -> Any:
        offset = super().convert(node, path, ctx)
        if offset is INVALID:
            return INVALID
        if offset < timedelta(0) or (offset == timedelta(0) and not self.zero_ok):
            ctx.error(
                node.mark,
                path,
                f"{format_offset(offset)} is not after go-live: checkpoints watch after T+0 "
                "(before it, the launch's guards and checks do)",
            )
            return INVALID
        return offset


CADENCE = Record(
    "checkpoint schedule entry",
    {
        "every": Field(Duration(positive=True), required=True, doc="time between checkpoints"),
        "until": Field(
            AfterGoLive(), required=True, doc="the last checkpoint of this entry, e.g. T+24h"
        ),
        "from": Field(
            AfterGoLive(zero_ok=True),
            doc="where the entry starts (no checkpoint at it); default the previous entry's "
            "`until`, or T+0",
        ),
    },
    _build_cadence,
)


def _schedule(entries: tuple[_Entry, ...], path: str, ctx: Context) -> Any:
    """Each entry starts where the previous one ended unless it says ``from``; overlapping entries
    and entries with no checkpoint in them are refused at their keys."""
    schedule: list[model.Cadence] = []
    previous_end = timedelta(0)
    for index, entry in enumerate(entries):
        where = f"{path}.schedule[{index}]"
        start = previous_end if entry.start is None else entry.start
        if start < previous_end:
            ctx.error(
                entry.marks["from"],
                f"{where}.from",
                f"{format_offset(start)} overlaps the previous schedule entry, which runs until "
                f"{format_offset(previous_end)}",
            )
            return INVALID
        if entry.until <= start:
            ctx.error(
                entry.marks["until"],
                f"{where}.until",
                f"{format_offset(entry.until)} is not after where this entry starts "
                f"({format_offset(start)}){'; entries run one after the other' if index else ''}",
            )
            return INVALID
        if entry.every > entry.until - start:
            ctx.error(
                entry.marks["every"],
                f"{where}.every",
                f"every {format_duration(entry.every)} leaves no checkpoint between "
                f"{format_offset(start)} and {format_offset(entry.until)}",
            )
            return INVALID
        schedule.append(model.Cadence(entry.every, entry.until, start, entry.marks))
        previous_end = entry.until
    return tuple(schedule)


def _reviews(values: dict[str, Any], node: YMap, path: str, ctx: Context) -> bool:
    reviews = values["review"] or ()
    review_node = node.items.get("review")
    for index, offset in enumerate(reviews):
        if offset in reviews[:index]:
            mark = review_node.items[index].mark if isinstance(review_node, YSeq) else node.mark
            ctx.error(mark, f"{path}.review[{index}]", f"{format_offset(offset)} is listed twice")
            return False
    return True


def _build_checkpoints(values: dict[str, Any], node: YMap, path: str, ctx: Context) -> Any:
    if values["schedule"] is None and values["review"] is None:
        ctx.error(node.mark, path, "needs a schedule, a review, or both")
        return INVALID
    reviews_ok = _reviews(values, node, path, ctx)
    schedule = _schedule(values["schedule"] or (), path, ctx)
    if schedule is INVALID or not reviews_ok:
        return INVALID
    reviews = values["review"] or ()
    checkpoints = model.Checkpoints(
        check=values["check"],
        schedule=schedule,
        reviews=tuple(sorted(reviews)),
        then=model.CheckpointAction(given(values["then"], "notify")),
        marks=marks(node),
    )
    if len(checkpoints.slots()) > MAX_SLOTS:
        ctx.error(
            mark_of(node, "schedule"),
            f"{path}.schedule",
            f"{len(checkpoints.slots())} checkpoints; at most {MAX_SLOTS} (a longer `every`?)",
        )
        return INVALID
    return checkpoints


def checkpoints_record(criterion: Type) -> Record:
    """The section, given the criterion type steps use (declared in ``runbook.v1.document``)."""
    return Record(
        "checkpoints",
        {
            "check": Field(
                ListOf(criterion, min_items=1, single_ok=True),
                required=True,
                doc="criteria every checkpoint evaluates; each Prometheus one is also shown "
                "against its baseline (`baseline:`, default T-30m..T-5m)",
            ),
            "schedule": Field(
                ListOf(CADENCE, min_items=1),
                doc="when: entries of {every, until[, from]}, one after the other",
            ),
            "review": Field(
                ListOf(AfterGoLive(), min_items=1, single_ok=True),
                doc="formal reviews (T+ offsets, one or a list): a checkpoint, and a message",
            ),
            "then": Field(
                Choice(["notify", "ask"]),
                doc="on a failed checkpoint: notify the channels (default), or also ask the "
                "person running `launchctl watch`; never a rollback by itself",
            ),
        },
        _build_checkpoints,
        scope=(CHECKPOINT_SCOPE,),
        doc="post-launch checkpoints run by `launchctl watch` and `launchctl checkpoint`",
    )
