"""The whole runbook file, format v1: version, name, vars, secrets, steps (with confirm and
expect), guards, rollback and roll_forward, and the sections declared beside it.

docs/runbook-format.md is generated from these declarations, the loader converts
YAML through them and ``launchctl schema`` prints their JSON Schema. Builders here
turn converted values into the frozen model and report problems that span fields
of one record.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

from runbook import model, templating
from runbook.schema.records import (
    INVALID,
    Context,
    Field,
    ListOf,
    MapOf,
    Record,
    ScalarOrRecord,
    Type,
    mark_of,
)
from runbook.schema.scalars import Choice, Int, yaml_spelling
from runbook.schema.yaml_tree import YMap, YNode, YScalar, YSeq
from runbook.v1.baseline import BASELINE, baseline_window, check_before_window
from runbook.v1.checkpoints import checkpoints_record
from runbook.v1.common import ENV_NAME_PATTERN, given, ident, marks, target_ref
from runbook.v1.criteria import CRITERION, RUNTIME
from runbook.v1.scalars import Duration, Offset, RunbookContext, Str, Threshold, Timestamp
from runbook.v1.targets import NOTIFY_CHANNEL, PROMETHEUS, SSH, TARGETS, MaxFailType
from runbook.v1.waves import BETWEEN_WAVES, WAVES_DOC, WavesType

MAX_STEPS = 10_000


class VarValue(Type):
    """A ``vars`` value: a string, number or boolean kept as the text it substitutes, or
    ``{default: ..., pattern: REGEX}`` (either key optional).

    A var's value is data, never a template: a placeholder in it is refused.
    The ``pattern`` (matched whole) is what proves a value harmless where a
    shell parses it a second time (``sh -c '...'``); ``--var`` values must match
    it too. Converted to ``model.VarDecl``.
    """

    def convert(self, node: YNode, path: str, ctx: Context) -> Any:
        if isinstance(node, YMap):
            return self._declaration(node, path, ctx)
        value = self._value(node, path, ctx)
        return INVALID if value is INVALID else model.VarDecl(value)

    def _value(self, node: YNode, path: str, ctx: Context) -> Any:
        if (
            not isinstance(node, YScalar)
            or node.value is None
            or not isinstance(node.value, str | int | float | bool)
        ):
            ctx.error(node.mark, path, "a var must be a string, number or boolean")
            return INVALID
        text = yaml_spelling(node.value)
        if any(ord(c) < 32 and c not in "\t" for c in text):
            ctx.error(node.mark, path, "contains control characters")
            return INVALID
        if _names_a_placeholder(text):
            ctx.error(node.mark, path, "a var's value is not a template: it cannot use {{ ... }}")
            return INVALID
        return text

    def _declaration(self, node: YMap, path: str, ctx: Context) -> Any:
        for key in node.items:
            if key not in ("default", "pattern"):
                ctx.error(
                    node.key_marks[key], f"{path}.{key}", f"unknown key '{key}' (default, pattern)"
                )
                return INVALID
        default = None
        if "default" in node.items:
            default = self._value(node.items["default"], f"{path}.default", ctx)
            if default is INVALID:
                return INVALID
        pattern = None
        if "pattern" in node.items:
            pattern = Str(template=False).convert(node.items["pattern"], f"{path}.pattern", ctx)
            if pattern is INVALID or not _valid_pattern(pattern, node.items["pattern"], path, ctx):
                return INVALID
        if default is not None and pattern is not None and not re.fullmatch(pattern, default):
            ctx.error(
                node.items["default"].mark,
                f"{path}.default",
                f"{default!r} does not match the var's pattern /{pattern}/",
            )
            return INVALID
        return model.VarDecl(default, pattern)

    def json_schema(self) -> dict[str, Any]:
        plain = {"type": ["string", "number", "boolean"]}
        return {
            "anyOf": [
                plain,
                {
                    "type": "object",
                    "properties": {
                        "default": plain,
                        "pattern": {"type": "string", "minLength": 1, "format": "regex"},
                    },
                    "additionalProperties": False,
                },
            ]
        }


def _names_a_placeholder(text: str) -> bool:
    try:
        return bool(templating.template_names(text))
    except templating.TemplateError:
        return False  # not placeholder syntax (e.g. docker's {{.State}}): plain text


def _valid_pattern(pattern: str, node: YNode, path: str, ctx: Context) -> bool:
    try:
        re.compile(pattern)
    except re.error as exc:
        ctx.error(node.mark, f"{path}.pattern", f"invalid regular expression: {exc}")
        return False
    return True


def _build_expect(values: dict[str, Any], node: YMap, path: str, ctx: Context) -> Any:
    pattern = values["stdout_matches"]
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            ctx.error(
                mark_of(node, "stdout_matches"),
                f"{path}.stdout_matches",
                f"invalid regular expression: {exc}",
            )
            return INVALID
    return model.Expect(
        exit=values["exit"] if values["exit"] is not None else 0,
        stdout_contains=values["stdout_contains"],
        stdout_matches=pattern,
    )


EXPECT = Record(
    "expect",
    {
        "exit": Field(Int(0, 255), doc="expected exit code (default 0)"),
        "stdout_contains": Field(Str(), doc="text standard output must contain"),
        "stdout_matches": Field(
            Str(), doc="regular expression standard output must match (re.search)"
        ),
    },
    _build_expect,
)

_ACTION_FIELDS: dict[str, Field] = {
    "id": Field(ident(), required=True, doc="unique id, [a-z0-9_-]+"),
    "name": Field(Str(), doc="human title"),
    "run": Field(
        Str(shell=True, runtime=RUNTIME),
        doc="shell command; filled values are shell-quoted unless {{ x | raw }}",
    ),
    "on": Field(target_ref(), doc="target to run on (default local)"),
    "timeout": Field(Duration(positive=True), doc="the command is killed past this (default 10m)"),
    "env": Field(
        MapOf(
            Str(secret_refs=True, coerce_scalars=True, runtime=("rollback",)),
            key_pattern=ENV_NAME_PATTERN,
            key_hint="an environment variable name",
        ),
        doc="environment for the command; ${SECRET} allowed here",
    ),
    "expect": Field(EXPECT),
    "check": Field(
        ListOf(CRITERION, single_ok=True), doc="criteria that must all pass after the run"
    ),
    "notify": Field(
        Str(runtime=("rollback",)), doc="milestone message sent to every notify channel"
    ),
    "parallel": Field(
        Int(1, 1000), doc="at most this many hosts at once for this step (default: the target's)"
    ),
    "max_fail": Field(
        MaxFailType(),
        doc="hosts allowed to fail in this step: a count or '10%' (default: the target's)",
    ),
}


def _action_kwargs(values: dict[str, Any], node: YMap) -> dict[str, Any]:
    return {
        "id": values["id"],
        "name": values["name"],
        "run": values["run"],
        "on": given(values["on"], model.LOCAL),
        "timeout": given(values["timeout"], timedelta(minutes=10)),
        "env": given(values["env"], {}),
        "expect": given(values["expect"], model.Expect()),
        "check": given(values["check"], ()),
        "notify": values["notify"],
        "parallel": values["parallel"],
        "max_fail": values["max_fail"],
        "marks": marks(node),
    }


def _check_expect_has_run(values: dict[str, Any], node: YMap, path: str, ctx: Context) -> bool:
    for key in ("expect", "timeout", "env", "parallel", "max_fail", "waves", "between_waves"):
        if values.get(key) is not None and values["run"] is None:
            ctx.error(mark_of(node, key), f"{path}.{key}", "only applies to a step with 'run'")
            return False
    return True


def _build_step(values: dict[str, Any], node: YMap, path: str, ctx: Context) -> Any:
    if not any(values[key] is not None for key in ("run", "check", "confirm", "notify", "wait")):
        ctx.error(node.mark, path, "a step needs at least one of run, check, confirm, notify, wait")
        return INVALID
    if not _check_expect_has_run(values, node, path, ctx):
        return INVALID
    for index, criterion in enumerate(values["check"] or ()):
        window = getattr(criterion, "baseline", None)
        where = f"{path}.check[{index}]"
        if not check_before_window(
            window, values["at"], criterion.marks, where, ctx, "the step starts", "expect"
        ):
            return INVALID
    return model.Step(
        **_action_kwargs(values, node),
        at=values["at"],
        confirm=values["confirm"],
        wait=values["wait"],
        on_failure=model.OnFailure(given(values["on_failure"], "rollback")),
        irreversible=values["irreversible"],
        waves=values["waves"],
        between_waves=values["between_waves"],
    )


class Irreversible(Type):
    """``irreversible: true`` or a reason (``"drops column legacy_sku"``); ``false`` is reversible."""

    def convert(self, node: YNode, path: str, ctx: Context) -> Any:
        if isinstance(node, YScalar) and isinstance(node.value, bool):
            return "marked irreversible" if node.value else None
        if isinstance(node, YScalar) and isinstance(node.value, str) and node.value.strip():
            return Str().convert(node, path, ctx)
        ctx.error(node.mark, path, "must be true, false, or the reason it cannot be undone")
        return INVALID

    def json_schema(self) -> dict[str, Any]:
        return {"type": ["boolean", "string"]}


def _build_confirm(values: dict[str, Any], node: YMap, path: str, ctx: Context) -> Any:
    if values["on_timeout"] is not None and values["timeout"] is None:
        ctx.error(mark_of(node, "on_timeout"), f"{path}.on_timeout", "only applies with 'timeout'")
        return INVALID
    return model.Confirm(
        question=values["question"],
        timeout=values["timeout"],
        on_timeout=model.ConfirmTimeout(given(values["on_timeout"], "pause")),
    )


CONFIRM = ScalarOrRecord(
    Str(),
    Record(
        "confirmation",
        {
            "question": Field(Str(), required=True, doc="what the operator must answer yes to"),
            "timeout": Field(
                Duration(positive=True),
                doc="how long to wait for an answer (terminal or `launchctl approve`)",
            ),
            "on_timeout": Field(
                Choice(["rollback", "pause", "continue"]),
                doc="what happens when nobody answered in time (default pause)",
            ),
        },
        _build_confirm,
    ),
    lambda question: model.Confirm(question=question),
)

STEP = Record(
    "step",
    {
        **_ACTION_FIELDS,
        "at": Field(Offset(), required=True, doc="T-offset: T-60m, T-60min, T+0, T+1h30m"),
        "confirm": Field(
            CONFIRM,
            doc="question the operator (or `launchctl approve`) must answer yes to before the step",
        ),
        "wait": Field(
            Duration(), doc="hold this long (a soak) after the run and before the checks"
        ),
        "on_failure": Field(Choice(["rollback", "ask", "continue"]), doc="default rollback"),
        "irreversible": Field(
            Irreversible(),
            doc="the point of no return: once it starts, failures roll forward or ask instead of "
            "rolling back (true, or the reason)",
        ),
        "waves": Field(WavesType(), doc=WAVES_DOC + " (default: the target's)"),
        "between_waves": Field(
            BETWEEN_WAVES,
            doc="checks and a hold after each wave but the last (default: the target's)",
        ),
    },
    _build_step,
    scope=("step",),
)


def _build_rollback_step(values: dict[str, Any], node: YMap, path: str, ctx: Context) -> Any:
    if not any(values[key] is not None for key in ("run", "check", "notify")):
        ctx.error(node.mark, path, "a rollback step needs at least one of run, check, notify")
        return INVALID
    if not _check_expect_has_run(values, node, path, ctx):
        return INVALID
    return model.RollbackStep(
        **_action_kwargs(values, node),
        if_started=values["if_started"],
        if_not_started=values["if_not_started"],
        retries=given(values["retries"], 0),
        retry_delay=values["retry_delay"]
        if values["retry_delay"] is not None
        else timedelta(seconds=5),
    )


ROLLBACK_STEP = Record(
    "rollback step",
    {
        **_ACTION_FIELDS,
        "if_started": Field(ident(), doc="run only when this launch step was started"),
        "if_not_started": Field(
            ident(),
            doc="run only while this launch step has not started (e.g. the irreversible one)",
        ),
        "retries": Field(
            Int(0, 20), doc="extra attempts when this rollback step fails (default 0)"
        ),
        "retry_delay": Field(Duration(), doc="pause between attempts (default 5s)"),
    },
    _build_rollback_step,
    scope=("step", "rollback"),
)


def _build_guard(values: dict[str, Any], node: YMap, path: str, ctx: Context) -> Any:
    during = values["during"]
    if during is not None and during[1] <= during[0]:
        ctx.error(mark_of(node, "during"), f"{path}.during", "the window must end after it starts")
        return INVALID
    baseline = baseline_window(values, node, path, ctx, "breach")
    opens = during[0] if during is not None else timedelta(0)
    if baseline is INVALID or not check_before_window(
        baseline, opens, marks(node), path, ctx, "the guard's window opens", "breach"
    ):
        return INVALID
    every = given(values["every"], timedelta(seconds=15))
    return model.Guard(
        id=values["id"],
        name=values["name"],
        query=values["prometheus"],
        breach=values["breach"],
        every=every,
        hold=given(values["for"], timedelta(0)),
        during=during,
        then=model.GuardAction(given(values["then"], "rollback")),
        inconclusive_limit=given(values["inconclusive_limit"], 3),
        timeout=given(values["timeout"], timedelta(seconds=10)),
        after=values["after"],
        baseline=baseline,
        marks=marks(node),
    )


GUARD = Record(
    "guard",
    {
        "id": Field(ident(), required=True),
        "name": Field(Str()),
        "prometheus": Field(
            Str(), required=True, doc="PromQL instant query watched while the window is open"
        ),
        "breach": Field(
            Threshold(),
            required=True,
            doc="comparator and number that count as a breach, e.g. '> 0.05', or relative to "
            "the service's own baseline, e.g. '> 1.5x baseline', '> baseline + 0.01'",
        ),
        "baseline": BASELINE,
        "every": Field(Duration(positive=True), doc="sampling interval (default 15s)"),
        "for": Field(
            Duration(), doc="the breach must hold this long (default 0: first breaching sample)"
        ),
        "during": Field(
            ListOf(Offset(), min_items=2, max_items=2), doc="[start, end] T-offsets of the window"
        ),
        "then": Field(Choice(["rollback", "ask", "warn"]), doc="default rollback"),
        "inconclusive_limit": Field(
            Int(1, 1000), doc="inconclusive samples in a row that escalate to ask (default 3)"
        ),
        "timeout": Field(Duration(positive=True), doc="query timeout (default 10s)"),
        "after": Field(
            ident(),
            doc="its data appears only once this step has finished: the window opens no earlier",
        ),
    },
    _build_guard,
)


def _prepare_runbook(values: dict[str, Any], node: YMap, ctx: RunbookContext) -> RunbookContext:
    """After ``vars`` and ``secrets``: the names every later string may use.

    Names come from the file even when a value is bad, so one bad var is one
    error, not an "unknown name" at every use of every var.
    """
    var_names = set(values["vars"]) if isinstance(values["vars"], dict) else set()
    vars_node = node.items.get("vars")
    if isinstance(vars_node, YMap):
        var_names |= set(vars_node.items)
    secrets = set(values["secrets"]) if isinstance(values["secrets"], tuple) else set()
    secrets_node = node.items.get("secrets")
    if isinstance(secrets_node, YSeq):
        secrets |= {
            item.value
            for item in secrets_node.items
            if isinstance(item, YScalar) and isinstance(item.value, str)
        }
    return replace(ctx, names=ctx.names | frozenset(var_names), secrets=frozenset(secrets))


RUNBOOK_FIELDS: dict[str, Field] = {
    "version": Field(Int(1, 1), required=True, doc="must be 1"),
    "name": Field(Str(builtins=frozenset({"t0"})), required=True),
    "t0": Field(Timestamp(), doc="go-live time; --t0 overrides"),
    "gate": Field(Str(builtins=frozenset()), doc="go/no-go checklist, relative to this file"),
    "vars": Field(
        MapOf(
            VarValue(),
            key_pattern=templating.VAR_NAME.pattern,
            key_hint="names use letters, digits and '_'",
        )
    ),
    "secrets": Field(
        ListOf(
            Str(
                template=False,
                pattern=ENV_NAME_PATTERN,
                pattern_hint=" (an environment variable name)",
            )
        ),
        doc="environment variable names; their values are never written anywhere",
    ),
    "targets": Field(TARGETS),
    "ssh": Field(SSH),
    "prometheus": Field(PROMETHEUS),
    "notify": Field(ListOf(NOTIFY_CHANNEL), doc="channels that receive milestone messages"),
    "steps": Field(ListOf(STEP, min_items=1, max_items=MAX_STEPS), required=True),
    "guards": Field(ListOf(GUARD)),
    "rollback": Field(ListOf(ROLLBACK_STEP), doc="the rollback sequence, run in order"),
    "roll_forward": Field(
        ListOf(ROLLBACK_STEP),
        doc="what runs instead of the rollback once the point of no return has started (fix forward)",
    ),
    "checkpoints": Field(checkpoints_record(CRITERION)),
}

RUNBOOK = Record("runbook", RUNBOOK_FIELDS, first=("vars", "secrets"), prepare=_prepare_runbook)


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the runbook format, for editors."""
    schema = RUNBOOK.json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://launchctl.dev/schema/runbook-v1.json",
        **schema,
        "title": "launchctl runbook v1",
    }
