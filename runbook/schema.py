"""A small declarative schema: YAML nodes in, typed values and located errors out.

The same declarations drive validation (``convert``) and the JSON Schema that
``launchctl schema`` prints (``json_schema``), so editors and the loader can
never disagree about the format.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from runbook import comparison, durations, templating
from runbook.errors import Diagnostic
from runbook.yaml_tree import Mark, YMap, YNode, YScalar, YSeq


class _Invalid:
    def __repr__(self) -> str:
        return "INVALID"


INVALID: Any = _Invalid()


@dataclass
class Context:
    """What conversion needs beyond the node: where errors go and which names exist."""

    file: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    names: frozenset[str] = frozenset()
    secrets: frozenset[str] = frozenset()
    scope: frozenset[str] = frozenset()

    def error(self, mark: Mark, path: str, message: str, *, always: bool = False) -> None:
        """Record a problem; the first one said about a value is the one that counts (no echoes).

        ``always`` is for problems of a whole mapping (a missing key), which share
        their mark with the mapping's first key but are a different problem.
        """
        if not always and any(d.line == mark.line and d.column == mark.column for d in self.diagnostics):
            return
        prefix = f"{path}: " if path else ""
        self.diagnostics.append(Diagnostic(self.file, mark.line, mark.column, prefix + message))

    def within(self, *flags: str) -> Context:
        return Context(
            self.file, self.diagnostics, self.names, self.secrets, self.scope | set(flags)
        )


def _kind(node: YNode) -> str:
    if isinstance(node, YMap):
        return "a mapping"
    if isinstance(node, YSeq):
        return "a list"
    value = node.value
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({'true' if value else 'false'})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, datetime | date):
        return "a timestamp"
    return f"'{value}'" if len(str(value)) < 60 else "a string"


class Type:
    """One kind of value in the format."""

    description = ""

    def convert(self, node: YNode, path: str, ctx: Context) -> Any:
        raise NotImplementedError

    def json_schema(self) -> dict[str, Any]:
        raise NotImplementedError

    def _scalar(self, node: YNode, path: str, ctx: Context, expected: str) -> YScalar | None:
        if isinstance(node, YScalar) and node.value is not None:
            return node
        ctx.error(node.mark, path, f"expected {expected}, got {_kind(node)}")
        return None


class Str(Type):
    """A string. ``template``: ``{{ name }}`` placeholders are checked against known names.

    ``secret_refs``: ``${NAME}`` is allowed (and must name a listed secret).
    ``shell``: ``${...}`` is the shell's business and left alone.
    """

    def __init__(
        self,
        *,
        template: bool = True,
        secret_refs: bool = False,
        shell: bool = False,
        pattern: str | None = None,
        pattern_hint: str = "",
        max_length: int = 65536,
        coerce_scalars: bool = False,
    ) -> None:
        self.template = template
        self.secret_refs = secret_refs
        self.shell = shell
        self.pattern = re.compile(pattern) if pattern else None
        self.pattern_hint = pattern_hint
        self.max_length = max_length
        self.coerce_scalars = coerce_scalars

    def convert(self, node: YNode, path: str, ctx: Context) -> Any:
        scalar = self._scalar(node, path, ctx, "a string")
        if scalar is None:
            return INVALID
        value = scalar.value
        if not isinstance(value, str):
            if not self.coerce_scalars or isinstance(value, datetime | date):
                ctx.error(node.mark, path, f"expected a string, got {_kind(node)}")
                return INVALID
            value = templating.format_value(value)
        if not value.strip():
            ctx.error(node.mark, path, "must not be empty")
            return INVALID
        if len(value) > self.max_length:
            ctx.error(node.mark, path, f"longer than {self.max_length} characters")
            return INVALID
        if _has_control_chars(value):
            ctx.error(node.mark, path, "contains control characters")
            return INVALID
        if self.pattern and not self.pattern.match(value):
            ctx.error(node.mark, path, f"invalid value '{value}'{self.pattern_hint}")
            return INVALID
        ok = self._check_template(value, node.mark, path, ctx) if self.template else True
        return value if ok else INVALID

    def _check_template(self, value: str, mark: Mark, path: str, ctx: Context) -> bool:
        try:
            names = templating.template_names(value)
        except templating.TemplateError as exc:
            ctx.error(mark, path, str(exc))
            return False
        ok = True
        for name in sorted(names):
            if name in templating.ROLLBACK_ONLY and "rollback" not in ctx.scope:
                ctx.error(mark, path, f"'{{{{ {name} }}}}' is only available in rollback steps")
                ok = False
            elif name == "host" and "host" not in ctx.scope:
                ctx.error(
                    mark, path, "'{{ host }}' is only available in per-host commands and checks"
                )
                ok = False
            elif name == "step.id" and "step" not in ctx.scope:
                ctx.error(mark, path, "'{{ step.id }}' is only available inside a step")
                ok = False
            elif name not in ctx.names and name not in templating.BUILTINS:
                ctx.error(
                    mark,
                    path,
                    f"unknown name '{{{{ {name} }}}}' (define it under vars or pass --var {name}=...)",
                )
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

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "minLength": 1}
        if self.pattern:
            schema["pattern"] = self.pattern.pattern
        return schema


def _has_control_chars(value: str) -> bool:
    return any((ord(c) < 32 and c not in "\t\n\r") or ord(c) == 127 for c in value)


class Int(Type):
    def __init__(self, minimum: int | None = None, maximum: int | None = None) -> None:
        self.minimum = minimum
        self.maximum = maximum

    def convert(self, node: YNode, path: str, ctx: Context) -> Any:
        scalar = self._scalar(node, path, ctx, "a whole number")
        if scalar is None:
            return INVALID
        value = scalar.value
        if isinstance(value, bool) or not isinstance(value, int):
            ctx.error(node.mark, path, f"expected a whole number, got {_kind(node)}")
            return INVALID
        if self.minimum is not None and self.minimum == self.maximum and value != self.minimum:
            ctx.error(node.mark, path, f"must be {self.minimum}, got {value}")
            return INVALID
        if self.minimum is not None and value < self.minimum:
            ctx.error(node.mark, path, f"must be at least {self.minimum}, got {value}")
            return INVALID
        if self.maximum is not None and value > self.maximum:
            ctx.error(node.mark, path, f"must be at most {self.maximum}, got {value}")
            return INVALID
        return value

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "integer"}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema


class Choice(Type):
    def __init__(self, values: Iterable[str]) -> None:
        self.values = tuple(values)

    def convert(self, node: YNode, path: str, ctx: Context) -> Any:
        if isinstance(node, YScalar) and isinstance(node.value, str) and node.value in self.values:
            return node.value
        shown = node.value if isinstance(node, YScalar) else _kind(node)
        ctx.error(node.mark, path, f"must be one of {' | '.join(self.values)}, got {shown!r}")
        return INVALID

    def json_schema(self) -> dict[str, Any]:
        return {"enum": list(self.values)}


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
        return {"type": "string", "pattern": r"^\s*(<=|>=|==|!=|<|>)\s*[-+]?[0-9.eE+-]+\s*$"}


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
            ctx.error(node.mark, path, f"expected an ISO 8601 time, got {_kind(node)}")
            return INVALID
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "date-time"}


class ListOf(Type):
    def __init__(
        self,
        item: Type,
        *,
        min_items: int = 0,
        max_items: int | None = None,
        single_ok: bool = False,
    ) -> None:
        self.item = item
        self.min_items = min_items
        self.max_items = max_items
        self.single_ok = single_ok

    def convert(self, node: YNode, path: str, ctx: Context) -> Any:
        if not isinstance(node, YSeq):
            if self.single_ok and not (isinstance(node, YScalar) and node.value is None):
                node = YSeq(node.mark, [node])
            else:
                ctx.error(node.mark, path, f"expected a list, got {_kind(node)}")
                return INVALID
        count = len(node.items)
        if count < self.min_items:
            ctx.error(
                node.mark,
                path,
                f"needs at least {self.min_items} item{'s' if self.min_items > 1 else ''}",
            )
            return INVALID
        if self.max_items is not None and count > self.max_items:
            ctx.error(node.mark, path, f"takes at most {self.max_items} items, got {count}")
            return INVALID
        values = [self.item.convert(item, f"{path}[{i}]", ctx) for i, item in enumerate(node.items)]
        return INVALID if any(v is INVALID for v in values) else tuple(values)

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "array", "items": self.item.json_schema()}
        if self.min_items:
            schema["minItems"] = self.min_items
        if self.max_items is not None:
            schema["maxItems"] = self.max_items
        if self.single_ok:
            return {"anyOf": [schema, self.item.json_schema()]}
        return schema


class MapOf(Type):
    """A mapping with free keys (``vars``, ``env``, ``targets``)."""

    def __init__(
        self, value: Type | Callable[[str], Type], *, key_pattern: str, key_hint: str
    ) -> None:
        self.value = value
        self.key_pattern = re.compile(key_pattern)
        self.key_hint = key_hint

    def convert(self, node: YNode, path: str, ctx: Context) -> Any:
        if not isinstance(node, YMap):
            ctx.error(node.mark, path, f"expected a mapping, got {_kind(node)}")
            return INVALID
        result: dict[str, Any] = {}
        ok = True
        for key, child in node.items.items():
            child_path = f"{path}.{key}" if path else key
            if not self.key_pattern.match(key):
                ctx.error(
                    node.key_marks[key], child_path, f"invalid name '{key}' ({self.key_hint})"
                )
                ok = False
                continue
            value_type = (
                self.value(key)
                if callable(self.value) and not isinstance(self.value, Type)
                else self.value
            )
            result[key] = value_type.convert(child, child_path, ctx)
            ok = ok and result[key] is not INVALID
        return result if ok else INVALID

    def json_schema(self) -> dict[str, Any]:
        value = self.value if isinstance(self.value, Type) else self.value("")
        return {
            "type": "object",
            "propertyNames": {"pattern": self.key_pattern.pattern},
            "additionalProperties": value.json_schema(),
        }


@dataclass(frozen=True)
class Field:
    type: Type
    required: bool = False
    default: Any = None
    doc: str = ""


class Record(Type):
    """A mapping with known keys; ``build`` turns the converted values into a model object.

    ``build`` gets ``(values, node, path, ctx)`` and may report cross-field problems.
    """

    def __init__(
        self,
        title: str,
        fields: Mapping[str, Field],
        build: Callable[[dict[str, Any], YMap, str, Context], Any] | None = None,
        *,
        scope: Iterable[str] = (),
        doc: str = "",
        first: Iterable[str] = (),
        prepare: Callable[[dict[str, Any], YMap, Context], Context] | None = None,
    ) -> None:
        self.title = title
        self.fields = dict(fields)
        self.build = build
        self.scope = tuple(scope)
        self.doc = doc
        self.first = tuple(first)
        self.prepare = prepare

    def convert(self, node: YNode, path: str, ctx: Context) -> Any:
        if not isinstance(node, YMap):
            ctx.error(node.mark, path, f"expected a mapping ({self.title}), got {_kind(node)}")
            return INVALID
        inner = ctx.within(*self.scope) if self.scope else ctx
        values: dict[str, Any] = {}
        ok = True
        for key in node.items:
            if key not in self.fields:
                ctx.error(
                    node.key_marks[key],
                    _join(path, key),
                    f"unknown key '{key}'{_suggest(key, self.fields)}",
                )
                ok = False
        rest = [name for name in self.fields if name not in self.first]
        for name in self.first:
            ok = self._convert_field(name, node, path, inner, values) and ok
        if self.prepare:
            inner = self.prepare(values, node, inner)
        for name in rest:
            ok = self._convert_field(name, node, path, inner, values) and ok
        if not ok:
            return INVALID
        return self.build(values, node, path, inner) if self.build else values

    def _convert_field(
        self, name: str, node: YMap, path: str, ctx: Context, values: dict[str, Any]
    ) -> bool:
        spec = self.fields[name]
        if name not in node.items:
            values[name] = spec.default
            if spec.required:
                ctx.error(node.mark, path or self.title, f"missing required key '{name}'", always=True)
                return False
            return True
        values[name] = spec.type.convert(node.items[name], _join(path, name), ctx)
        return values[name] is not INVALID

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "title": self.title,
            "properties": {},
            "additionalProperties": False,
        }
        if self.doc:
            schema["description"] = self.doc
        for name, spec in self.fields.items():
            prop = spec.type.json_schema()
            if spec.doc:
                prop = {**prop, "description": spec.doc}
            schema["properties"][name] = prop
        required = [name for name, spec in self.fields.items() if spec.required]
        if required:
            schema["required"] = required
        return schema


class OneOfKeys(Type):
    """A mapping whose kind is chosen by which key it has (``http:``, ``prometheus:``, ``command:``)."""

    def __init__(self, title: str, variants: Mapping[str, Record]) -> None:
        self.title = title
        self.variants = dict(variants)

    def convert(self, node: YNode, path: str, ctx: Context) -> Any:
        if not isinstance(node, YMap):
            ctx.error(node.mark, path, f"expected a mapping ({self.title}), got {_kind(node)}")
            return INVALID
        present = [key for key in self.variants if key in node.items]
        names = " | ".join(self.variants)
        if len(present) != 1:
            problem = "needs one of" if not present else "takes only one of"
            ctx.error(node.mark, path, f"{self.title} {problem}: {names}")
            return INVALID
        return self.variants[present[0]].convert(node, path, ctx)

    def json_schema(self) -> dict[str, Any]:
        return {
            "oneOf": [variant.json_schema() for variant in self.variants.values()],
            "title": self.title,
        }


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _suggest(key: str, known: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def mark_of(node: YMap, key: str) -> Mark:
    """Where a key's value starts, or the mapping itself when the key is absent."""
    child = node.items.get(key)
    return child.mark if child is not None else node.mark
