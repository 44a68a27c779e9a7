"""The live view's frame: the view model laid out in lines that fit the terminal, never more.

A launch view that scrolls loses its header, and a header that is gone is a
launch nobody can read at a glance. So the frame is built as whole lines, each
cut to the terminal's width, and at most one line fewer than its height (the
line the cursor rests on). When everything does not fit, sections give way in
a fixed order of importance:

1. the header: launch name, mode, now (and the launch clock in a rehearsal), the
   T-offset, T0, the phase and what comes next — always on screen;
2. the step running now (a launch step, or a rollback step) with its output's tail,
   and any step that failed;
3. the guards;
4. the rollback or roll-forward in progress;
5. the timeline: finished steps collapsed to one line (``✓ 7 steps done``), then
   the steps to come;
6. notes (notifications, breaches, baselines).

A section that must shrink keeps what matters most in it (the newest output, the
guards in breach, the next steps) and says how many lines it left out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.text import Text

from launchctl.views.view_model import GuardRow, StepRow, ViewModel

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
GUARD_ORDER = {"breaching": 0, "inconclusive": 1, "watching": 2, "ok": 2, "waiting": 3}
DONE = ("ok", "skipped")
OUTPUT_SHARE = 3  # the output's tail takes at most a third of the frame


def hms(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%H:%M:%S") if moment else "—"


def countdown(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _line(text: str = "", style: str = "") -> Text:
    """One screen line: newlines flattened, never wrapped."""
    return Text(text.replace("\n", " ").replace("\r", " "), style=style, no_wrap=True)


Cut = Callable[[list[Text], int], list[Text]]


def _keep_first(lines: list[Text], n: int) -> list[Text]:
    """The first lines, the last one saying how many more there are."""
    if len(lines) <= n:
        return lines
    if n <= 1:
        return lines[:n]
    return [*lines[: n - 1], _line(f"  … {len(lines) - n + 1} more", "dim")]


def _keep_last(lines: list[Text], n: int) -> list[Text]:
    """A titled list's title and its newest lines (output, notes)."""
    if len(lines) <= n:
        return lines
    if n <= 1:
        return []
    return [lines[0], *lines[len(lines) - n + 1 :]]


@dataclass
class Section:
    priority: int  # 1 is kept longest
    order: int  # where it sits on screen
    lines: list[Text]
    cut: Cut = _keep_first


