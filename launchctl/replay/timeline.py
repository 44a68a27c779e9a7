"""The launch moments a replay hangs guard windows and checks on.

A live launch anchors T+ windows on the actual start of the first step at or
after T+0 (``LaunchTimes.go_live``). A replay assumes the launch ran on
schedule, so go-live is T0 plus that step's offset (T0 itself when every step
is before T+0, as the live engine does once the steps are done); a journal
replay takes the anchor the launch recorded instead. The launch "ends" when
its last step's time and ``wait`` are over and the last ``during`` window has
closed: the window of a guard without ``during``. A guard with ``after: STEP`` opens no
earlier than that step's end: on schedule, its time plus its ``wait`` (commands are taken as
instant); a journal replay takes the ends the launch recorded.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from rollback.guards import LaunchTimes
from runbook import model


def scheduled_times(
    book: model.Runbook,
    t0: datetime,
    go_live: datetime | None = None,
    finished: dict[str, datetime] | None = None,
) -> LaunchTimes:
    times = LaunchTimes(t0)
    if go_live is None:
        live = [step.at for step in book.steps if step.at >= timedelta(0)]
        go_live = t0 + live[0] if live else t0
    times.go_live = go_live
    if finished is None:
        finished = {s.id: step_time(book, s, times) + (s.wait or timedelta(0)) for s in book.steps}
    times.finished = dict(finished)
    last = book.steps[-1]
    steps_end = t0 + last.at + (last.wait or timedelta(0))
    windows = [go_live + g.during[1] for g in book.guards if g.during is not None]
    times.ended = max([steps_end, go_live, *windows])
    return times


def step_time(book: model.Runbook, step: model.Step, times: LaunchTimes) -> datetime:
    """When a step would have run (its checks are judged then): T- steps on schedule, T+ steps
    as far after go-live as their offset is after the first one's, as the live launch runs them."""
    live = [s.at for s in book.steps if s.at >= timedelta(0)]
    if step.at < timedelta(0) or not live or times.go_live is None:
        return times.t0 + step.at
    return times.go_live + (step.at - live[0])
