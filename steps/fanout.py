"""Fan-out over a target's hosts: at most ``parallel`` at once, stopping at ``max_fail``.

Fabric's ``ThreadingGroup`` starts every host at once and keys results by
connection identity (aliases of one address collapse); this bounded pool
starts hosts in the runbook's order, never more than ``parallel`` in flight,
and once more hosts have failed than allowed, starts no more: those get a
"not started" result. Hosts already running are left to finish (killing a
half-done deploy would leave the host in a worse state). Results come back
keyed by the name the runbook used, in the runbook's order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

from steps.cancel import CancelToken

H = TypeVar("H", bound=Hashable)
R = TypeVar("R")

NOT_STARTED_MAX_FAIL = "not started: max_fail exceeded"
NOT_STARTED_CANCELLED = "not started: cancelled"


def fan_out(
    hosts: Sequence[H],
    run: Callable[[H], R],
    *,
    parallel: int,
    allowed_failures: int,
    failed: Callable[[R], bool],
    skipped: Callable[[H, str, bool], R],
    cancel: CancelToken | None = None,
    on_result: Callable[[R], None] | None = None,
) -> list[R]:
    """Run ``run(host)`` for each host; returns one result per host, in ``hosts`` order.

    ``failed`` says which results count against ``allowed_failures``;
    ``skipped(host, reason, cancelled)`` makes the result of a host not
    started; ``on_result`` sees each result as it arrives (from worker threads).
    ``run`` must not raise; if it does, the host gets a skipped-style result
    carrying the exception, and the rest go on.
    """
    results: dict[H, R] = {}
    failures = 0

    def record(host: H, result: R) -> None:
        nonlocal failures
        results[host] = result
        if failed(result):
            failures += 1
        if on_result is not None:
            on_result(result)

    def guarded(host: H) -> R:
        try:
            return run(host)
        except Exception as exc:  # a bug in one host's run must not lose the others
            return skipped(host, f"{host}: {type(exc).__name__}: {exc}", False)

    def refusal() -> tuple[str, bool] | None:
        if cancel is not None and cancel.cancelled:
            return NOT_STARTED_CANCELLED, True
        if failures > allowed_failures:
            return NOT_STARTED_MAX_FAIL, False
        return None

    pending = deque(hosts)
    if parallel <= 1 or len(hosts) <= 1:
        while pending:
            host = pending.popleft()
            stop = refusal()
            record(host, skipped(host, *stop) if stop else guarded(host))
        return [results[host] for host in hosts]

    with ThreadPoolExecutor(
        max_workers=min(parallel, len(hosts)), thread_name_prefix="fanout"
    ) as pool:
        running: dict[Future[R], H] = {}
        while pending or running:
            while pending and len(running) < parallel:
                stop = refusal()
                if stop:
                    while pending:
                        host = pending.popleft()
                        record(host, skipped(host, *stop))
                    break
                host = pending.popleft()
                running[pool.submit(guarded, host)] = host
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                record(running.pop(future), future.result())
    return [results[host] for host in hosts]