class Layout:
    """One frame of the view model at ``width`` × ``height`` and wall-clock ``now``; call under
    the model's lock."""

    def __init__(self, model: ViewModel, width: int, height: int, now: datetime) -> None:
        self.model = model
        self.width = max(20, width)
        self.height = max(4, height)
        self.now = now
        self.launch_now = model.launch_now(now)

    # -- the frame -----------------------------------------------------------------------------

    def lines(self) -> list[Text]:
        budget = self.height - 1
        header = self._header()[:budget]
        left = budget - len(header)
        sections = [
            Section(2, 2, self._current()),
            Section(2, 3, self._output(left), _keep_last),
            Section(3, 5, self._guards()),
            Section(4, 6, self._rollback()),
            Section(5, 1, self._done()),
            Section(5, 4, self._upcoming()),
            Section(6, 7, self._notes(), _keep_last),
        ]
        shown: dict[int, list[Text]] = {}
        for section in sorted(sections, key=lambda s: (s.priority, s.order)):
            kept = section.cut(section.lines, min(len(section.lines), left))
            shown[section.order] = kept
            left -= len(kept)
        body = [line for order in sorted(shown) for line in shown[order]]
        return [self._fit(line) for line in header + body]

    def _fit(self, line: Text) -> Text:
        line.expand_tabs(8)
        line.truncate(self.width, overflow="ellipsis")
        return line

    # -- times ---------------------------------------------------------------------------------

    def _when(self, wall: datetime | None, launch: datetime | None) -> str:
        """``13:21:15 (launch 13:45:17)`` in a rehearsal, ``13:21:15`` otherwise."""
        if self.model.rehearsal and launch is not None:
            return f"{hms(wall)} (launch {hms(launch)})"
        return hms(wall)

    def _due(self, planned: datetime | None) -> str:
        """When a step to come is due: its wall time, with the launch time in a rehearsal."""
        if planned is None:
            return ""
        if not self.model.rehearsal:
            return hms(planned)
        if self.model.speed is None:  # a dry run: its launch clock jumps, no wall time to give
            return f"launch {hms(planned)}"
        return self._when(self.model.wall_at(planned, self.now), planned)

    # -- header --------------------------------------------------------------------------------

    def _header(self) -> list[Text]:
        model = self.model
        title = Text(no_wrap=True)
        title.append(f" {model.name or 'launch'} ", style="bold white on blue")
        title.append(f"  {model.mode}", style="bold")
        clock = Text(no_wrap=True)
        clock.append(f" now {self._when(self.now, self.launch_now)}")
        if model.t0 is not None and self.launch_now is not None:
            delta = (self.launch_now - model.t0).total_seconds()
            sign = "+" if delta >= 0 else "-"
            clock.append(f"  T{sign}{countdown(abs(delta))}", style="bold")
        clock.append(f"  T0 {hms(model.t0)}", style="dim")
        if model.rehearsal:
            clock.append(" (launch clock)", style="dim")
        phase = Text(no_wrap=True)
        alarm = model.phase.startswith(("ROLLING", "PAUSED", "A PERSON"))
        phase.append(f" {model.phase}", style="bold red" if alarm else "bold")
        if model.outcome:
            colour = "green" if model.outcome == "completed" else "bold red"
            phase.append(f"   outcome: {model.outcome}", style=colour)
        else:
            phase.append_text(self._next())
        lines = [title, clock, phase]
        if model.banner:
            lines.append(_line(f" ⚠ {model.banner}", "bold black on yellow"))
        return lines

    def _next(self) -> Text:
        model = self.model
        upcoming = next((r for r in model.steps.values() if r.state == "pending"), None)
        if (
            upcoming is None
            or upcoming.planned is None
            or self.launch_now is None
            or model.running is not None
            or model.rollback_reason
        ):
            return Text()
        waiting = (upcoming.planned - self.launch_now).total_seconds()
        if waiting <= 0:
            return Text()
        real = waiting / (model.speed or 1.0)
        launch = f" (launch {countdown(waiting)})" if model.speed else ""
        return Text(f"   next: {upcoming.id} in {countdown(real)}{launch}", style="cyan")

    # -- steps ---------------------------------------------------------------------------------

    def _current(self) -> list[Text]:
        """The step running now (or asking), any failed step, and the rollback step running."""
        model = self.model
        lines: list[Text] = []
        for row in model.steps.values():
            if row.state in ("running", "confirm?"):
                lines += self._running(row)
        if model.rollback_running:
            lines.append(
                _line(f"⟲ {model.rollback_running}: running", "bold red")
                if model.rollback_title == "ROLLBACK"
                else _line(f"⟳ {model.rollback_running}: running", "bold yellow")
            )
        for row in model.steps.values():
            if row.state in ("failed", "interrupted"):
                mark, style = STATE_STYLE[row.state]
                reason = f": {row.reason}" if row.reason else ""
                lines.append(_line(f"{mark} {row.offset:<6} {row.id} {row.state}{reason}", style))
        return lines

    def _running(self, row: StepRow) -> list[Text]:
        mark, style = STATE_STYLE.get(row.state, (" ", ""))
        title = f" · {row.title}" if row.title and row.title != row.id else ""
        flag = "⚑ " if row.irreversible else ""
        target = f" on {row.target}" if row.target not in ("local", "localhost") else ""
        lines = [_line(f"{mark} {row.offset:<6} {flag}{row.id}{title}{target}", style)]
        detail = f"  started {self._when(row.wall_started, row.started)}"
        if row.wall_started is not None:
            detail += f", {countdown((self.now - row.wall_started).total_seconds())} so far"
        if row.late_s:
            late = row.late_s / (self.model.speed or 1.0)
            detail += f" (late {late:.0f}s)"
        if row.state == "confirm?":
            detail += " · waiting for a confirmation"
        lines.append(_line(detail, "yellow" if row.late_s else ""))
        if row.hosts_total:
            lines.append(_line(f"  {_host_progress(row)}", "cyan"))
        return lines

    def _done(self) -> list[Text]:
        """Finished steps, collapsed to one line."""
        done = [r for r in self.model.steps.values() if r.state in DONE]
        lines: list[Text] = []
        if done:
            ok = sum(1 for r in done if r.state == "ok")
            skipped = len(done) - ok
            text = f"✓ {ok} step{'s' if ok != 1 else ''} done"
            if skipped:
                text += f", – {skipped} skipped"
            names = [r.id for r in done]
            text += f" ({names[0]} … {names[-1]})" if len(names) > 2 else f" ({', '.join(names)})"
            lines.append(_line(text, "green"))
        return lines

    def _upcoming(self) -> list[Text]:
        """The steps to come, next first, with when each is due (or "not run" once the launch
        ended or is being undone)."""
        model = self.model
        lines: list[Text] = []
        pending = [r for r in model.steps.values() if r.state == "pending"]
        ended = model.outcome is not None or bool(model.rollback_reason)
        idw = min(24, max((len(r.id) for r in pending), default=0))
        for row in pending:
            when = "not run" if ended else self._due(row.planned)
            late = (
                not ended
                and row.planned is not None
                and self.launch_now is not None
                and row.planned < self.launch_now
            )
            if late:
                when += " overdue"  # the step before it is still running
            flag = "⚑ " if row.irreversible else ""
            title = f"  {row.title}" if row.title and row.title != row.id else ""
            text = f"· {row.offset:<6} {flag}{row.id:<{idw}}  {when}{title}"
            lines.append(_line(text, "yellow" if late else "dim"))
        return lines

    def _output(self, room: int) -> list[Text]:
        """The running step's output: a rule naming it, then its newest lines."""
        model = self.model
        step = model.running or model.rollback_running
        if step is None and not model.output:
            return []
        tail = list(model.output)[-max(1, room // OUTPUT_SHARE) :]
        rule = _line(f"── output: {step} " if step else "── output ", "dim")
        rule.append("─" * max(0, self.width - rule.cell_len), style="dim")
        lines = [rule]
        for text in tail or ["(no output yet)"]:
            line = Text.from_ansi(text.replace("\r", " "), no_wrap=True)
            line.pad_left(2)
            lines.append(line)
        return lines

    # -- guards, rollback, notes ---------------------------------------------------------------

    def _guards(self) -> list[Text]:
        model = self.model
        if not model.guards:
            return []
        rows = sorted(model.guards.values(), key=lambda g: GUARD_ORDER.get(g.status, 4))
        open_rows = [g for g in rows if g.status != "closed"]
        waiting = sum(1 for g in open_rows if g.status == "waiting")
        counts = [f"{len(open_rows) - waiting} watching"]
        counts += [
            f"{n} {word}"
            for n, word in ((waiting, "waiting"), (len(rows) - len(open_rows), "closed"))
            if n
        ]
        title = Text(f"guards: {', '.join(counts)}", style="bold", no_wrap=True)
        if not open_rows:
            return [title]
        idw = min(22, max(len(g.id) for g in open_rows))
        thw = min(28, max(len(g.shown_threshold()) for g in open_rows))
        spark = max(0, min(24, self.width - idw - thw - 36))
        return [title, *(self._guard(g, idw, thw, spark) for g in open_rows)]

    def _guard(self, row: GuardRow, idw: int, thw: int, spark: int) -> Text:
        value = "—" if row.value is None else f"{row.value:.4g}"
        state = row.status + (f" ({row.breaches} breach)" if row.breaches else "")
        if row.status == "waiting" and row.window:
            state += f" for {row.window}"
        text = f"  {row.id:<{idw}} {value:>8}  {row.shown_threshold():<{thw}}"
        if spark:
            text += f" {row.sparkline()[-spark:]:<{spark}}"
        return _line(f"{text} {state}", GUARD_STYLE.get(row.status, "dim"))

    def _rollback(self) -> list[Text]:
        model = self.model
        if not model.rollback_reason:
            return []
        style = "bold red" if model.rollback_title == "ROLLBACK" else "bold yellow"
        lines = [_line(f"{model.rollback_title}: {model.rollback_reason}", style)]
        for step, status in model.rollback_steps.items():
            mark, mark_style = STATE_STYLE.get(status, ("·", "dim"))
            lines.append(_line(f"  {mark} {step}: {status}", mark_style))
        return lines

    def _notes(self) -> list[Text]:
        if not self.model.notes:
            return []
        return [
            _line("notes", "bold dim"),
            *(_line(f" • {note}", "dim") for note in self.model.notes),
        ]


def frame(model: ViewModel, width: int, height: int, now: datetime) -> list[Text]:
    """The lines of one frame (takes the model's lock)."""
    with model.lock:
        return Layout(model, width, height, now).lines()


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
