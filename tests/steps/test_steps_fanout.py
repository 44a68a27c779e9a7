"""The bounded fan-out, on plain functions: order, the ``parallel`` bound, ``max_fail``, cancellation."""

from __future__ import annotations

import threading
import time

import pytest

from steps.cancel import CancelToken
from steps.fanout import NOT_STARTED_CANCELLED, NOT_STARTED_MAX_FAIL, fan_out


def skipped(host, why, cancelled):
    return (host, why, cancelled)


def run_all(hosts, run, **kwargs):
    kwargs.setdefault("parallel", 3)
    kwargs.setdefault("allowed_failures", 0)
    kwargs.setdefault("failed", lambda r: r[1] != "ok")
    return fan_out(hosts, run, skipped=skipped, **kwargs)


@pytest.mark.parametrize("parallel", [1, 2, 5, 50])
def test_never_more_than_parallel_in_flight_and_results_in_host_order(parallel):
    lock = threading.Lock()
    in_flight = peak = 0
    hosts = [f"h{i}" for i in range(12)]
    full = threading.Event()  # the pool reached its bound: no timing luck needed under load

    def run(host):
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
            if in_flight >= min(parallel, len(hosts)):
                full.set()
        full.wait(5)
        time.sleep(0.01 * (int(host[1:]) % 3))
        with lock:
            in_flight -= 1
        return (host, "ok", False)

    results = run_all(hosts, run, parallel=parallel)
    assert [r[0] for r in results] == hosts
    assert peak == min(parallel, len(hosts))


def test_hosts_not_started_once_more_than_max_fail_have_failed():
    started = []

    def run(host):
        started.append(host)
        return (host, "boom" if host in ("b", "c") else "ok", False)

    results = run_all(list("abcdef"), run, parallel=1, allowed_failures=1)
    assert started == ["a", "b", "c"]
    assert [r[1] for r in results] == ["ok", "boom", "boom"] + [NOT_STARTED_MAX_FAIL] * 3


def test_failures_within_max_fail_let_every_host_run():
    results = run_all(
        list("abcd"), lambda h: (h, "boom" if h == "b" else "ok", False), allowed_failures=1
    )
    assert [r[1] for r in results] == ["ok", "boom", "ok", "ok"]


def test_hosts_in_flight_finish_when_the_limit_is_crossed():
    release = threading.Event()

    def run(host):
        if host == "a":
            return (host, "boom", False)
        release.wait(5)
        return (host, "ok", False)

    threading.Timer(0.2, release.set).start()
    results = run_all(list("abcde"), run, parallel=3, allowed_failures=0)
    assert [r[1] for r in results] == [
        "boom",
        "ok",
        "ok",
        NOT_STARTED_MAX_FAIL,
        NOT_STARTED_MAX_FAIL,
    ]


def test_cancellation_stops_starting_hosts():
    cancel = CancelToken()

    def run(host):
        if host == "b":
            cancel.cancel("rollback")
        return (host, "ok", False)

    results = run_all(list("abcd"), run, parallel=1, cancel=cancel)
    assert results[2:] == [("c", NOT_STARTED_CANCELLED, True), ("d", NOT_STARTED_CANCELLED, True)]


def test_an_exception_in_one_host_is_that_hosts_result():
    def run(host):
        if host == "b":
            raise RuntimeError("bug")
        return (host, "ok", False)

    results = run_all(list("abc"), run, allowed_failures=5)
    assert results[1] == ("b", "b: RuntimeError: bug", False)
    assert results[2] == ("c", "ok", False)


def test_each_result_is_reported_as_it_arrives():
    seen = []
    run_all(list("abc"), lambda h: (h, "ok", False), on_result=seen.append)
    assert sorted(r[0] for r in seen) == ["a", "b", "c"]
