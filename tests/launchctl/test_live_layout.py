"""The live view's frame, rendered by rich at a given terminal size from a real launch's journal:
it fits (at most height - 1 lines, none wider than the terminal), the header is always its top,
finished steps collapse, sections give way in their order, and a redraw writes only what
changed — the screen it leaves is the frame, exactly."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console, Group
from terminal_screen import Screen

from launchctl.views.live_layout import frame
from launchctl.views.live_view import LiveView
from launchctl.views.view_model import ViewModel

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAME = " Agente Hotelero IA launch"


def _at(event: dict) -> datetime:
    return datetime.fromisoformat(event["ts"].replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def drill_events(tmp_path_factory) -> list[dict]:
    """The example launch's dry drill failing full-validation, with each step's command output
    as the recorder streams it (twelve long lines a step), and guard windows and samples."""
    import json
    import os

    from launchctl.cli import run_cli

    journal = tmp_path_factory.mktemp("drill") / "j"
    cwd = os.getcwd()
    os.chdir(EXAMPLES.parent)
    try:
        code = run_cli(
            [
                "drill",
                "examples/launch.yaml",
                "--fail-at",
                "full-validation",
                "--journal",
                str(journal),
            ]
        )
    finally:
        os.chdir(cwd)
    assert code == 0
    events = [json.loads(line) for line in (journal / "journal.jsonl").read_text().splitlines()]
    guards = events[0]["guards"]
    streamed: list[dict] = []
    for event in events:
        streamed.append(event)
        base = {"ts": event["ts"], "clock": event.get("clock")}
        if event["event"] in ("step_started", "rollback_step_started"):
            streamed += [
                {
                    "ts": event["ts"],
                    "event": "output",
                    "host": "localhost",
                    "line": f"{event['step']}: line {n} " + "of a long log line " * 8,
                }
                for n in range(12)
            ]
        if event["event"] == "guards_anchored":
            streamed += [
                {**base, "event": "guard_window_opened", "guard": g, "threshold": "> 0.05"}
                for g in guards
            ]
        if event["event"] == "step_finished" and streamed[-2:] and event.get("clock"):
            streamed += [
                {**base, "event": "guard_sample", "guard": g, "value": 0.01 * i, "status": "ok"}
                for i, g in enumerate(guards)
            ]
    return streamed


def _frames(events: list[dict], width: int, height: int):
    model = ViewModel()
    for event in events:
        model.apply(event)
        yield event, frame(model, width, height, _at(event))


def _shown(lines, width: int, height: int) -> list[str]:
    """What rich puts on a terminal of that size for these lines."""
    console = Console(
        width=width, height=height, record=True, file=io.StringIO(), color_system=None
    )
    console.print(Group(*lines))
    return console.export_text().rstrip("\n").split("\n")


@pytest.mark.parametrize(("width", "height"), [(80, 24), (150, 45), (100, 30)])
def test_every_frame_of_a_launch_fits_with_the_header_on_top(drill_events, width, height):
    for _event, lines in _frames(drill_events, width, height):
        shown = _shown(lines, width, height)
        assert len(shown) <= height - 1
        assert all(len(line) <= width for line in shown)
        assert shown[0].startswith(NAME)
        assert shown[1].startswith(" now ") and " T0 " in shown[1]
        assert shown[2].startswith((" running", " ROLLING BACK", " finished", " monitoring"))


def test_finished_steps_collapse_and_the_next_ones_say_when(drill_events):
    upto = next(
        i
        for i, e in enumerate(drill_events)
        if e["event"] == "step_started" and e["step"] == "golive"
    )
    *_, (event, lines) = _frames(drill_events[: upto + 1], 80, 24)
    shown = _shown(lines, 80, 24)
    assert "✓ 6 steps done (predeploy … health)" in shown
    assert not any("predeploy" in line and "…" not in line for line in shown)
    assert any(line.startswith("▶ T+0    golive · Go live") for line in shown)
    upcoming = next(line for line in shown if "initial-validation" in line)
    # a dry run's timeline is on its launch clock only: there is no wall time to give
    assert upcoming.startswith("· T+15m  initial-validation  launch ")


def test_sections_give_way_header_current_output_guards_rollback_then_the_rest(drill_events):
    rolling = next(i for i, e in enumerate(drill_events) if e["event"] == "rollback_step_started")
    events = drill_events[: rolling + 13]  # a rollback step running, its output streaming
    *_, (event, big) = _frames(events, 150, 45)
    *_, (event, small) = _frames(events, 80, 24)
    big_text, small_text = _shown(big, 150, 45), _shown(small, 80, 24)
    for text in (big_text, small_text):
        assert text[0].startswith(NAME) and text[2].startswith(" ROLLING BACK")
        assert any(line.startswith("⟲ restore-app: running") for line in text)
        assert any("restore-app: line 11 of a long" in line for line in text)  # the newest output
        assert any(line.startswith("guards: 5 watching") for line in text)
        assert any(line.startswith("ROLLBACK: drill: injected failure") for line in text)
    assert "notes" in big_text and "notes" not in small_text  # notes go first
    assert len(small_text) == 23 and len(big_text) < 44


def test_a_rehearsals_header_runs_the_launch_clock_at_its_speed():
    model = ViewModel()
    t0 = "2026-12-01T15:00:00.000Z"
    model.apply(
        {
            "ts": "2026-12-01T14:00:00.000Z",
            "clock": "2026-12-01T14:50:00.000Z",
            "event": "launch_started",
            "launch_id": "l",
            "name": "Sped up",
            "t0": t0,
            "speed": 60.0,
            "plan": [
                {"step": "golive", "title": "Go live", "offset": "T+0", "planned": t0},
            ],
        }
    )
    now = datetime.fromisoformat(
        "2026-12-01T14:00:05+00:00"
    )  # 5 s later: 5 min on the launch clock
    shown = _shown(frame(model, 80, 24, now), 80, 24)
    wall, launch = (
        now.astimezone(),
        (now + timedelta(minutes=55) - timedelta(seconds=5)).astimezone(),
    )
    assert shown[1].startswith(f" now {wall:%H:%M:%S} (launch {launch:%H:%M:%S})  T-05:00")
    assert "next: golive in 00:05 (launch 05:00)" in shown[2]
    due = (now + timedelta(seconds=5)).astimezone()
    assert any(f"golive  {due:%H:%M:%S} (launch " in line for line in shown)
    # an output line carries no launch clock: it must not drag the launch clock to the wall's
    model.apply({"ts": "2026-12-01T14:00:05.000Z", "event": "output", "line": "hello"})
    assert _shown(frame(model, 80, 24, now), 80, 24)[1] == shown[1]


def test_redraws_write_only_what_changed_and_leave_exactly_the_frame(drill_events):
    clock = {"now": _at(drill_events[0])}
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=80, height=24, color_system="256")
    view = LiveView(console, now=lambda: clock["now"])
    view._live = None
    from launchctl.views.live_screen import DiffLive

    view._live = DiffLive(view.render, console)  # drawn by hand here, not by the redrawer
    view._live.start()
    written = []
    for event in drill_events:
        view(event)
        clock["now"] = _at(event)
        before = len(out.getvalue())
        view._draw()
        written.append(len(out.getvalue()) - before)
        again = len(out.getvalue())
        view._draw()  # nothing changed: nothing is written
        assert len(out.getvalue()) == again
    screen = Screen(80, 24)
    screen.feed(out.getvalue().replace("\n", "\r\n"))  # a terminal's ONLCR
    expected = _shown(frame(view.model, 80, 24, clock["now"]), 80, 24)
    assert screen.lines()[: len(expected)] == expected
    assert screen.wraps == 0
    # A clock tick rewrites the seconds; a new sample rewrites its guard's line from the value on.
    mark = len(out.getvalue())
    clock["now"] += timedelta(seconds=1)
    view._draw()
    tick = out.getvalue()[mark:]
    assert len(tick) < 80 and "T0" not in tick
    mark = len(out.getvalue())
    view(
        {
            **drill_events[-1],
            "event": "guard_sample",
            "guard": "p95-latency",
            "value": 0.5,
            "status": "ok",
        }
    )
    view._draw()
    sample = out.getvalue()[mark:]
    assert "0.5" in sample and "p95-latency" not in sample and len(sample) < 120
