"""``launchctl replay`` offline (``--series``): verdicts and exit codes, the JSON shape of SPEC
section 7, go-live on the first step at or after T+0, bad input as one line, nothing touched."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

T0 = datetime(2025, 6, 1, 10, 0, tzinfo=UTC)
GUARD_KEYS = {"id", "action", "fired_at", "first_breach", "margin", "samples", "inconclusive"}


def _answer(values: list[float], start: datetime = T0, step: int = 15) -> dict:
    points = [[start.timestamp() + step * i, repr(v)] for i, v in enumerate(values)]
    return {"status": "success", "data": {"resultType": "matrix", "result": [{"values": points}]}}


@pytest.fixture
def offline(write_runbook, workdir):
    def make(golive: str = "T+0", breach: str = "> 0.05", values=None, then: str = "rollback"):
        guard = {"id": "err", "prometheus": "q", "breach": breach, "for": "30s"}
        book = {
            "version": 1,
            "name": "offline",
            "prometheus": {"url": "http://127.0.0.1:9"},
            "notify": [{"webhook": "http://127.0.0.1:9/hook"}],
            "steps": [
                {"id": "prep", "at": "T-10m", "run": "touch touched"},
                {"id": "golive", "at": golive, "run": "touch touched", "notify": "live"},
            ],
            "guards": [{**guard, "during": ["T+0", "T+20m"], "then": then}],
        }
        path = write_runbook(json.dumps(book))  # JSON is YAML
        values = values if values is not None else [0.01] * 48 + [0.2] * 40
        series = workdir / "series.json"
        series.write_text(json.dumps({"err": _answer(values)}))
        return path, series

    return make


def test_offline_replay_rolls_back_where_the_series_breaches(cli, offline, workdir):
    path, series = offline()
    result = cli("replay", path, "--t0", T0.isoformat(), "--series", series, "--format", "json")
    assert result.exit_code == 1, result.stderr
    data = json.loads(result.stdout)
    assert set(data) >= {"verdict", "at", "guards", "checks"}
    assert set(data["guards"][0]) >= GUARD_KEYS
    assert (data["verdict"], data["at"]) == ("rollback", 48 * 15 + 30)
    assert data["guards"][0]["first_breach"] == 48 * 15
    assert not (workdir / "touched").exists() and not (workdir / ".launchctl").exists()


def test_warn_only_is_completed_with_exit_0(cli, offline):
    path, series = offline(then="warn")
    result = cli("replay", path, "--t0", T0.isoformat(), "--series", series)
    assert result.exit_code == 0
    assert "would have completed, with a warning at T+12m30s" in result.stdout


def test_go_live_is_the_first_step_at_or_after_t_plus_0(cli, offline):
    path, series = offline(golive="T+5m", values=[0.01] * 100)
    result = cli("replay", path, "--t0", T0.isoformat(), "--series", series, "--format", "json")
    data = json.loads(result.stdout)
    assert data["go_live"] == 300 and data["guards"][0]["window"] == [300, 1500]
    assert (result.exit_code, data["verdict"]) == (0, "completed")
    assert data["guards"][0]["margin"] == pytest.approx(0.04)


def test_a_series_that_ends_early_is_judged_up_to_its_end(cli, offline):
    path, series = offline(values=[0.01] * 20)
    result = cli("replay", path, "--t0", T0.isoformat(), "--series", series)
    assert result.exit_code == 0 and "history ends at T+5m" in result.stdout


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--t0", (datetime.now(UTC) + timedelta(days=1)).isoformat()], "is in the future"),
        ([], "replay needs --t0"),
        (["--t0", "yesterday"], "--t0 'yesterday'"),
        (["--t0", T0.isoformat(), "--journal", "j"], "give one"),
        (["--t0", T0.isoformat(), "--set", "err.for=soon"], "invalid duration"),
        (["--t0", T0.isoformat(), "--sweep", "err.for=1:2:1"], "only a guard's breach"),
        (["--t0", T0.isoformat(), "--sweep", "err.breach=1:2:0"], "STEP > 0"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli, offline, extra, message):
    path, series = offline()
    result = cli("replay", path, "--series", series, *extra)
    assert result.exit_code == 2, result.stdout
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr


def test_an_unreadable_series_file_is_one_line_and_exit_2(cli, offline, workdir):
    path, series = offline()
    series.write_text("{not json")
    result = cli("replay", path, "--t0", T0.isoformat(), "--series", series)
    assert result.exit_code == 2 and result.stderr.startswith(f"{series}: not JSON")
    missing = cli("replay", path, "--t0", T0.isoformat(), "--series", workdir / "nope.json")
    assert missing.exit_code == 2 and "cannot read" in missing.stderr


def test_a_garbled_answer_in_the_series_file_is_blind_history_and_asks(cli, offline):
    path, series = offline()
    series.write_text(json.dumps({"err": {"status": "success", "data": "?"}}))
    result = cli("replay", path, "--t0", T0.isoformat(), "--series", series)
    assert result.exit_code == 1
    assert "would have asked a person at T+30s: guard err inconclusive 3 times" in result.stdout


def test_a_guard_after_a_step_opens_when_that_step_would_have_ended(cli, write_runbook, workdir):
    path = write_runbook(
        """
        version: 1
        name: after
        prometheus: {url: "http://127.0.0.1:9"}
        steps:
          - {id: golive, at: T+0, run: "true"}
          - {id: soak, at: T+1m, wait: 4m}
        guards:
          - {id: err, prometheus: "q", breach: "> 0.05", after: soak, during: [T+0, T+20m]}
        """
    )
    series = workdir / "series.json"
    series.write_text(json.dumps({"err": _answer([0.01] * 100)}))
    result = cli("replay", path, "--t0", T0.isoformat(), "--series", series, "--format", "json")
    assert json.loads(result.stdout)["guards"][0]["window"] == [300, 1200]


def test_a_prometheus_url_secret_that_is_not_set_is_one_line(cli, write_runbook):
    path = write_runbook(
        """
        version: 1
        name: secret
        secrets: [PROM_TOKEN]
        prometheus: {url: "http://u:${PROM_TOKEN}@127.0.0.1:9"}
        steps: [{id: golive, at: T+0, run: "true"}]
        guards: [{id: err, prometheus: "q", breach: "> 0.05", during: [T+0, T+5m]}]
        """
    )
    result = cli("replay", path, "--t0", T0.isoformat(), env={"PROM_TOKEN": None})
    assert result.exit_code == 2 and "needs secret PROM_TOKEN" in result.stderr
