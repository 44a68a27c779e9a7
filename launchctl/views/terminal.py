"""How a launch shows itself: the live view on a terminal, plain timestamped lines otherwise,
or (``--log-format json``) the journal's own JSON lines on stdout for CI and log shippers.

A ``Display`` gives the recorder its sinks, and gives the operator a way to
pause the screen while a question is asked.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from launchctl.views.json_lines import JsonLines
from launchctl.views.plain import PlainConsole

LOG_FORMATS = ("auto", "plain", "json")
"""auto: the live view on a terminal, plain lines otherwise; plain; json: one event per line."""


class Display:
    def __init__(self, sinks: list[Any], live: Any = None) -> None:
        self.sinks = sinks
        self.live = live

    def start(self) -> None:
        if self.live is not None:
            self.live.start()

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        if self.live is None:
            yield
            return
        with self.live.paused():
            yield


def wants_live_view(dry_run: bool) -> bool:
    """A terminal on both ends, not a dry run (which finishes at once), not opted out."""
    if dry_run or os.environ.get("LAUNCHCTL_PLAIN") or os.environ.get("TERM") == "dumb":
        return False
    return sys.stdout.isatty() and sys.stdin.isatty()


def make_display(dry_run: bool = False, log_format: str = "auto") -> Display:
    if log_format == "json":
        return Display([JsonLines()])
    if log_format == "auto" and wants_live_view(dry_run):
        from launchctl.views.live_view import LiveView

        view = LiveView()
        return Display([view], view)
    return Display([PlainConsole()])
