"""Guard decisions against a measured baseline, table-driven, and the live watch measuring it on
the guard's own thread before the window opens: the baseline is an input to the one decision
code that the live watch and ``replay`` share."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from live_guard import JumpClock

from rollback.guard_replay import Series, replay_guard
from rollback.guard_watch import GuardWatch
from rollback.guards import GuardState, LaunchTimes, SampleStatus, VerdictKind, baseline_range
from runbook.comparison import parse_comparison
from runbook.model import DEFAULT_BASELINE, BaselineWindow, Guard, GuardAction
from steps.baseline import Baseline

T0 = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def _guard(breach: str = "> 1.5x baseline", **overrides) -> Guard:
    settings = {
        "id": "p95",
        "query": "q",
        "breach": parse_comparison(breach),
        "every": timedelta(seconds=1),
        "during": (timedelta(0), timedelta(minutes=30)),
        "baseline": DEFAULT_BASELINE,
        "then": GuardAction.ROLLBACK,
    }
    settings.update(overrides)
    return Guard(**settings)


# breach, measured baseline (None: not measured), value, status, reason (part of)
SAMPLES = [
    ("> 1.5x baseline", Baseline(0.2), 0.9, SampleStatus.BREACHING, ""),
    ("> 1.5x baseline", Baseline(0.2), 0.25, SampleStatus.OK, ""),
    ("> baseline + 0.01", Baseline(0.0), 0.02, SampleStatus.BREACHING, ""),
    ("> 1.5x baseline", None, 0.9, SampleStatus.INCONCLUSIVE, "not measured yet"),
    (
        "> 1.5x baseline",
        Baseline(None, "no data in the range"),
        0.9,
        SampleStatus.INCONCLUSIVE,
        "no baseline: no data",
    ),
    ("> 1.5x baseline", Baseline(0.0), 0.9, SampleStatus.INCONCLUSIVE, "the baseline is 0"),
    # A negative baseline under a factor turns the comparison around: -2 (the normal) is above
    # 1.5 x -2 = -3, so the guard would fire on a healthy service.
    ("> 1.5x baseline", Baseline(-2.0), -2.0, SampleStatus.INCONCLUSIVE, "the baseline is -2"),
    ("< 0.8x baseline", Baseline(-2.0), -2.0, SampleStatus.INCONCLUSIVE, "the baseline is -2"),
    ("> baseline + 1", Baseline(-2.0), -0.5, SampleStatus.BREACHING, ""),  # an offset works
    # An infinite baseline makes every limit infinite: the guard could never fire.
    ("> 1.5x baseline", Baseline(float("inf")), 1e300, SampleStatus.INCONCLUSIVE, "inf"),
    ("> baseline + 0.01", Baseline(float("inf")), 1e300, SampleStatus.INCONCLUSIVE, "inf"),
    ("> 3", None, 0.9, SampleStatus.OK, ""),  # a fixed threshold needs none
]


@pytest.mark.parametrize(("breach", "baseline", "value", "status", "says"), SAMPLES, ids=repr)
def test_a_sample_is_judged_against_the_measured_baseline(breach, baseline, value, status, says):
    seen = GuardState(_guard(breach), baseline).observe(T0, value)
    assert seen.status is status
    assert says in seen.reason


def test_a_breach_verdict_carries_the_baseline_and_the_limit_it_made():
    verdict = GuardState(_guard(), Baseline(0.2)).observe(T0, 0.9).verdict
    assert verdict.kind is VerdictKind.BREACH and verdict.action is GuardAction.ROLLBACK
    assert (verdict.baseline, verdict.limit) == (0.2, pytest.approx(0.3))
    assert verdict.reason == "guard 'p95' breached: 0.9 > 1.5x baseline (baseline 0.2: limit 0.3)"


def test_no_baseline_is_never_a_pass_and_goes_blind_like_any_unknown():
    state = GuardState(_guard(inconclusive_limit=3), Baseline(None, "no data in the range"))
    verdicts = [state.observe(T0 + timedelta(seconds=s), 0.01).verdict for s in range(3)]
    assert verdicts[:2] == [None, None]
    assert verdicts[2].kind is VerdictKind.BLIND and verdicts[2].action is GuardAction.ASK
    assert "no baseline: no data in the range" in verdicts[2].reason


WINDOW = BaselineWindow(timedelta(minutes=-30), timedelta(minutes=-5))
RANGES = [
    ("on schedule: T- offsets hang on the scheduled T0", T0, None, (-30, -5)),
    ("before go-live a T+ window is not known", None, None, (-30, -5)),
    (
        "a go-live before the window's end (--no-wait) moves it back",
        T0 - timedelta(minutes=50),
        T0 - timedelta(minutes=50),
        (-75, -50),
    ),
]


@pytest.mark.parametrize(
    ("why", "go_live", "judged_from", "minutes"),
    RANGES,
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_the_baseline_window_ends_before_what_it_judges_starts(why, go_live, judged_from, minutes):
    times = LaunchTimes(T0, go_live)
    start, end = baseline_range(WINDOW, times, judged_from)
    assert (start, end) == (T0 + timedelta(minutes=minutes[0]), T0 + timedelta(minutes=minutes[1]))


def test_the_live_watch_measures_once_before_the_window_opens_and_replay_agrees():
    guard = _guard(during=(timedelta(0), timedelta(seconds=20)))
    times = LaunchTimes(T0, T0)
    clock = JumpClock(T0 - timedelta(minutes=40))
    asked: list[datetime] = []
    measured = Baseline(0.2, points=9)

    def baseline(g: Guard, cancel) -> Baseline | None:
        stretch = baseline_range(g.baseline, times, T0)
        if clock.now() < stretch[1]:
            return None
        asked.append(clock.now())
        return measured

    def value(moment: datetime) -> float:
        return 0.25 if moment < T0 + timedelta(seconds=5) else 0.9

    events: list[tuple[str, dict]] = []
    verdicts = []
    done = threading.Event()

    def emit(event: str, **fields) -> None:
        events.append((event, fields))
        if event == "guard_window_closed":
            done.set()

    def on_verdict(g, verdict) -> None:
        verdicts.append((clock.now(), verdict))
        watch.stop_token.cancel("stop")
        done.set()

    watch = GuardWatch(
        [guard], clock, times, lambda g, d: (value(clock.now()), ""), emit, on_verdict, baseline
    )
    watch.start()
    assert done.wait(60), "the live watch did not finish"
    watch.stop()
    assert len(asked) == 1 and T0 - timedelta(minutes=5) <= asked[0] < T0
    opened = next(fields for event, fields in events if event == "guard_window_opened")
    assert opened["limit"] == pytest.approx(0.3)
    fired_at, verdict = verdicts[0]
    series = Series(
        [(T0 + timedelta(seconds=s), value(T0 + timedelta(seconds=s)), "") for s in range(21)]
    )
    replayed = replay_guard(guard, times, series, measured)
    assert (replayed.fired_at, replayed.verdict.reason) == (fired_at, verdict.reason)


def test_a_baseline_missed_as_its_window_closed_is_measured_again_and_the_guard_sees_again():
    """A Prometheus blip at T-5m: the first measurement has no value. The guard is inconclusive
    meanwhile, asks again, and judges by the baseline once it comes: it fires on 0.9 > 1.5 × 0.2
    instead of going blind for the rest of the launch."""
    guard = _guard(during=(timedelta(0), timedelta(minutes=5)), inconclusive_limit=100)
    times = LaunchTimes(T0, T0)
    clock = JumpClock(T0 - timedelta(minutes=40))
    answers = [Baseline(None, "cannot reach Prometheus"), Baseline(0.2, points=9)]
    asked: list[datetime] = []

    def baseline(g: Guard, cancel) -> Baseline | None:
        stretch = baseline_range(g.baseline, times, T0)
        if clock.now() < stretch[1]:
            return None
        asked.append(clock.now())
        return answers[min(len(asked), len(answers)) - 1]

    verdicts = []
    done = threading.Event()

    def on_verdict(g, verdict) -> None:
        verdicts.append(verdict)
        watch.stop_token.cancel("stop")
        done.set()

    def emit(event: str, **fields) -> None:
        if event == "guard_window_closed":
            done.set()

    watch = GuardWatch([guard], clock, times, lambda g, d: (0.9, ""), emit, on_verdict, baseline)
    watch.start()
    assert done.wait(60), "the live watch did not finish"
    watch.stop()
    assert len(asked) >= 2 and verdicts, "the guard never judged by the baseline that came"
    assert verdicts[0].baseline == pytest.approx(0.2) and verdicts[0].limit == pytest.approx(0.3)
