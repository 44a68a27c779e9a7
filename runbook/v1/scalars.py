"""The runbook format's own value types: strings with placeholder checks, durations,
T-offsets, thresholds and the go-live timestamp. Each converts a located YAML scalar and
reports problems at its line and column; the plain ones (``Int``, ``Choice``) are the
engine's (``runbook.schema.scalars``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from runbook import comparison, durations, templating
from runbook.schema.records import INVALID, Context, Type, describe_node
from runbook.schema.scalars import Text
from runbook.schema.yaml_tree import Mark, YNode


@dataclass
class RunbookContext(Context):
    """Conversion of a runbook: the names its strings may use (vars, ``--var``) and its secrets."""

    names: frozenset[str] = frozenset()
    secrets: frozenset[str] = frozenset()


class Str(Text):
    """A runbook string (see ``Text``). ``template``: ``{{ name }}`` placeholders are checked
    against known names; without it any ``{{`` is refused (every string either renders or
    refuses placeholders).

    ``secret_refs``: ``${NAME}`` is allowed (and must name a listed secret).
    ``shell``: ``${...}`` is the shell's business and left alone.
    ``runtime``: which names known only while running it may hold: ``host`` (per-host
    commands and checks), ``rollback`` (``rollback.reason``/``trigger`` in rollback steps).
    ``builtins``: the built-in names it may use (default all); values needed before the
    launch starts (file paths) take vars only, the name takes vars and ``t0``.
    """

    def __init__(
        self,
        *,
        template: bool = True,
        secret_refs: bool = False,
        shell: bool = False,
        runtime: tuple[str, ...] = (),
        builtins: frozenset[str] | None = None,
        **text: Any,
    ) -> None:
        super().__init__(**text)  # pattern, pattern_hint, max_length, coerce_scalars
        self.template = template
        self.secret_refs = secret_refs
        self.shell = shell
        self.runtime, self.builtins = runtime, builtins  # the names it may hold

    def convert(self, node: YNode, path: str, ctx: RunbookContext) -> Any:
        value = super().convert(node, path, ctx)
        if value is INVALID:
            return INVALID
        if not self.template and "{{" in value:
            ctx.error(node.mark, path, "placeholders ({{ ... }}) are not filled here")
            return INVALID
        ok = self._check_template(value, node.mark, path, ctx) if self.template else True
        return value if ok else INVALID

    def _check_template(self, value: str, mark: Mark, path: str, ctx: RunbookContext) -> bool:
        try:
            names = templating.template_names(value)
        except templating.TemplateError as exc:
            ctx.error(mark, path, str(exc))
            return False
        ok = True
        for name in sorted(names):
            problem = self._name_problem(name, ctx)
            if problem:
                ctx.error(mark, path, problem)
                ok = False
        if self.shell:
            return ok
        for ref, _offset in templating.secret_refs(value):
            if not self.secret_refs:
                ctx.error(
                    mark,
                    path,
                    f"'${{{ref}}}' is only allowed in env, notify channel URLs and prometheus.url",
                )
                ok = False
            elif ref not in ctx.secrets:
                ctx.error(mark, path, f"'${{{ref}}}' is not listed under secrets")
                ok = False
        return ok

    def _name_problem(self, name: str, ctx: RunbookContext) -> str | None:
        shown = f"'{{{{ {name} }}}}'"
        if name == "host":
            if "host" in self.runtime:
                return None
            return f"{shown} is only available in per-host commands and checks"
        if name in templating.ROLLBACK_ONLY:
            if "rollback" not in ctx.scope:
                return f"{shown} is only available in rollback steps"
            if "rollback" not in self.runtime:
                return f"{shown} is only available in a rollback step's run, env, notify and checks"
            return None
        if name == "step.id" and "step" not in ctx.scope:
            return f"{shown} is only available inside a step"
        if name in templating.BUILTINS:
            if self.builtins is None or name in self.builtins:
                return None
            if self.builtins:
                return f"{shown} cannot be used here (only vars and {{{{ t0 }}}}: the launch id is made from this)"
            return f"{shown} cannot be used here (only vars: the value is needed before the launch starts)"
        if name not in ctx.names:
            return f"unknown name {shown} (define it under vars or pass --var {name}=...)"
        return None


class Duration(Type):
    def __init__(self, positive: bool = False) -> None:
        self.positive = positive

    def convert(self, node: YNode, path: str, ctx: Context) -> Any:
        scalar = self._scalar(node, path, ctx, f"a duration ({durations.DURATION_HINT})")
        if scalar is None:
            return INVALID
        try:
            value = durations.parse_duration(scalar.value)
        except (ValueError, TypeError) as exc:
            ctx.error(node.mark, path, str(exc))
            return INVALID
        if self.positive and not value:
            ctx.error(node.mark, path, "must be longer than 0s")
            return INVALID
        return value

    def json_schema(self) -> dict[str, Any]:
        return {
            "anyOf": [
                {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?\s*(ms|sec|min|s|m|h|d)\s*)+$"},
                {"type": "number", "minimum": 0},
            ],
            "description": durations.DURATION_HINT,
        }


class Offset(Type):
    def convert(self, node: YNode, path: str, ctx: Context) -> Any:
        scalar = self._scalar(node, path, ctx, f"a T-offset ({durations.OFFSET_HINT})")
        if scalar is None:
            return INVALID
        try:
            return durations.parse_offset(scalar.value)
        except ValueError as exc:
            ctx.error(node.mark, path, str(exc))
            return INVALID

    def json_schema(self) -> dict[str, Any]:
        return {
            "type": "string",
            "pattern": r"^T(\s*[+-]\s*.+)?$",
            "description": durations.OFFSET_HINT,
        }


class Threshold(Type):
    def convert(self, node: YNode, path: str, ctx: Context) -> Any:
        scalar = self._scalar(node, path, ctx, "a threshold such as '< 0.001'")
        if scalar is None:
            return INVALID
        try:
            return comparison.parse_comparison(scalar.value)
        except ValueError as exc:
            ctx.error(node.mark, path, str(exc))
            return INVALID

    def json_schema(self) -> dict[str, Any]:
        number = r"[-+]?[0-9.eE+-]+"
        relative = rf"{number}\s*(x|X|×|\*)\s*baseline|baseline(\s*[-+]\s*[0-9.eE+-]+)?"
        return {
            "type": "string",
            "pattern": rf"^\s*(<=|>=|==|!=|<|>)\s*({number}|{relative})\s*$",
        }


class Timestamp(Type):
    """An ISO 8601 instant; without a zone it is taken as UTC (a launch plan must be unambiguous)."""

    def convert(self, node: YNode, path: str, ctx: Context) -> Any:
        scalar = self._scalar(node, path, ctx, "an ISO 8601 time such as 2026-12-01T14:00:00Z")
        if scalar is None:
            return INVALID
        value = scalar.value
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                ctx.error(
                    node.mark,
                    path,
                    f"invalid time '{value}' (use ISO 8601, e.g. 2026-12-01T14:00:00Z)",
                )
                return INVALID
        if isinstance(value, date) and not isinstance(value, datetime):
            ctx.error(
                node.mark,
                path,
                "a date alone is not a go-live time; add the time, e.g. 2026-12-01T14:00:00Z",
            )
            return INVALID
        if not isinstance(value, datetime):
            ctx.error(node.mark, path, f"expected an ISO 8601 time, got {describe_node(node)}")
            return INVALID
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        problem = durations.t0_out_of_range(moment)
        if problem is not None:
            ctx.error(node.mark, path, f"time {value.isoformat()} is out of range: {problem}")
            return INVALID
        return moment

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "date-time"}
