"""The engine's side of guards: starting the watchers, anchoring their windows, collecting
their verdicts, and knowing when monitoring may end."""

from __future__ import annotations

import queue
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta

from launchctl.engine.guard_watch import Anchor, GuardWatch
from launchctl.journal.catalogue import iso
from launchctl.journal.recorder import Recorder
from launchctl.journal.replay import LaunchState
from rollback.guards import Verdict, window_bounds
from runbook import model
from runbook.durations import format_offset
from steps.clock import Clock
from steps.criteria import query_prometheus
from steps.executor import prometheus_url, render_text
from steps.http import HttpSession


class GuardSupervisor:
    def __init__(
        self,
        runbook: model.Runbook,
        clock: Clock,
        recorder: Recorder,
        values: Mapping[str, str],
        environ: Mapping[str, str],
        wake: threading.Event,
        anchor: datetime | None,
        dry_run: bool,
    ) -> None:
        self.runbook = runbook
        self.clock = clock
        self.recorder = recorder
        self.values = values
        self.environ = environ
        self.wake = wake
        self.dry_run = dry_run
        self.anchor = Anchor(anchor)
        self.alerts: queue.Queue[tuple[model.Guard, Verdict]] = queue.Queue()
        self.watch: GuardWatch | None = None
        self.http = HttpSession()

    @staticmethod
    def recorded_anchor(t0: datetime, no_wait: bool, state: LaunchState | None) -> datetime | None:
        """T0; under --no-wait the start of the first step at or after T+0, once the journal has it."""
        if not no_wait:
            return t0
        for event in reversed(state.guard_events if state else []):
            if event["event"] == "guards_anchored":
                return datetime.fromisoformat(event["anchor"].replace("Z", "+00:00"))
        return None

    def start(self) -> None:
        if not self.runbook.guards:
            return
        if self.dry_run:
            self._describe()
            return
        url = prometheus_url(self.runbook, self.values, self.environ) or ""
        queries = {guard.id: render_text(guard.query, self.values) for guard in self.runbook.guards}

        def sample(guard: model.Guard) -> tuple[float | None, str]:
            return query_prometheus(
                url, queries[guard.id], guard.timeout.total_seconds(), self.http
            )

        self.watch = GuardWatch(
            self.runbook.guards,
            self.clock,
            self.recorder,
            sample,
            self.raise_alert,
            self.anchor,
            self.runbook.steps[-1].at,
        )
        self.watch.start()

    def _describe(self) -> None:
        for guard in self.runbook.guards:
            window = (
                "T+0 until the last step"
                if guard.during is None
                else f"{format_offset(guard.during[0])}..{format_offset(guard.during[1])}"
            )
            self.recorder.emit(
                "guard_planned",
                guard=guard.id,
                query=render_text(guard.query, self.values),
                threshold=str(guard.breach),
                window=window,
                then=guard.then.value,
                dry_run=True,
            )

    def raise_alert(self, guard: model.Guard, verdict: Verdict) -> None:
        """From any thread: a guard demands action; the main thread wakes to handle it."""
        self.alerts.put((guard, verdict))
        self.wake.set()

    def next_alert(self) -> tuple[model.Guard, Verdict] | None:
        try:
            return self.alerts.get_nowait()
        except queue.Empty:
            return None

    def stop(self) -> None:
        if self.watch is not None:
            self.watch.stop()
        self.http.close()

    def anchor_at(self, step: model.Step, now: datetime) -> None:
        if step.at >= timedelta(0) and self.anchor.set(now):
            self.recorder.emit("guards_anchored", anchor=iso(now), step=step.id)

    def window(self, guard: model.Guard) -> tuple[datetime, datetime] | None:
        anchor = self.anchor.value
        return None if anchor is None else window_bounds(guard, anchor, self.runbook.steps[-1].at)

    def monitoring_end(self) -> datetime | None:
        """When the last guard window closes, in launch time; None when there is nothing to watch."""
        windows = [self.window(g) for g in self.runbook.guards]
        ends = [w[1] for w in windows if w is not None]
        return max(ends) if ends else None
