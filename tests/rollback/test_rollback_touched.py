"""Rollback of exactly what was touched, table-driven: which hosts a rollback step undoes, in which
order, and when it falls back to its whole target."""

from __future__ import annotations

import pytest

from rollback.touched import undo_plan, undoes_touched
from runbook import model

API = model.Target("api", "ssh", ("a1", "a2", "a3", "a4", "a5"))
WEB = model.Target("web", "ssh", ("a1", "a2", "a3", "a4", "a5"))
BOOK = model.Runbook(
    name="t",
    source=__import__("pathlib").Path("t.yaml"),
    content=b"",
    steps=(
        model.Step("deploy", run="x", on="api"),
        model.Step("migrate", run="x"),
    ),
    targets={"api": API, "web": WEB},
)


def undo(if_started: str | None, on: str = "api") -> model.RollbackStep:
    return model.RollbackStep("undo", run="y", on=on, if_started=if_started)


@pytest.mark.parametrize(
    "touched,batches,numbers",
    [
        # waves 1 (a1) and 2 (a2, a3) touched: wave 2 first, in the target's order
        ({"a3": 2, "a1": 1, "a2": 2}, (("a2", "a3"), ("a1",)), (2, 1)),
        # a step without waves: its started hosts, one batch, no wave numbers
        ({"a4": None, "a2": None}, (("a2", "a4"),), ()),
    ],
)
def test_a_rollback_step_undoes_the_hosts_its_launch_step_started_last_wave_first(
    touched, batches, numbers
):
    plan = undo_plan(undo("deploy"), BOOK, {"deploy": touched})
    assert plan is not None
    assert plan.batches == batches and plan.numbers == numbers


@pytest.mark.parametrize(
    "step,touched",
    [
        (undo(None), {"deploy": {"a1": 1}}),  # no if_started: the whole target, as before
        (undo("deploy", on="web"), {"deploy": {"a1": 1}}),  # another target (same hosts or not)
        (undo("migrate"), {"migrate": {"localhost": None}}),  # a local launch step
        (undo("deploy"), {}),  # started, but no host record (a drill failed it before any host)
    ],
)
def test_other_rollback_steps_run_on_their_whole_target(step, touched):
    assert undo_plan(step, BOOK, touched) is None


def test_the_rule_is_said_for_plans():
    assert undoes_touched(undo("deploy"), BOOK)
    assert not undoes_touched(undo("deploy", on="web"), BOOK)
    assert not undoes_touched(undo(None), BOOK)
