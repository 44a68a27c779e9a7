"""Every HTTP wait has a deadline: servers that trickle, stall or answer garbage, on loopback."""

from __future__ import annotations

import threading
import time

import pytest
from hostile_servers import BODIES, HostileServer

from steps.cancel import CancelToken
from steps.deadline import Deadline
from steps.http import HttpSession, RequestFailed
from steps.prometheus import instant_query, parse_instant

HANG_GUARD = 5.0  # seconds: far above each deadline, far below "hangs for ever"


@pytest.fixture(scope="module")
def hostile():
    server = HostileServer()
    yield server
    server.close()


@pytest.fixture
def session():
    http = HttpSession()
    yield http
    http.close()


@pytest.mark.parametrize("path", ["/trickle/x", "/stall/x", "/headers/x"])
def test_a_request_ends_at_its_deadline_however_the_server_dawdles(hostile, session, path):
    started = time.monotonic()
    with pytest.raises(RequestFailed) as failure:
        session.get(hostile.url + path, deadline=Deadline.after(1.0))
    took = time.monotonic() - started
    assert failure.value.timed_out
    assert 0.9 <= took < HANG_GUARD, f"took {took:.2f}s for a 1s deadline"


@pytest.mark.parametrize("path", ["/trickle/x", "/stall/x", "/headers/x"])
def test_a_cancelled_request_stops_promptly(hostile, session, path):
    cancel = CancelToken()
    threading.Timer(0.5, cancel.cancel, ("rollback",)).start()
    started = time.monotonic()
    with pytest.raises(RequestFailed, match="cancelled"):
        session.get(hostile.url + path, deadline=Deadline.after(30, cancel))
    assert time.monotonic() - started < HANG_GUARD


def test_a_name_that_never_resolves_is_bounded_too(session, monkeypatch):
    import socket

    real = socket.getaddrinfo

    def hung(host, *args, **kwargs):
        if host == "never.invalid":
            time.sleep(30)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", hung)
    started = time.monotonic()
    with pytest.raises(RequestFailed) as failure:
        session.get("http://never.invalid:1/x", deadline=Deadline.after(1.0))
    assert failure.value.timed_out and time.monotonic() - started < HANG_GUARD


def test_a_good_answer_comes_back_whole(hostile, session):
    answer = session.get(hostile.url + "/ok/x", deadline=Deadline.after(5))
    assert answer.status_code == 200 and answer.json()["status"] == "success"


@pytest.mark.parametrize("name", sorted(BODIES))
def test_any_json_shape_is_a_reason_never_an_exception(hostile, session, name):
    value, problem = instant_query(session, hostile.url + f"/json/{name}", "up", Deadline.after(5))
    assert value is None and problem


def test_html_is_a_reason(hostile, session):
    value, problem = instant_query(session, hostile.url + "/html", "up", Deadline.after(5))
    assert value is None and "without JSON" in problem and "502" in problem


def test_a_trickling_prometheus_is_inconclusive_at_the_deadline(hostile, session):
    started = time.monotonic()
    value, problem = instant_query(session, hostile.url + "/trickle", "up", Deadline.after(1))
    assert value is None and "in time" in problem
    assert time.monotonic() - started < HANG_GUARD


@pytest.mark.parametrize(
    ("payload", "value", "problem"),
    [
        (
            {
                "status": "success",
                "data": {"resultType": "vector", "result": [{"value": [1, "0.5"]}]},
            },
            0.5,
            "",
        ),
        ({"status": "success", "data": {"resultType": "scalar", "result": [1, "2"]}}, 2.0, ""),
        ({"status": "success", "data": {"resultType": "vector", "result": []}}, None, "no data"),
        (
            {"status": "success", "data": {"resultType": "vector", "result": [{}, {}]}},
            None,
            "aggregate",
        ),
        (
            {
                "status": "success",
                "data": {"resultType": "vector", "result": [{"value": [1, "NaN"]}]},
            },
            None,
            "NaN",
        ),
        (
            {
                "status": "success",
                "data": {"resultType": "vector", "result": [{"value": [1, True]}]},
            },
            None,
            "unreadable",
        ),
        (
            {"status": "success", "data": {"resultType": "matrix", "result": []}},
            None,
            "unsupported",
        ),
        ({"status": "success", "data": {"resultType": "scalar", "result": "x"}}, None, "malformed"),
        ({"status": "error", "errorType": "bad_data", "error": "parse error"}, None, "parse error"),
        ([], None, "not a Prometheus answer"),
        (None, None, "not a Prometheus answer"),
        ("x", None, "not a Prometheus answer"),
        ({"status": "success", "data": 5}, None, "'data' is int"),
    ],
)
def test_parse_instant(payload, value, problem):
    got_value, got_problem = parse_instant(payload)
    assert got_value == value
    assert problem in got_problem
