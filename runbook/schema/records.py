"""Declaring a format's shapes: ``Record`` and ``Field``, ``ListOf``, ``MapOf``, ``OneOfKeys``,
``ScalarOrRecord``, on the ``Type`` base and the ``Context`` that collects located errors.

YAML nodes in, typed values and ``FILE:LINE:COL`` diagnostics out. The same
declarations drive validation (``convert``) and the JSON Schema
(``json_schema``), so editors and the loader can never disagree about a format.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Self

from runbook.errors import Diagnostic
from runbook.schema.yaml_tree import Mark, YMap, YNode, YScalar, YSeq
from runbook.values import value


class _Invalid:
    def __repr__(self) -> str:
        return "INVALID"


INVALID: Any = _Invalid()


@dataclass
class Context:
    """What conversion needs beyond the node: where errors go, and the flags of the records around it.

    ``scope`` holds the ``scope`` flags of every enclosing ``Record`` (a type may
    accept a value only inside some record). A format that needs more (the names
    its strings may refer to) subclasses it; ``within`` keeps the subclass.
    """

    file: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    scope: frozenset[str] = frozenset()

    def error(self, mark: Mark, path: str, message: str, *, always: bool = False) -> None:
        """Record a problem; the first one said about a value is the one that counts (no echoes).

        ``always`` is for problems of a whole mapping (a missing key), which share
        their mark with the mapping's first key but are a different problem.
        """
        if not always and any(
            d.line == mark.line and d.column == mark.column for d in self.diagnostics
        ):
            return
        prefix = f"{path}: " if path else ""
        self.diagnostics.append(Diagnostic(self.file, mark.line, mark.column, prefix + message))

    def within(self, *flags: str) -> Self:
        return replace(self, scope=self.scope | set(flags))


def describe_node(node: YNode) -> str:
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

    def convert(self, node: YNode, path: str, ctx: Context) -> Any:
        raise NotImplementedError

    def json_schema(self) -> dict[str, Any]:
        raise NotImplementedError

    def _scalar(self, node: YNode, path: str, ctx: Context, expected: str) -> YScalar | None:
        if isinstance(node, YScalar) and node.value is not None:
            return node
        ctx.error(node.mark, path, f"expected {expected}, got {describe_node(node)}")
        return None


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
                ctx.error(node.mark, path, f"expected a list, got {describe_node(node)}")
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
            ctx.error(node.mark, path, f"expected a mapping, got {describe_node(node)}")
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


@value
class Field:
    """One key of a ``Record``: its type, whether it must be written, its default and its doc."""

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
            ctx.error(
                node.mark, path, f"expected a mapping ({self.title}), got {describe_node(node)}"
            )
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
                ctx.error(
                    node.mark, path or self.title, f"missing required key '{name}'", always=True
                )
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
            ctx.error(
                node.mark, path, f"expected a mapping ({self.title}), got {describe_node(node)}"
            )
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


class ScalarOrRecord(Type):
    """A field written either short (one scalar) or long (a mapping): ``confirm: "Go?"`` or
    ``confirm: {question: "Go?", timeout: 10m}``. ``short(value)`` builds the model from the scalar."""

    def __init__(self, scalar: Type, record: Record, short: Callable[[Any], Any]) -> None:
        self.scalar = scalar
        self.record = record
        self.short = short

    def convert(self, node: YNode, path: str, ctx: Context) -> Any:
        if isinstance(node, YMap):
            return self.record.convert(node, path, ctx)
        value = self.scalar.convert(node, path, ctx)
        return INVALID if value is INVALID else self.short(value)

    def json_schema(self) -> dict[str, Any]:
        return {"oneOf": [self.scalar.json_schema(), self.record.json_schema()]}


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
