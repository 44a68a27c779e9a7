"""A format's reference in Markdown, written from its JSON Schema (``Record.json_schema``).

One section per titled record, one table row per field (type, required,
meaning), so a format's document cannot drift from what its loader accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def markdown_reference(
    schema: dict[str, Any], intro: str, type_name: Callable[[dict[str, Any]], str | None]
) -> str:
    """``intro``, then every record of the schema as a section: its fields, their types and
    meaning. ``type_name`` names the format's own value types (``None``: the schema's words)."""
    sections: dict[str, dict[str, Any]] = {}
    _collect(schema, sections)
    lines = [intro]
    for title, record in sections.items():
        lines += ["", f"## {title}", ""]
        if record.get("description"):
            lines += [record["description"], ""]
        lines += ["| field | type | required | meaning |", "|---|---|---|---|"]
        required = set(record.get("required", []))
        for name, field in record.get("properties", {}).items():
            meaning = cell(field.get("description", ""))
            lines.append(
                f"| `{name}` | {_type(field, type_name)} | {'yes' if name in required else ''} | {meaning} |"
            )
    return "\n".join(lines) + "\n"


def _collect(node: Any, sections: dict[str, dict[str, Any]]) -> None:
    if isinstance(node, dict):
        if node.get("type") == "object" and "title" in node and "properties" in node:
            sections.setdefault(node["title"], node)
        for value in node.values():
            _collect(value, sections)
    elif isinstance(node, list):
        for value in node:
            _collect(value, sections)


def _type(field: dict[str, Any], named: Callable[[dict[str, Any]], str | None]) -> str:
    """A short human name for a field's type; records are named so their section can be found."""
    name = named(field)
    if name is not None:
        return name
    if "enum" in field:
        return " \\| ".join(f"`{value}`" for value in field["enum"])
    options = field.get("oneOf") or field.get("anyOf")
    if options:
        arrays = [o for o in options if o.get("type") == "array"]
        if len(arrays) == 1 and len(options) == 2:
            return f"one or a list of {_type(arrays[0].get('items', {}), named)}"
        return " or ".join(dict.fromkeys(_type(option, named) for option in options))
    kind = field.get("type")
    if kind == "object":
        if "title" in field:
            return f"[{field['title']}](#{field['title'].replace(' ', '-')})"
        values = field.get("additionalProperties")
        return f"map of {_type(values, named)}" if isinstance(values, dict) else "mapping"
    if kind == "array":
        items = field.get("items", {})
        return f"list of {_type(items, named)}"
    if isinstance(kind, list):
        return " or ".join(kind)
    return kind or "value"


def cell(text: str) -> str:
    """Text as one Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")
