"""``launchctl replay`` against a real Prometheus serving a backfilled incident (5xx from 0.5 %
to 20 % at T+12m; a scrape outage of the gappy service from T+5m to T+7m)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from history_prometheus import GAP, INCIDENT
from live_guard import JumpClock, watch_live

from launchctl.journal.catalogue import iso
from launchctl.journal.masking import SecretMasker
from launchctl.journal.recorder import Recorder
from launchctl.journal.writer import JournalWriter
from launchctl.replay.timeline import scheduled_times
from runbook.v1.loader import load_runbook
from steps.deadline import Deadline
from steps.http import HttpSession
from steps.prometheus import instant_query

RATIO = (
    'sum(rate(http_requests_total{service="shop",code=~"5.."}[1m]))'
    ' / sum(rate(http_requests_total{service="shop"}[1m]))'
)
GAPPY = 'max_over_time(queue_depth{service="gappy"}[30s])'


def guard_yaml(gid: str, query: str, breach: str, then: str = "rollback", extra: str = "") -> str:
    return (
        f"  - id: {gid}\n    prometheus: '{query}'\n    breach: \"{breach}\"\n"
        f"    every: 15s\n    during: [T+0, T+30m]\n    then: {then}\n{extra}"
    )


@pytest.fixture
def runbook(write_runbook, history):
    def write(*guards: str, checks: bool = False) -> Path:
        check_steps = (
            "  - id: warm\n    at: T-5m\n    check:\n"
            "      - prometheus: 'sum(rate(http_requests_total{service=\"shop\"}[1m]))'\n"
            '        expect: "> 50"\n'
            if checks
            else ""
        )
        late = (
            f"  - id: validate\n    at: T+20m\n    check:\n      - prometheus: '{RATIO}'\n"
            '        expect: "< 0.01"\n'
            if checks
            else ""
        )
        return write_runbook(
            "version: 1\nname: shop launch\n"
            f'prometheus: {{url: "{history.url}"}}\n'
            f'steps:\n{check_steps}  - {{id: golive, at: T+0, run: "true"}}\n{late}'
            "guards:\n" + "".join(guards)
        )

    return write


def replay_json(cli, path: Path, history, *extra: str):
    result = cli("replay", path, "--t0", iso(history.t0), "--format", "json", *extra)
    assert result.exit_code in (0, 1), result.stderr
    return result.exit_code, json.loads(result.stdout)


def test_replay_places_the_rollback_at_the_incident_minute(cli, runbook, history):
    path = runbook(guard_yaml("error-rate", RATIO, "> 0.05"))
    code, data = replay_json(cli, path, history)
    assert code == 1 and data["verdict"] == "rollback"
    incident = INCIDENT.total_seconds()
    assert incident <= data["at"] <= incident + 15  # within one `every` of the incident
    guard = data["guards"][0]
    assert guard["fired_at"] == guard["first_breach"] == data["at"]
    text = cli("replay", path, "--t0", iso(history.t0))
    assert text.exit_code == 1
    assert "would have rolled back at T+12m15s: guard error-rate 0.05" in text.stdout


def test_a_guard_above_the_incident_would_have_completed_with_its_margin(cli, runbook, history):
    path = runbook(guard_yaml("error-rate", RATIO, "> 0.5"))
    code, data = replay_json(cli, path, history)
    assert code == 0 and data["verdict"] == "completed" and data["at"] is None
    guard = data["guards"][0]
    assert guard["action"] == "none" and guard["fired_at"] is None
    assert guard["margin"] == pytest.approx(0.5 - 0.2, abs=1e-6)  # the incident peaks at 20 %
    assert guard["samples"] == 120
    assert "would have completed" in cli("replay", path, "--t0", iso(history.t0)).stdout


def test_set_and_sweep_move_the_verdict(cli, runbook, history):
    path = runbook(guard_yaml("error-rate", RATIO, "> 0.05"))
    code, data = replay_json(cli, path, history, "--set", "error-rate.breach=> 0.5")
    assert (code, data["verdict"]) == (0, "completed")
    _, held = replay_json(cli, path, history, "--set", "error-rate.for=1m")
    assert held["at"] == held["guards"][0]["first_breach"] + 60
    _, fine = replay_json(cli, path, history, "--set", "error-rate.every=5s")
    assert fine["guards"][0]["samples"] == 3 * fine["at"] / 15 + 1  # sampled every 5 s up to it
    _, swept = replay_json(cli, path, history, "--sweep", "error-rate.breach=0.01:0.31:0.05")
    fired = {round(row["threshold"], 2): row["fired"] for row in swept["sweep"]}
    assert fired == {
        0.01: True,
        0.06: True,
        0.11: True,
        0.16: True,
        0.21: False,
        0.26: False,
        0.31: False,
    }
    table = cli("replay", path, "--t0", iso(history.t0), "--sweep", "error-rate.breach=0.1:0.3:0.1")
    assert "sweep of guard error-rate" in table.stdout and "> 0.3" in table.stdout


def test_bad_what_if_values_are_one_clear_line_and_exit_2(cli, runbook, history):
    path = runbook(guard_yaml("error-rate", RATIO, "> 0.05"))
    for option, value in [
        ("--set", "error-rate.breach=about 5%"),
        ("--set", "error-rate.every=0s"),
        ("--set", "nope.for=1m"),
        ("--set", "error-rate.query=up"),
        ("--sweep", "error-rate.breach=0.3:0.1:0.1"),
    ]:
        result = cli("replay", path, "--t0", iso(history.t0), option, value)
        assert result.exit_code == 2, (value, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_prometheus_checks_are_judged_at_their_steps_time(cli, runbook, history):
    path = runbook(guard_yaml("error-rate", RATIO, "> 0.9"), checks=True)
    code, data = replay_json(cli, path, history)
    results = {c["step"]: (c["result"], c["at"]) for c in data["checks"]}
    assert results == {"warm": ("pass", -300.0), "validate": ("fail", 1200.0)}
    assert (code, data["verdict"], data["at"]) == (1, "rollback", 1200.0)


def _sampler(history, query):
    session = HttpSession()
    return lambda now: instant_query(session, history.url, query, Deadline.after(10), at=now)


def _record_live_launch(tmp_path: Path, book, history, guard, name: str = "journal"):
    """The live guard watch against the same history, journaled as a launch journals it."""
    journal = tmp_path / name
    journal.mkdir()
    writer = JournalWriter(journal, durable=False)
    writer.open()
    times = scheduled_times(book, history.t0)
    clock = JumpClock(history.t0)
    recorder = Recorder(writer, SecretMasker([]), clock)
    recorder.emit(
        "launch_started",
        launch_id="past",
        runbook=str(book.source),
        t0=iso(history.t0),
        steps=list(book.step_ids),
    )
    recorder.emit("guards_anchored", anchor=times.go_live, step="golive")
    run = watch_live(guard, times, _sampler(history, guard.query), recorder.emit, clock)
    writer.close()
    return journal, run


def test_a_gap_in_history_escalates_exactly_as_the_live_guard_would(
    cli, runbook, history, tmp_path
):
    path = runbook(guard_yaml("queue", GAPPY, "> 100", then="warn"))
    code, data = replay_json(cli, path, history)
    book = load_runbook(path)
    _, live = _record_live_launch(tmp_path, book, history, book.guards[0])
    assert (code, data["verdict"]) == (1, "ask")  # blind three times in a row: ask, whatever `then`
    when, verdict = live.verdicts[0]
    assert verdict.action.value == "ask"
    assert data["at"] == (when - history.t0).total_seconds()
    gap = GAP.total_seconds()
    assert gap < data["at"] <= gap + 60
    stretch = data["guards"][0]["inconclusive_stretches"][0]
    assert stretch["samples"] == 3


@pytest.mark.parametrize("query,breach", [(RATIO, "> 0.05"), (GAPPY, "> 100"), (RATIO, "> 0.5")])
def test_series_and_journal_replays_give_the_live_replays_verdict(
    cli, runbook, history, tmp_path, query, breach
):
    path = runbook(guard_yaml("g", query, breach))
    saved = tmp_path / "series.json"
    _, live = replay_json(cli, path, history, "--save-series", str(saved))
    _, offline = replay_json(cli, path, history, "--series", str(saved))
    book = load_runbook(path)
    journal, _ = _record_live_launch(tmp_path, book, history, book.guards[0])
    _, journaled = replay_json(cli, path, history, "--journal", str(journal))
    for other in (offline, journaled):
        assert (other["verdict"], other["at"]) == (live["verdict"], live["at"])
        keys = ("action", "fired_at", "first_breach", "margin", "inconclusive")
        assert {k: other["guards"][0][k] for k in keys} == {k: live["guards"][0][k] for k in keys}


def test_a_journal_replays_under_changed_settings_like_prometheus_does(
    cli, runbook, history, tmp_path
):
    """A launch whose guard only warned kept sampling its whole window; replayed with a
    rollback, a ``for`` and another ``every``, its samples say what Prometheus says."""
    path = runbook(guard_yaml("g", RATIO, "> 0.05", then="warn"))
    book = load_runbook(path)
    journal, run = _record_live_launch(tmp_path, book, history, book.guards[0])
    assert [v.action.value for _, v in run.verdicts][:1] == ["warn"]
    for settings in (["g.then=rollback", "g.for=30s"], ["g.then=ask", "g.every=30s"]):
        options = [part for s in settings for part in ("--set", s)]
        _, journaled = replay_json(cli, path, history, "--journal", str(journal), *options)
        _, live = replay_json(cli, path, history, *options)
        assert (journaled["verdict"], journaled["at"]) == (live["verdict"], live["at"])
        assert journaled["verdict"] != "completed"


def test_preflight_reads_the_real_scrape_interval(cli, runbook, history):
    path = runbook(guard_yaml("error-rate", RATIO, "> 0.05"))
    result = cli("preflight", path)
    assert "scrape 15s (from the " in result.stderr  # targets' scrapeInterval or the config
    assert "worst-case time to detect 1m40s" in result.stderr  # 15s + 1m + 15s + 10s
    assert "[1m] is shorter than 4x" not in result.stderr  # 1m = 4 x 15s
