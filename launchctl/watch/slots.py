"""When each checkpoint is due: the runbook's slots hung on the launch's recorded go-live, and which
of them the journal already holds. Pure: ``watch``, ``checkpoint`` and ``status`` share it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from runbook import model
from runbook.durations import format_offset


@dataclass(frozen=True)
class DueSlot:
    label: str  # "T+2h": how the journal, status and report name it
    offset: timedelta
    due: datetime  # launch time
    review: bool
    last: bool  # the final checkpoint: passing it declares the launch stable


def planned(checkpoints: model.Checkpoints) -> list[dict[str, Any]]:
    """The schedule as ``launch_started`` records it, for ``status`` (which reads no runbook)."""
    return [
        {
            "slot": format_offset(slot.offset),
            "offset_s": slot.offset.total_seconds(),
            "review": slot.review,
        }
        for slot in checkpoints.slots()
    ]


def plan(recorded: Sequence[Mapping[str, Any]], go_live: datetime) -> list[DueSlot]:
    """Due moments of a recorded schedule (``planned``), after the launch's actual go-live."""
    slots = []
    for index, item in enumerate(recorded):
        offset = timedelta(seconds=float(item["offset_s"]))
        slots.append(
            DueSlot(
                str(item["slot"]),
                offset,
                go_live + offset,
                bool(item.get("review")),
                index == len(recorded) - 1,
            )
        )
    return slots


def due_now(slots: Iterable[DueSlot], done: set[str], now: datetime) -> list[DueSlot]:
    """Slots due by ``now`` that the journal does not hold yet, oldest first."""
    return [slot for slot in slots if slot.due <= now and slot.label not in done]


def upcoming(slots: Iterable[DueSlot], done: set[str]) -> DueSlot | None:
    """The next slot still to run, however far."""
    return next((slot for slot in slots if slot.label not in done), None)
