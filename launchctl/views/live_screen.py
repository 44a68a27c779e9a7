"""Drawing the live view on the terminal: rich's ``Live``, redrawn only when something changed,
at most four times a second, writing only the lines that changed.

A launch is watched for two hours, sometimes over SSH or a console server, and
recorded by ``script`` or tmux logs; a view that repaints the whole screen four
times a second writes megabytes for nothing. So:

- ``Live`` runs with ``auto_refresh=False``; ``Redrawer`` asks for a frame when
  the view model changed (an event arrived), when the second shown by the clock
  changed, or when the terminal was resized — never more often than every 250 ms;
- ``DiffRender`` compares the new frame with the last one line by line and moves
  the cursor to rewrite only what differs, from the first changed cell of a line
  to its end: a clock tick rewrites two digits, not twenty-four lines;
- a byte budget (what the frames really wrote, about 72 KB a minute on average,
  with room for a few whole frames at once) slows a view that a command's
  firehose of output would otherwise keep redrawing: its newest lines are still
  shown, a little later.

Anything printed while the view is up (a warning on stderr) goes above it, as
with rich's own ``Live``; the frame is then drawn whole again below.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.control import Control
from rich.live import Live
from rich.live_render import LiveRender
from rich.segment import ControlType, Segment

MIN_INTERVAL = 0.25  # at most four redraws a second
BUDGET_BYTES_PER_S = 1200.0  # about 72 KB a minute on average ...
BUDGET_BURST = 6_000.0  # ... with room for a few whole frames at once

Cells = list[tuple[str | None, Any]]


def _cells(line: list[Segment]) -> Cells:
    """A line as screen cells, (character, style); a wide character's second cell is None."""
    cells: Cells = []
    for segment in line:
        if segment.control:
            continue
        for char in segment.text:
            width = cell_len(char)
            if width == 0 and cells:  # a combining mark rides on the cell before it
                cells[-1] = ((cells[-1][0] or "") + char, cells[-1][1])
            elif width:
                cells.append((char, segment.style))
                if width == 2:
                    cells.append((None, segment.style))
    return cells


def _from_cell(cells: Cells, start: int, end: int | None = None) -> list[Segment]:
    """The segments that draw ``cells[start:end]``, one per run of a style."""
    segments: list[Segment] = []
    for char, style in cells[start:end]:
        if char is None:
            continue
        if segments and segments[-1].style == style:
            segments[-1] = Segment(segments[-1].text + char, style)
        else:
            segments.append(Segment(char, style))
    return segments


class DiffRender(LiveRender):
    """A ``LiveRender`` that rewrites only the lines that changed since the last frame. The
    cursor rests on the frame's last line between frames, as with ``LiveRender``."""

    def __init__(self, renderable: Any) -> None:
        super().__init__(renderable, vertical_overflow="crop")
        self._last: list[list[Segment]] | None = None
        self._width: int | None = None
        self.last_cost = 0  # what the last frame wrote, roughly, in bytes
        self.frames = 0  # frames that wrote anything

    def forget(self) -> None:
        """The frame on screen is gone (erased, or left behind): the next one is drawn whole."""
        self._last = None

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = console.render_lines(self.renderable, options, pad=False)[: options.size.height]
        out: list[Segment] = []
        if self._last is not None and options.size.width != self._width:
            # Resized: the terminal may have reflowed the old frame; erase it, draw anew.
            out.append(self.position_cursor().segment)
            self._last = None
        self._width = options.size.width
        self._shape = Segment.get_shape(lines)
        out += self._diff(self._last, lines)
        self._last = lines
        self.last_cost = len(console._render_buffer(out).encode()) if out else 0
        if out:
            self.frames += 1
        yield from out

    @staticmethod
    def _move(rows: int) -> Iterable[Segment]:
        """To column 0, ``rows`` lines down (or up)."""
        codes: list[Any] = [(ControlType.CARRIAGE_RETURN,)]
        if rows > 0:
            codes.append((ControlType.CURSOR_DOWN, rows))
        elif rows < 0:
            codes.append((ControlType.CURSOR_UP, -rows))
        yield Control(*codes).segment

    @staticmethod
    def _rewrite(old: list[Segment], new: list[Segment]) -> Iterable[Segment]:
        """A line that changed, the cursor at its column 0: only its changed cells are written
        (from the first to the last when it kept its length, else from the first to its end)."""
        before, after = _cells(old), _cells(new)
        start = next(
            (i for i, (a, b) in enumerate(zip(before, after, strict=False)) if a != b),
            min(len(before), len(after)),
        )
        if start < len(after) and after[start][0] is None:
            start -= 1  # the second half of a wide character: redraw it whole
        if len(before) == len(after):  # overwrite the changed span in place
            changed = [i for i in range(start, len(after)) if before[i] != after[i]]
            if not changed:
                return  # the same cells, cut into other segments
            end = changed[-1] + 1
            if end < len(after) and after[end][0] is None:
                end += 1
            if start:
                yield Control((ControlType.CURSOR_MOVE_TO_COLUMN, start)).segment
            yield from _from_cell(after, start, end)
            return
        if start == 0:
            yield Control((ControlType.ERASE_IN_LINE, 2)).segment
            yield from new
            return
        yield Control(
            (ControlType.CURSOR_MOVE_TO_COLUMN, start), (ControlType.ERASE_IN_LINE, 0)
        ).segment
        yield from _from_cell(after, start)

    def _diff(
        self, last: list[list[Segment]] | None, lines: list[list[Segment]]
    ) -> Iterable[Segment]:
        erase = Control((ControlType.ERASE_IN_LINE, 2)).segment
        if last is None:  # the whole frame, from where the cursor is
            for index, line in enumerate(lines):
                if index:
                    yield Segment.line()
                yield from line
            return
        row = len(last) - 1  # where the cursor is: the last frame's last line
        for index, line in enumerate(lines[: len(last)]):
            if line != last[index]:
                yield from self._move(index - row)
                yield from self._rewrite(last[index], line)
                row = index
        if len(lines) > len(last):  # new lines below: each a newline further down
            yield from self._move(len(last) - 1 - row)
            for line in lines[len(last) :]:
                yield Segment.line()
                yield erase
                yield from line
            return
        for index in range(len(lines), len(last)):  # lines the shorter frame no longer has
            yield from self._move(index - row)
            yield erase
            row = index
        if row != len(lines) - 1:
            yield from self._move(len(lines) - 1 - row)


