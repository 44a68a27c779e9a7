"""The criteria of the runbook format (``http``, ``prometheus``, ``command``), declared once.

Steps, rollback steps and ``between_waves`` (on a step or a target) all take
these; a module of their own so that targets can declare theirs without the
step format importing itself back.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from runbook import model
from runbook.schema.records import INVALID, Context, Field, OneOfKeys, Record, mark_of
from runbook.schema.scalars import Int
from runbook.schema.yaml_tree import YMap
from runbook.v1.baseline import BASELINE, baseline_window
from runbook.v1.common import given, ident, marks, target_ref
from runbook.v1.scalars import Duration, Str, Threshold

# Names known only while running that commands and checks may hold: the host a command runs
# on, and in rollback steps why and by whom the rollback was started.
RUNTIME = ("host", "rollback")


def _poll(values: dict[str, Any], node: YMap, path: str, ctx: Context) -> model.Poll | Any:
    within, every = values["within"], values["every"]
    if every is not None and within is None:
        ctx.error(mark_of(node, "every"), f"{path}.every", "only makes sense with 'within'")
        return INVALID
    return model.Poll(within=within, every=every or timedelta(seconds=5))


POLL_FIELDS = {
    "within": Field(
        Duration(positive=True),
        doc="keep trying until the criterion passes or this much time has passed",
    ),
    "every": Field(Duration(positive=True), doc="pause between tries (default 5s)"),
}


def _polled(timeout_seconds: int) -> Callable[[Callable[..., Any]], Any]:
    """A criterion's builder, given ``poll``, ``timeout`` (default ``timeout_seconds``) and
    ``marks`` ready: ``within``/``every`` are checked and made a ``Poll`` first."""

    def wrap(make: Callable[[dict[str, Any], dict[str, Any]], Any]) -> Any:
        def build(values: dict[str, Any], node: YMap, path: str, ctx: Context) -> Any:
            poll = _poll(values, node, path, ctx)
            if poll is INVALID:
                return INVALID
            timeout = given(values["timeout"], timedelta(seconds=timeout_seconds))
            return make(values, {"poll": poll, "timeout": timeout, "marks": marks(node)})

        return build

    return wrap


@_polled(10)
def _build_http(values: dict[str, Any], common: dict[str, Any]) -> Any:
    return model.HttpCriterion(
        url=values["http"],
        status=values["status"],
        body_contains=values["body_contains"],
        on=values["on"],
        **common,
    )


def _build_prometheus(values: dict[str, Any], node: YMap, path: str, ctx: Context) -> Any:
    """Polled like the others, and with the window its relative ``expect`` is measured over."""
    baseline = baseline_window(values, node, path, ctx, "expect")
    if baseline is INVALID:
        return INVALID

    @_polled(10)
    def make(values: dict[str, Any], common: dict[str, Any]) -> Any:
        return model.PrometheusCriterion(
            query=values["prometheus"],
            expect=values["expect"],
            after=values["after"],
            baseline=baseline,
            **common,
        )

    return make(values, node, path, ctx)


@_polled(60)
def _build_command(values: dict[str, Any], common: dict[str, Any]) -> Any:
    exit_code = values["exit"] if values["exit"] is not None else 0
    return model.CommandCriterion(
        command=values["command"], on=given(values["on"], model.LOCAL), exit=exit_code, **common
    )


CRITERION = OneOfKeys(
    "criterion",
    {
        "http": Record(
            "http criterion",
            {
                "http": Field(
                    Str(runtime=RUNTIME),
                    required=True,
                    doc="URL to GET; passes on a 2xx (or `status`)",
                ),
                "status": Field(Int(100, 599), doc="exact HTTP status expected (default: any 2xx)"),
                "body_contains": Field(
                    Str(runtime=RUNTIME), doc="text the response body must contain"
                ),
                "timeout": Field(Duration(positive=True), doc="per-request timeout (default 10s)"),
                "on": Field(target_ref(), doc="run once per host of this target, with {{ host }}"),
                **POLL_FIELDS,
            },
            _build_http,
        ),
        "prometheus": Record(
            "prometheus criterion",
            {
                "prometheus": Field(
                    Str(), required=True, doc="PromQL instant query; its first sample is compared"
                ),
                "expect": Field(
                    Threshold(),
                    required=True,
                    doc="comparator and number, e.g. '< 0.001', or relative to the baseline, "
                    "e.g. '< 1.2x baseline'",
                ),
                "baseline": BASELINE,
                "timeout": Field(Duration(positive=True), doc="query timeout (default 10s)"),
                "after": Field(
                    ident(),
                    doc="the step after which the query has data (preflight accepts none before)",
                ),
                **POLL_FIELDS,
            },
            _build_prometheus,
        ),
        "command": Record(
            "command criterion",
            {
                "command": Field(
                    Str(shell=True, runtime=RUNTIME),
                    required=True,
                    doc="shell command; passes on the expected exit code",
                ),
                "on": Field(target_ref(), doc="target to run it on (default local)"),
                "exit": Field(Int(0, 255), doc="expected exit code (default 0)"),
                "timeout": Field(Duration(positive=True), doc="killed past this (default 60s)"),
                **POLL_FIELDS,
            },
            _build_command,
        ),
    },
)
