"""The engine's side of guards: what they sample, when their windows hang, and when monitoring may end.

The watch itself (threads, decisions) is ``rollback.guard_watch``'s; this
module gives it a Prometheus sampler, the launch's moments (``LaunchTimes``:
scheduled T0, actual go-live, end) and the loop to report verdicts to.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from launchctl.engine.baselines import BaselineBook, window_text
from launchctl.journal.catalogue import parse_iso
from launchctl.journal.recorder import Recorder
from launchctl.journal.replay import LaunchState
from rollback.guard_watch import GuardWatch
from rollback.guards import LaunchTimes, Verdict, window
from runbook import model
from runbook.durations import format_offset
from steps.baseline import Baseline
from steps.cancel import CancelToken
from steps.clock import Clock
from steps.deadline import Deadline
from steps.executor import prometheus_url, render_text
from steps.http import HttpSession
from steps.prometheus import instant_query


class GuardSupervisor:
    def __init__(
        self,
        runbook: model.Runbook,
        clock: Clock,
        recorder: Recorder,
        values: Mapping[str, str],
        environ: Mapping[str, str],
        on_verdict: Callable[[model.Guard, Verdict], None],
        times: LaunchTimes,
        dry_run: bool,
        baselines: BaselineBook | None = None,
    ) -> None:
        self.runbook = runbook
        self.clock = clock
        self.recorder = recorder
        self.values = values
        self.environ = environ
        self.on_verdict = on_verdict
        self.times = times
        self.dry_run = dry_run
        self.baselines = baselines
        self.watch: GuardWatch | None = None
        self.http = HttpSession(recorder.masker.text)

    @staticmethod
    def recorded_times(t0: datetime, state: LaunchState | None) -> LaunchTimes:
        """The launch's moments, with go-live as the journal recorded it when resuming."""
        times = LaunchTimes(t0)
        for record in state.steps.values() if state else []:
            if record.status == "ok" and record.finished:
                times.finished[record.id] = parse_iso(record.finished)
        if state is not None and state.go_live is not None:
            times.go_live = parse_iso(state.go_live)
        return times

    def start(self) -> None:
        if not self.runbook.guards:
            return
        if self.dry_run:
            self._describe()
            return
        url = prometheus_url(self.runbook, self.values, self.environ) or ""
        queries = {guard.id: render_text(guard.query, self.values) for guard in self.runbook.guards}

        def sample(guard: model.Guard, deadline: Deadline) -> tuple[float | None, str]:
            if not url:
                return None, "no prometheus url configured"
            return instant_query(self.http, url, queries[guard.id], deadline)

        def baseline(guard: model.Guard, cancel: CancelToken) -> Baseline | None:
            if self.baselines is None:
                return None
            return self.baselines.for_guard(guard, self.values, cancel)

        self.watch = GuardWatch(
            self.runbook.guards,
            self.clock,
            self.times,
            sample,
            self.recorder.emit,
            self.on_verdict,
            baseline,
        )
        self.watch.start()

    def _describe(self) -> None:
        """A dry run says when each window would open and close (go-live on schedule)."""
        go_live = next((s.at for s in self.runbook.steps if s.at >= timedelta(0)), timedelta(0))
        planned = LaunchTimes(self.times.t0, self.times.t0 + go_live)
        for guard in self.runbook.guards:
            opens, closes = window(guard, planned)
            watched = window_words(guard)
            self.recorder.emit(
                "guard_planned",
                guard=guard.id,
                query=render_text(guard.query, self.values),
                threshold=str(guard.breach),
                baseline=window_text(guard.baseline) if guard.baseline else None,
                window=watched,
                opens=opens,
                closes=closes,
                then=guard.then.value,
                dry_run=True,
            )

    def stop(self) -> None:
        if self.watch is not None:
            self.watch.stop()
        self.http.close()

    def watching(self) -> bool:
        return self.watch is not None and self.watch.watching()

    def went_live(self, step: model.Step, now: datetime) -> None:
        """Go-live is the actual start of the first step at or after T+0: T+ windows hang on it."""
        if step.at >= timedelta(0) and self.times.go_live is None:
            self.times.go_live = now
            self.recorder.emit("guards_anchored", anchor=now, step=step.id)

    def steps_done(self, now: datetime) -> None:
        """After the last step: a launch that never reached T+0 goes live now (or at T0 if ahead)."""
        if self.times.go_live is None:
            self.times.go_live = max(now, self.times.t0)
            self.recorder.emit("guards_anchored", anchor=self.times.go_live, step=None)

    def ended(self, now: datetime) -> None:
        self.times.ended = now

    def monitoring_end(self) -> datetime | None:
        """When the last ``during`` window closes, in launch time; None when there is nothing to watch."""
        ends = [window(g, self.times)[1] for g in self.runbook.guards if g.during is not None]
        known = [end for end in ends if end is not None]
        return max(known) if known else None


def window_words(guard: model.Guard) -> str:
    """When a guard watches, as the runbook says it: ``T+0..T+30m``, or from go-live on."""
    if guard.during is None:
        return "go-live until the launch ends"
    return f"{format_offset(guard.during[0])}..{format_offset(guard.during[1])}"
