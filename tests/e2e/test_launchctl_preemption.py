"""A ``then: rollback`` breach preempts whatever the launch is doing, within a second.

Each test puts the launch in one state on a real pseudo-terminal that nobody
answers — a confirmation waiting, an ``ask`` waiting, the Ctrl-C menu open,
an HTTP check stuck on a stalling endpoint, a command running, the launch
held after go-live, a ``then: ask`` guard prompting — then turns a real
exporter's metric bad under a real Prometheus. The guard's breaching sample
must be followed by ``rollback_started`` within one second (journal times).
The scenarios live in ``tests/preemption_scenarios.py``, shared with
``tests/perf/bench_preemption.py``.
"""

from __future__ import annotations

import pytest
from conftest import events_of, read_events
from preemption_scenarios import (
    Lab,
    ask_guard_prompting,
    ask_waits,
    breach_to_rollback,
    command_runs,
    confirm_waits,
    ctrl_c_menu_open,
    held_after_go_live,
    http_check_stalled,
)


@pytest.fixture
def lab(workdir, exporter, prometheus, metric_name):
    exporter.set(metric_name, 0.0)
    prometheus.wait_for(metric_name, lambda v: v == 0.0)
    return Lab(workdir, prometheus.url, exporter, prometheus, metric_name)


def _rolled_back_within_a_second(lab: Lab, exit_code: int) -> list[dict]:
    events = read_events(lab.workdir / "j")
    assert exit_code == 1, [e["event"] for e in events]
    assert breach_to_rollback(events) < 1.0, "rollback must start within a second of the breach"
    assert (lab.workdir / "rolled-back").read_text().strip() == "guard:errors"
    return events


def test_breach_while_a_confirmation_waits_withdraws_it_and_rolls_back(lab):
    code, pty = confirm_waits(lab)
    events = _rolled_back_within_a_second(lab, code)
    assert not (lab.workdir / "cut").exists()
    assert "question withdrawn" in pty.screen
    withdrawn = events_of(events, "question_withdrawn")[0]
    assert withdrawn["kind"] == "confirm" and "breached" in withdrawn["reason"]


def test_breach_while_an_ask_waits_rolls_back(lab):
    _rolled_back_within_a_second(lab, ask_waits(lab)[0])


def test_breach_while_the_ctrl_c_menu_is_open_withdraws_it_and_rolls_back(lab):
    code, pty = ctrl_c_menu_open(lab)
    events = _rolled_back_within_a_second(lab, code)
    assert events_of(events, "step_interrupted")[0]["step"] == "deploy"
    assert events_of(events, "question_withdrawn")[0]["kind"] == "interrupt"


def test_breach_while_an_http_check_waits_on_a_stalled_endpoint_rolls_back(lab):
    events = _rolled_back_within_a_second(lab, http_check_stalled(lab)[0])
    assert events_of(events, "step_interrupted")[0]["step"] == "health"


def test_breach_while_a_command_runs_kills_it_and_rolls_back(lab):
    _rolled_back_within_a_second(lab, command_runs(lab)[0])
    assert not (lab.workdir / "deployed").exists()


def test_a_held_launch_keeps_watching_and_rolls_back_on_a_breach(lab, cli, monkeypatch):
    import preemption_scenarios

    seen_status: list[str] = []
    real_breach = Lab.breach

    def status_then_breach(self: Lab) -> None:
        seen_status.append(cli("status", self.workdir / "j").stdout)
        real_breach(self)

    monkeypatch.setattr(preemption_scenarios.Lab, "breach", status_then_breach)
    events = _rolled_back_within_a_second(lab, held_after_go_live(lab)[0])
    assert "phase: held" in seen_status[0] and "guards watching: errors" in seen_status[0]
    assert events_of(events, "launch_held")
    assert not (lab.workdir / "after").exists()


def test_a_rollback_breach_preempts_an_ask_guards_own_prompt(lab):
    events = _rolled_back_within_a_second(lab, ask_guard_prompting(lab)[0])
    assert events_of(events, "guard_triggered")[0]["guard"] == "considered"
    assert events_of(events, "question_withdrawn")[0]["kind"] == "guard"
