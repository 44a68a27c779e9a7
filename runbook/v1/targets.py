"""Where steps run and who hears about it: targets, ssh settings, notify channels, Prometheus."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from runbook import model
from runbook.schema.records import (
    INVALID,
    Context,
    Field,
    ListOf,
    MapOf,
    OneOfKeys,
    Record,
    Type,
    mark_of,
)
from runbook.schema.scalars import Choice, Int
from runbook.schema.yaml_tree import YMap, YNode, YScalar
from runbook.v1 import ssh_names
from runbook.v1.common import NAME_PATTERN, given, marks
from runbook.v1.scalars import Duration, Str
from runbook.v1.waves import BETWEEN_WAVES, WAVES_DOC, WavesType
from runbook.waves import WaveProblem, split_into_waves


class MaxFailType(Type):
    _PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")

    def convert(self, node: YNode, path: str, ctx: Context) -> Any:
        value = node.value if isinstance(node, YScalar) else None
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return model.MaxFail(count=value)
        if isinstance(value, str) and (match := self._PERCENT.match(value)):
            percent = float(match.group(1))
            if percent <= 100:
                return model.MaxFail(count=None, percent=percent)
        ctx.error(
            node.mark, path, 'expected a count of hosts (e.g. 1) or a percentage (e.g. "10%")'
        )
        return INVALID

    def json_schema(self) -> dict[str, Any]:
        return {
            "anyOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": r"^\d+(\.\d+)?%$"},
            ]
        }


class SshName(Str):
    """A host (``[user@]host[:port]``) or user name of an SSH target (``runbook.v1.ssh_names``)."""

    def __init__(self, problem: Callable[[str], str | None], schema_pattern: str) -> None:
        super().__init__(template=False, max_length=255)
        self.problem = problem
        self.schema_pattern = schema_pattern

    def json_schema(self) -> dict[str, Any]:
        return {**super().json_schema(), "pattern": self.schema_pattern}

    def convert(self, node: YNode, path: str, ctx: Context) -> Any:
        value = super().convert(node, path, ctx)
        if value is INVALID:
            return INVALID
        problem = self.problem(value)
        if problem:
            ctx.error(node.mark, path, problem)
            return INVALID
        return value


def _build_target(values: dict[str, Any], node: YMap, path: str, ctx: Context) -> Any:
    hosts = given(values["hosts"], ())
    transport = given(values["transport"], ("ssh" if hosts else model.LOCAL))
    if transport == "ssh" and not hosts:
        ctx.error(node.mark, path, "an ssh target needs 'hosts'")
        return INVALID
    if transport == model.LOCAL and hosts:
        ctx.error(mark_of(node, "hosts"), f"{path}.hosts", "a local target takes no hosts")
        return INVALID
    if len(set(hosts)) != len(hosts):
        ctx.error(mark_of(node, "hosts"), f"{path}.hosts", "lists a host twice")
        return INVALID
    if not _waves_fit(values, hosts, transport, node, path, ctx):
        return INVALID
    return model.Target(
        name=path.rsplit(".", 1)[-1],
        transport=transport,
        hosts=tuple(hosts),
        user=values["user"],
        port=values["port"],
        parallel=given(values["parallel"], 10),
        max_fail=given(values["max_fail"], model.MaxFail()),
        waves=values["waves"],
        between_waves=values["between_waves"],
        marks=marks(node),
    )


def _waves_fit(
    values: dict[str, Any],
    hosts: tuple[str, ...],
    transport: str,
    node: YMap,
    path: str,
    ctx: Context,
) -> bool:
    """A target's own waves, against its own hosts: reported in the file that declares them."""
    waves = values["waves"]
    if values["between_waves"] is not None and waves is None:
        ctx.error(
            mark_of(node, "between_waves"), f"{path}.between_waves", "only applies with 'waves'"
        )
        return False
    if waves is None:
        return True
    if transport == model.LOCAL:
        ctx.error(
            mark_of(node, "waves"),
            f"{path}.waves",
            "waves split an SSH target's hosts; a local target runs once",
        )
        return False
    try:
        split_into_waves(hosts, waves.sizes, f"target '{path.rsplit('.', 1)[-1]}'")
    except WaveProblem as problem:
        ctx.error(waves.marks[problem.index], f"{path}.waves[{problem.index}]", problem.message)
        return False
    return True


