"""The live view on a terminal (rich): the launch at a glance, fitted to the terminal.

It is a recorder sink: events update the ``ViewModel`` under its lock and poke
the ``Redrawer``, whose thread draws a frame (``live_layout``) when something
changed, at most four times a second, writing only the lines that changed
(``live_screen``); drawing never blocks the engine. Prompts pause it
(``paused()``) so a question is never painted over; the view comes back below
the answer.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from launchctl.views.view_model import ViewModel


class LiveView:
    def __init__(
        self, console: Any = None, now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        from rich.console import Console

        self.model = ViewModel()
        self.console = console or Console()
        self.now = now  # the wall clock the header shows
        self._live: Any = None
        self._redrawer: Any = None
        self._draw_lock = threading.Lock()  # one drawer at a time: the redrawer, or stop/pause

    # -- recorder sink --------------------------------------------------------------------------

    def __call__(self, event: dict[str, Any]) -> None:
        self.model.apply(event)
        redrawer = self._redrawer
        if redrawer is not None:
            redrawer.poke()

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        from launchctl.views.live_screen import DiffLive, Redrawer

        with self._draw_lock:
            self._live = DiffLive(self.render, self.console)
            self._live.start()
        self._redrawer = Redrawer(self._draw, self._changed)
        self._redrawer.start()

    def stop(self, paced: bool = True) -> None:
        """The last frame, whole, stays on screen (at the launch's end, drawn at the view's pace;
        before a question, at once)."""
        redrawer, self._redrawer = self._redrawer, None
        if redrawer is not None:
            redrawer.stop(paced)
        with self._draw_lock:
            if self._live is not None:
                self._live.stop()  # the last frame, whole, stays on screen
                self._live = None

    @property
    def frames(self) -> int:
        """Frames drawn so far by the current screen (for the benchmark and the tests)."""
        live = self._live
        return live._live_render.frames if live is not None else 0

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Stop redrawing while a person answers a question; draw anew below it afterwards."""
        running = self._live is not None
        if running:
            self.stop(paced=False)
        try:
            yield
        finally:
            if running:
                self.start()

    # -- drawing -------------------------------------------------------------------------------

    def _changed(self) -> tuple[int, int, Any]:
        """What the frame depends on: the events applied, the second shown, the terminal's size."""
        return (self.model.generation, int(self.now().timestamp()), tuple(self.console.size))

    def _draw(self) -> int:
        with self._draw_lock:
            if self._live is None:
                return 0
            self._live.refresh()
            return self._live._live_render.last_cost

    def render(self) -> Any:
        from rich.console import Group

        from launchctl.views.live_layout import frame

        width, height = self.console.size
        return Group(*frame(self.model, width, height, self.now()))
