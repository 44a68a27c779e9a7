"""When checkpoints fall: schedule entries one after the other, reviews merged into them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from runbook.v1.loader import load_runbook

H = timedelta(hours=1)
FRAMEWORK = """
  schedule:
    - {every: 2h, until: T+24h}
    - {every: 4h, until: T+48h}
  review: [T+24h, T+48h]
"""

CASES = [
    (
        "the framework's 48 hours",
        FRAMEWORK,
        [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 28, 32, 36, 40, 44, 48],
        [24, 48],
    ),
    (
        "a review off the schedule is a checkpoint too",
        "  schedule: [{every: 4h, until: T+8h}]\n  review: T+6h\n",
        [4, 6, 8],
        [6],
    ),
    ("reviews alone", "  review: [T+1h, T+2h]\n", [1, 2], [1, 2]),
    (
        "an entry may start later (a gap)",
        "  schedule: [{every: 1h, until: T+2h}, {from: T+10h, every: 1h, until: T+11h}]\n",
        [1, 2, 11],
        [],
    ),
    (
        "the last stretch shorter than every is not a checkpoint",
        "  schedule: [{every: 5h, until: T+12h}]\n",
        [5, 10],
        [],
    ),
]


@pytest.mark.parametrize(("why", "section", "hours", "reviews"), CASES, ids=[c[0] for c in CASES])
def test_checkpoint_slots(why, section, hours, reviews, write_runbook):
    path = write_runbook(
        "version: 1\nname: t\nsteps:\n  - {id: golive, at: T+0, run: 'true'}\n"
        "checkpoints:\n  check: [{command: 'true'}]\n" + section
    )
    slots = load_runbook(path).checkpoints.slots()
    assert [slot.offset / H for slot in slots] == hours
    assert [slot.offset / H for slot in slots if slot.review] == reviews
