"""The plain scalar types any format may use: ``Text``, ``Int`` and ``Choice``.

Each converts a located YAML scalar and reports problems at its line and column.
A format adds its own (the runbook's templated strings, durations, thresholds)
by subclassing ``records.Type`` or these.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from runbook.schema.records import INVALID, Context, Type, describe_node
from runbook.schema.yaml_tree import YNode, YScalar


class Text(Type):
    """A string that says something: not blank, at most ``max_length`` characters, no control
    characters (tab and newlines aside), matching ``pattern`` when one is given.

    ``coerce_scalars``: a number or a boolean is taken as it is spelled in YAML
    (``3``, ``true``) instead of refused; a timestamp never is.
    """

    def __init__(
        self,
        *,
        pattern: str | None = None,
        pattern_hint: str = "",
        max_length: int = 65536,
        coerce_scalars: bool = False,
    ) -> None:
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
                ctx.error(node.mark, path, f"expected a string, got {describe_node(node)}")
                return INVALID
            value = yaml_spelling(value)
        if not value.strip():
            ctx.error(node.mark, path, "must not be empty")
            return INVALID
        if len(value) > self.max_length:
            ctx.error(node.mark, path, f"longer than {self.max_length} characters")
            return INVALID
        if _CONTROL.search(value):
            ctx.error(node.mark, path, "contains control characters")
            return INVALID
        if self.pattern and not self.pattern.match(value):
            ctx.error(node.mark, path, f"invalid value '{value}'{self.pattern_hint}")
            return INVALID
        return value

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "minLength": 1}
        if self.pattern:
            schema["pattern"] = self.pattern.pattern
        return schema


def yaml_spelling(value: object) -> str:
    """A scalar as YAML spells it: ``true``/``false`` for booleans, no ``.0`` on whole floats."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab and newlines aside


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
            ctx.error(node.mark, path, f"expected a whole number, got {describe_node(node)}")
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
        shown = node.value if isinstance(node, YScalar) else describe_node(node)
        ctx.error(node.mark, path, f"must be one of {' | '.join(self.values)}, got {shown!r}")
        return INVALID

    def json_schema(self) -> dict[str, Any]:
        return {"enum": list(self.values)}