TARGET = Record(
    "target",
    {
        "transport": Field(Choice(["local", "ssh"]), doc="default: ssh when hosts are given"),
        "hosts": Field(
            ListOf(SshName(ssh_names.host_problem, ssh_names.HOST_PATTERN), min_items=1),
            doc="SSH hosts ([user@]host[:port]), resolved through ssh_config",
        ),
        "user": Field(SshName(ssh_names.user_problem, ssh_names.USER_PATTERN)),
        "port": Field(Int(1, 65535)),
        "parallel": Field(Int(1, 1000), doc="at most this many hosts at once (default 10)"),
        "max_fail": Field(MaxFailType(), doc="hosts allowed to fail: a count or '10%' (default 0)"),
        "waves": Field(WavesType(), doc=WAVES_DOC + " (the default of steps on this target)"),
        "between_waves": Field(BETWEEN_WAVES, doc="checks and a hold after each wave but the last"),
    },
    _build_target,
)

TARGETS = MapOf(
    TARGET, key_pattern=NAME_PATTERN, key_hint="target names use letters, digits, '-' and '_'"
)


def _build_ssh(values: dict[str, Any], node: YMap, path: str, ctx: Context) -> Any:
    return model.SshSettings(
        config=values["config"],
        known_hosts=given(values["known_hosts"], "~/.ssh/known_hosts"),
        host_key_policy=model.HostKeyPolicy(given(values["host_key_policy"], "strict")),
        connect_timeout=given(values["connect_timeout"], timedelta(seconds=10)),
    )


SSH = Record(
    "ssh",
    {
        "config": Field(Str(builtins=frozenset()), doc="ssh_config file (default: ~/.ssh/config)"),
        "known_hosts": Field(Str(builtins=frozenset()), doc="default ~/.ssh/known_hosts"),
        "host_key_policy": Field(
            Choice(["strict", "accept-new"]), doc="strict (default) refuses unknown keys"
        ),
        "connect_timeout": Field(Duration(positive=True), doc="default 10s"),
    },
    _build_ssh,
)

_MILESTONES = Field(
    ListOf(Choice(sorted(model.MILESTONES))),
    doc="which built-in milestones this channel receives (default all; [] for none); "
    "a step's own notify: always goes",
)


def _channel(kind: str) -> Any:
    def build(values: dict[str, Any], node: Any, path: str, ctx: Any) -> model.NotifyChannel:
        chosen = values["milestones"]
        return model.NotifyChannel(
            kind, values[kind], None if chosen is None else frozenset(chosen)
        )

    return build


NOTIFY_CHANNEL = OneOfKeys(
    "notify channel",
    {
        "slack": Record(
            "slack channel",
            {
                "slack": Field(
                    Str(secret_refs=True), required=True, doc="Slack incoming-webhook URL"
                ),
                "milestones": _MILESTONES,
            },
            _channel("slack"),
        ),
        "webhook": Record(
            "webhook channel",
            {
                "webhook": Field(
                    Str(secret_refs=True), required=True, doc="URL that receives a JSON event POST"
                ),
                "milestones": _MILESTONES,
            },
            _channel("webhook"),
        ),
    },
)

PROMETHEUS = Record(
    "prometheus",
    {
        "url": Field(Str(secret_refs=True), required=True, doc="Prometheus base URL"),
        "scrape_interval": Field(
            Duration(positive=True),
            doc="what validate and plan assume for each guard's time to detect (default 1m, "
            "Prometheus' own); preflight reads the real one",
        ),
    },
)
