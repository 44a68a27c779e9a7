"""Waves in rehearsal (nothing is touched, no host is connected to): ``plan`` and ``--dry-run`` show
each wave with its hosts, the hold and the checks between; ``drill --fail-at STEP --wave N``
fails wave N and the rollback undoes waves N..1 only; ``status``, the report and the live view
show the waves and hosts from the same journal."""

from __future__ import annotations

import os

import pytest
from conftest import events_of
from rich.console import Console

from launchctl.views.live_view import LiveView

WAVES = """
version: 1
name: Fleet rehearsal
targets:
  api: {hosts: [a1, a2, a3, a4, a5, a6, a7, a8, a9, a10], parallel: 3}
  solo: {hosts: [b1]}
steps:
  - id: deploy
    at: T+0
    on: api
    run: deploy {{ host }}
    waves: [1, 25%, 100%]
    between_waves:
      hold: 2m
      check:
        - http: "http://{{ host }}:8000/health"
        - command: "true"
  - id: single
    at: T+10m
    on: solo
    run: "true"
rollback:
  - id: undeploy
    if_started: deploy
    on: api
    parallel: 5
    run: undeploy {{ host }}
"""


def test_plan_shows_each_wave_with_its_hosts_hold_and_checks(write_runbook, cli):
    result = cli("plan", write_runbook(WAVES))
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert "wave 1 of 3 (1 host):" in text and "wave 2 of 3 (2 hosts):" in text
    assert "wave 3 of 3 (7 hosts):" in text
    assert text.index("run [a1]: deploy a1") < text.index("hold 2m after wave 1")
    assert "check http [a2]: http://a2:8000/health" in text  # the hosts just done, per host
    assert text.count("check command: true") == 2  # once after each wave but the last
    assert "undeploy: on the hosts 'deploy' started, last wave first" in text


def test_a_dry_run_walks_the_waves_and_journals_them(write_runbook, cli):
    result = cli("run", write_runbook(WAVES), "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "≋ wave 2 of 3: a2, a3" in result.stdout
    assert "holding 120s after wave 1 of 3, guards watching" in result.stdout
    started = events_of(result.events, "wave_started")
    assert [(e["wave"], len(e["hosts"])) for e in started] == [(1, 1), (2, 2), (3, 7)]
    assert len(events_of(result.events, "host_started")) == 11  # ten hosts of api, one of solo
    status = cli("status", result.journal_dir)
    assert "wave 3 of 3: a4, a5, a6, a7, a8, a9 and 1 more" not in status.stdout
    assert "wave 3 of 3: 7 ok" in status.stdout
    assert "hosts: b1 ok" in status.stdout
    report = cli("report", result.journal_dir)
    assert "## Hosts, per wave" in report.stdout and "- wave 1 of 3: a1 ok" in report.stdout


def test_drill_fails_wave_2_and_the_rollback_undoes_waves_2_then_1_only(write_runbook, cli):
    result = cli("drill", write_runbook(WAVES), "--fail-at", "deploy", "--wave", "2")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "injected failure of step 'deploy' in wave 2 of 3" in result.stdout
    assert "undid a2, a3 (wave 2); a1 (wave 1)" in result.stdout
    started = {e["host"] for e in events_of(result.events, "host_started") if not e.get("phase")}
    assert started == {"a1", "a2", "a3"}  # wave 3 never started
    undo = [e for e in events_of(result.events, "command_finished") if e.get("phase")]
    assert [e["host"] for e in undo] == ["a2", "a3", "a1"]


@pytest.mark.parametrize(
    "args,message",
    [
        (("--wave", "1", "--breach", "nosuch"), "no such guard"),
        (("--fail-at", "single", "--wave", "1"), "step 'single' has no waves"),
        (("--fail-at", "deploy", "--wave", "4"), "step 'deploy' has 3 waves (1..3)"),
        (("--fail-at", "deploy", "--wave", "0"), "0 is not in the range"),
    ],
)
def test_a_drill_wave_that_cannot_be_failed_is_bad_input(write_runbook, cli, args, message):
    result = cli("drill", write_runbook(WAVES), *args)
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def _view_until(events: list[dict], stop) -> str:
    view = LiveView(Console(record=True, width=200, file=open(os.devnull, "w")))  # noqa: SIM115
    for event in events:
        view(event)
        if stop(event):
            break
    view.console.print(view.render())
    return view.console.export_text()


def test_the_live_view_shows_the_wave_the_hosts_running_and_the_hold(write_runbook, cli):
    events = cli("run", write_runbook(WAVES), "--dry-run").events
    text = _view_until(events, lambda e: e["event"] == "host_started" and e["host"] == "a2")
    assert "wave 2/3 · hosts 1/10 ok · running a2" in text
    text = _view_until(events, lambda e: e["event"] == "wait_started")
    assert "wave 1/3 · hosts 1/10 ok · holding 120s after wave 1, guards watching" in text