class DiffLive(Live):
    """rich ``Live`` with ``DiffRender`` and no refresh thread of its own."""

    def __init__(self, get_renderable: Callable[[], Any], console: Console) -> None:
        super().__init__(
            get_renderable=get_renderable,
            console=console,
            auto_refresh=False,
            transient=False,
            redirect_stdout=True,
            redirect_stderr=True,
        )
        self._live_render = DiffRender(self._live_render.renderable)
        self._refreshing = False

    def refresh(self) -> None:
        if not self.console.is_interactive:
            super().refresh()
            return
        with self._lock:
            self._live_render.set_renderable(self.renderable)
            self._refreshing = True
            try:
                with self.console:
                    # Not cropped: a diff puts several screen lines between two newlines.
                    self.console.print(Control(), crop=False)
            finally:
                self._refreshing = False

    def process_renderables(self, renderables: list[Any]) -> list[Any]:
        if not self.console.is_interactive:
            return super().process_renderables(renderables)
        with self._lock:
            if self._refreshing:  # a redraw: the diff does all the cursor work
                return [self._live_render]
            # Something printed while the view is up: erase the frame, print, draw it again.
            erase = self._live_render.position_cursor()
            self._live_render.forget()
            return [erase, *renderables, self._live_render]


class Redrawer:
    """The thread that draws: on change (``poke``), on a new second, on a resize; throttled."""

    def __init__(self, draw: Callable[[], int], changed: Callable[[], Any]) -> None:
        self.draw = draw  # draws a frame if it may, returns roughly the bytes it wrote
        self.changed = changed  # a value that differs whenever the frame would
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tokens = BUDGET_BURST
        self._last_refill = time.monotonic()
        self.last_draw = 0.0  # time.monotonic() of the last frame drawn

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="live-view", daemon=True)
        self._thread.start()

    def stop(self, paced: bool) -> None:
        """Stop drawing; ``paced``: return only once a last frame may be drawn without breaking
        the pace (at the launch's end; a question waits for nobody)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        if paced:
            time.sleep(max(0.0, MIN_INTERVAL - (time.monotonic() - self.last_draw)))

    def poke(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        shown: Any = None
        while not self._stop.is_set():
            self._wake.wait(timeout=1.0 - (time.time() % 1.0) + 0.01)  # the next second
            self._wake.clear()
            if self._stop.is_set():
                return
            wait = MIN_INTERVAL - (time.monotonic() - self.last_draw)
            if wait > 0 and self._stop.wait(wait):
                return
            self._refill()
            if self._tokens <= 0:
                self._stop.wait(-self._tokens / BUDGET_BYTES_PER_S)
                self._wake.set()  # try again once the budget allows
                continue
            state = self.changed()
            if state == shown:
                continue
            shown = state
            self.last_draw = time.monotonic()
            self._tokens -= self.draw()

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(
            BUDGET_BURST, self._tokens + (now - self._last_refill) * BUDGET_BYTES_PER_S
        )
        self._last_refill = now
