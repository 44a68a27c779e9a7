"""Milestones: journaled as ``notification`` events and sent to the runbook's channels with the
facts a receiver needs (wall time, launch, T-offset, phase, guard values); a dry run only says
it would send them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from launchctl.journal.catalogue import iso
from launchctl.journal.recorder import Recorder
from runbook.durations import format_offset
from steps.clock import Clock
from steps.notify import Notifier


class Milestones:
    def __init__(
        self,
        recorder: Recorder,
        notifier: Notifier | None,
        launch_id: str,
        name: str,
        t0: datetime,
        clock: Clock,
        dry_run: bool,
    ) -> None:
        self.recorder = recorder
        self.notifier = notifier
        self.launch_id = launch_id
        self.name = name
        self.t0 = t0
        self.clock = clock
        self.dry_run = dry_run
        self.phase = "launch"  # what notifications say the launch is doing

    def notify(
        self,
        message: str,
        milestone: str,
        step: str | None = None,
        guard: Mapping[str, Any] | None = None,
    ) -> None:
        self.recorder.emit(
            "notification",
            message=message,
            milestone=milestone,
            step=step,
            guard=dict(guard) if guard else None,
            dry_run=self.dry_run or None,
        )
        if self.notifier is None or self.dry_run:
            return
        offset = timedelta(seconds=round((self.clock.now() - self.t0).total_seconds()))
        self.notifier.send(
            self.recorder.masker.text(message),
            self.recorder.masker.data(
                {
                    "time": iso(self.clock.real_now()),
                    "launch": self.launch_id,
                    "name": self.name,
                    "milestone": milestone,
                    "step": step,
                    "t_offset": format_offset(offset),
                    "phase": self.phase,
                    "guard": dict(guard) if guard else None,
                }
            ),
        )
