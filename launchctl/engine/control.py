"""The exceptions that change a launch's course, raised out of the launch loop's waits."""

from __future__ import annotations


class PauseLaunch(Exception):
    """Stop and leave the launch resumable (exit 5).

    ``hold_ok``: a person chose to pause, so after go-live the launch may
    instead hold in this process with its guards still watching. A signal or
    the headless rules mean leave.
    """

    def __init__(self, reason: str, step: str | None = None, hold_ok: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.step = step
        self.hold_ok = hold_ok


class StartRollback(Exception):
    """Undo the launch. ``forced_by`` names who chose a full rollback past the point of no return."""

    def __init__(self, reason: str, trigger: str, forced_by: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.trigger = trigger
        self.forced_by = forced_by


class EndMonitoring(Exception):
    """The operator ended monitoring before the last guard window closed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
