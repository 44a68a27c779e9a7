"""The live view on a terminal (rich): timeline, countdown, guards, output, rollback.

It is a recorder sink: events update the ``ViewModel`` under a lock and a
rich ``Live`` redraws four times a second on its own thread, so drawing never
blocks the engine. Prompts pause it (``paused()``) so a question is never
painted over.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from launchctl.views.view_model import ViewModel

STATE_STYLE = {
    "pending": ("·", "dim"),
    "running": ("▶", "bold cyan"),
    "confirm?": ("?", "bold yellow"),
    "ok": ("✓", "green"),
    "failed": ("✗", "bold red"),
    "skipped": ("–", "yellow"),
    "interrupted": ("!", "bold red"),
}
GUARD_STYLE = {
    "ok": "green",
    "breaching": "bold red",
    "inconclusive": "yellow",
    "watching": "cyan",
    "closed": "dim",
}


def _hms(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%H:%M:%S") if moment else ""


def _countdown(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class LiveView:
    def __init__(self, console: Any = None) -> None:
        from rich.console import Console

        self.model = ViewModel()
        self.console = console or Console()
        self._live: Any = None

    # -- recorder sink --------------------------------------------------------------------------

    def __call__(self, event: dict[str, Any]) -> None:
        self.model.apply(event)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        from rich.live import Live

        self._live = Live(
            get_renderable=self.render, console=self.console, refresh_per_second=4, transient=False
        )
        self._live.start()

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Stop redrawing while a person answers a question."""
        live = self._live
        if live is not None:
            live.stop()
        try:
            yield
        finally:
            if live is not None:
                live.start()

    # -- drawing -------------------------------------------------------------------------------

    def render(self) -> Any:
        from rich.console import Group

        with self.model.lock:
            parts = [self._header(), self._timeline()]
            if self.model.guards:
                parts.append(self._guards())
            if self.model.rollback_reason:
                parts.append(self._rollback())
            parts.append(self._output())
            if self.model.notes:
                parts.append(self._notes())
        return Group(*parts)

    def _header(self) -> Any:
        from rich.text import Text

        model = self.model
        title = Text()
        title.append(f" {model.name or 'launch'} ", style="bold white on blue")
        title.append(f"  {model.mode}  ", style="bold")
        title.append(f"T0 {_hms(model.t0)}  now {_hms(model.clock)}", style="")
        if model.t0 and model.clock:
            delta = (model.clock - model.t0).total_seconds()
            sign = "+" if delta >= 0 else "-"
            title.append(f"  (T{sign}{_countdown(abs(delta))})", style="dim")
        title.append("\n")
        style = "bold red" if model.phase in ("ROLLING BACK", "PAUSED") else "bold"
        title.append(f" {model.phase}", style=style)
        upcoming = self._next_step()
        if upcoming is not None and model.clock is not None and model.running is None:
            waiting = (upcoming.planned - model.clock).total_seconds()
            if waiting > 0:
                title.append(f"   next: {upcoming.id} in {_countdown(waiting)}", style="cyan")
        if model.outcome:
            colour = "green" if model.outcome == "completed" else "bold red"
            title.append(f"   outcome: {model.outcome}", style=colour)
        if model.banner:
            title.append(f"\n ⚠ {model.banner}", style="bold black on yellow")
        return title

    def _next_step(self) -> Any:
        for row in self.model.steps.values():
            if row.state == "pending" and row.planned is not None:
                return row
        return None

    def _timeline(self) -> Any:
        from rich.table import Table

        table = Table(expand=True, box=None, pad_edge=False, header_style="bold dim")
        for column, kwargs in (
            ("", {"width": 1}),
            ("offset", {"width": 8}),
            ("planned", {"width": 8}),
            ("actual", {"width": 8}),
            ("step", {"ratio": 2}),
            ("target", {"width": 10}),
            ("state", {"ratio": 3}),
        ):
            table.add_column(column, no_wrap=True, overflow="ellipsis", **kwargs)
        for row in self.model.steps.values():
            mark, style = STATE_STYLE.get(row.state, (" ", ""))
            state = row.state
            if row.late_s:
                state += f" (late {row.late_s:.0f}s)"
            if row.hosts_total:
                state += "  " + _host_progress(row)
            if row.reason and row.state in ("failed", "interrupted", "skipped"):
                state += f" — {row.reason}"
            table.add_row(
                mark,
                row.offset,
                _hms(row.planned),
                _hms(row.started),
                ("⚑ " if row.irreversible else "") + row.title,
                row.target,
                state,
                style="yellow" if row.late_s and row.state == "running" else style,
            )
        return table

    def _guards(self) -> Any:
        from rich.table import Table

        table = Table(
            title="guards",
            title_justify="left",
            title_style="bold",
            expand=True,
            box=None,
            header_style="bold dim",
        )
        for column in ("guard", "value", "threshold", "trend", "state"):
            table.add_column(column, no_wrap=True)
        for row in self.model.guards.values():
            value = "" if row.value is None else f"{row.value:.4g}"
            state = row.status + (f" ({row.breaches} breach)" if row.breaches else "")
            table.add_row(
                row.id,
                value,
                row.shown_threshold(),
                row.sparkline(),
                state,
                style=GUARD_STYLE.get(row.status, "dim"),
            )
        return table

    def _rollback(self) -> Any:
        from rich.panel import Panel
        from rich.text import Text

        body = Text(f"reason: {self.model.rollback_reason}\n", style="bold")
        for step, status in self.model.rollback_steps.items():
            mark, style = STATE_STYLE.get(status, ("·", "dim"))
            body.append(f" {mark} {step}: {status}\n", style=style)
        return Panel(body, title="ROLLBACK", border_style="red")

    def _output(self) -> Any:
        from rich.panel import Panel
        from rich.text import Text

        title = f"output: {self.model.running}" if self.model.running else "output"
        lines = list(self.model.output) or ["(no output yet)"]
        return Panel(
            Text.from_ansi("\n".join(lines), overflow="ellipsis", no_wrap=True),
            title=title,
            title_align="left",
            border_style="dim",
            height=len(lines) + 2,
        )

    def _notes(self) -> Any:
        from rich.text import Text

        return Text("\n".join(f" • {note}" for note in self.model.notes), style="dim")


def _host_progress(row: Any) -> str:
    """A fan-out at a glance: its wave, done and failed out of the target's hosts, and which
    hosts are running now (or the hold between waves)."""
    done = row.hosts_ok + row.hosts_failed
    text = f"wave {row.wave}/{row.waves} · " if row.waves and row.wave else ""
    text += f"hosts {row.hosts_ok}/{row.hosts_total} ok"
    if row.hosts_failed:
        text += f", {row.hosts_failed} failed"
    if row.state != "running":
        return text
    if row.holding:
        return f"{text} · {row.holding}"
    if row.running_hosts:
        names = ", ".join(row.running_hosts[:3])
        more = f" +{len(row.running_hosts) - 3}" if len(row.running_hosts) > 3 else ""
        text += f" · running {names}{more}"
    elif done < row.hosts_total:
        text += f", {row.hosts_total - done} queued"
    return text
