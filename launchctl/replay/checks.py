"""A step's Prometheus checks judged at the step's time: an instant query with ``time=``.

Polled like the live check (``within``/``every``): tried at the step's time,
then every ``every`` until it passes or ``within`` is over. HTTP and command
checks need the world as it was, which no history keeps: they are listed as
not replayed, never counted as passing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from launchctl.replay.timeline import step_time
from rollback.guards import LaunchTimes, baseline_range
from runbook import model
from steps.baseline import Baseline, measure_baseline
from steps.criteria import evaluate_prometheus
from steps.deadline import Deadline
from steps.executor import render_text
from steps.http import HttpSession


@dataclass(frozen=True)
class CheckReplay:
    step: model.Step
    index: int
    query: str
    expect: str
    result: str  # pass | fail | inconclusive | not replayed
    at: datetime
    value: float | None
    reason: str

    @property
    def stops_launch(self) -> bool:
        return self.result in ("fail", "inconclusive") and self.step.on_failure.value != "continue"


def replay_checks(
    book: model.Runbook,
    times: LaunchTimes,
    values: dict[str, str],
    base_url: str | None,
    now: datetime,
    session: HttpSession | None,
) -> list[CheckReplay]:
    results = []
    for step in book.steps:
        at = step_time(book, step, times)
        for index, criterion in enumerate(step.check):
            if not isinstance(criterion, model.PrometheusCriterion):
                results.append(
                    CheckReplay(
                        step,
                        index,
                        criterion.subject(),
                        "",
                        "not replayed",
                        at,
                        None,
                        f"{criterion.kind} checks need the world as it was",
                    )
                )
                continue
            query = render_text(criterion.query, {**values, "step.id": step.id})
            results.append(_judge(step, index, criterion, query, at, base_url, now, session, times))
    return results


def _judge(
    step: model.Step,
    index: int,
    criterion: model.PrometheusCriterion,
    query: str,
    at: datetime,
    base_url: str | None,
    now: datetime,
    session: HttpSession | None,
    times: LaunchTimes,
) -> CheckReplay:
    def result(outcome: str, moment: datetime, value: float | None, reason: str) -> CheckReplay:
        return CheckReplay(
            step, index, query, str(criterion.expect), outcome, moment, value, reason
        )

    if base_url is None or session is None:
        return result("not replayed", at, None, "offline replay: no Prometheus to ask")
    if at > now:
        return result("not replayed", at, None, "the step's time is still in the future")
    baseline = _baseline(criterion, query, at, times, base_url, session)
    moment, last = at, None
    end = at + criterion.poll.within if criterion.poll.within else at
    while True:
        judged = evaluate_prometheus(
            base_url,
            query,
            criterion.expect,
            deadline=Deadline.after(criterion.timeout.total_seconds()),
            session=session,
            baseline=baseline,
            at=moment,
        )
        last = result(judged.outcome.value, moment, judged.value, judged.reason)
        if judged.passed:
            return last
        moment += criterion.poll.every
        if moment > end or moment > now:
            return last


def _baseline(
    criterion: model.PrometheusCriterion,
    query: str,
    at: datetime,
    times: LaunchTimes,
    base_url: str,
    session: HttpSession,
) -> Baseline | None:
    """A relative check's baseline from history, as the live launch measures it before the step."""
    if criterion.baseline is None or criterion.expect.relative is None:
        return None
    start, end = baseline_range(criterion.baseline, times, at) or (at, at)
    return measure_baseline(session, base_url, query, start, end, Deadline.after(10))
