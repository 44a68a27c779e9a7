"""YAML text -> a tree of located nodes, refusing what a safe loader must refuse.

We compose with PyYAML's ``SafeLoader`` (no object construction) and walk the
node graph ourselves so that every value keeps its line and column for
``FILE:LINE:COL`` messages. On the walk we refuse duplicate keys, non-standard
tags and documents that expand past a node budget (alias bombs), which
``yaml.safe_load`` would silently accept or take forever on.
"""

from __future__ import annotations

import re
from dataclasses import field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from runbook.errors import Diagnostic, InputError
from runbook.values import value

MAX_NODES = 50_000
MAX_DEPTH = 64
MAX_BYTES = 4 * 1024 * 1024

_T = "tag:yaml.org,2002:"
SCALAR_TAGS = {_T + t for t in ("str", "int", "float", "bool", "null", "timestamp")}
MERGE_TAG = _T + "merge"


@value
class Mark:
    """Where a node starts in its file, 1-based as editors count."""

    line: int
    column: int


@value
class YNode:
    """A located YAML node: a scalar, a sequence or a mapping."""

    mark: Mark


@value
class YScalar(YNode):
    """A scalar as the safe loader reads it (str, int, float, bool, None, date or datetime)."""

    value: Any
    tag: str = ""


@value
class YSeq(YNode):
    """A sequence of located nodes."""

    items: list[YNode] = field(default_factory=list)


@value
class YMap(YNode):
    """A mapping whose keys are strings; ``key_marks`` locates each key for messages."""

    items: dict[str, YNode] = field(default_factory=dict)
    key_marks: dict[str, Mark] = field(default_factory=dict)


def _mark(node: yaml.Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


class _Walker:
    def __init__(self, file: str) -> None:
        self.file = file
        self.budget = MAX_NODES
        self.diagnostics: list[Diagnostic] = []
        self._constructor = SafeConstructor()

    def error(self, mark: Mark, message: str) -> None:
        self.diagnostics.append(Diagnostic(self.file, mark.line, mark.column, message))

    def walk(self, node: yaml.Node, depth: int = 0) -> YNode:
        self.budget -= 1
        if self.budget < 0:
            raise _Abort(
                _mark(node), f"document expands to more than {MAX_NODES} nodes (alias bomb?)"
            )
        if depth > MAX_DEPTH:
            raise _Abort(_mark(node), f"nesting deeper than {MAX_DEPTH} levels")
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        if isinstance(node, yaml.SequenceNode):
            self._check_tag(node, _T + "seq")
            return YSeq(_mark(node), [self.walk(child, depth + 1) for child in node.value])
        if isinstance(node, yaml.MappingNode):
            self._check_tag(node, _T + "map")
            return self._mapping(node, depth)
        raise _Abort(_mark(node), "unsupported YAML node")

    def _check_tag(self, node: yaml.Node, expected: str) -> None:
        if node.tag != expected:
            self.error(
                _mark(node), f"YAML tag '{_short(node.tag)}' is not allowed (only standard tags)"
            )

    def _scalar(self, node: yaml.ScalarNode) -> YScalar:
        mark = _mark(node)
        if node.tag not in SCALAR_TAGS:
            self.error(mark, f"YAML tag '{_short(node.tag)}' is not allowed (only standard tags)")
            return YScalar(mark, node.value, _T + "str")
        try:
            value = self._constructor.construct_object(node, deep=True)
        except (ValueError, OverflowError, yaml.YAMLError) as exc:
            shown = node.value if len(node.value) <= 40 else node.value[:37] + "..."
            problem = (
                "number has too many digits" if "digits" in str(exc) else str(exc).splitlines()[0]
            )
            self.error(mark, f"cannot read {shown!r}: {problem}")
            value = node.value
        return YScalar(mark, value, node.tag)

    def _mapping(self, node: yaml.MappingNode, depth: int) -> YMap:
        result = YMap(_mark(node))
        merged: list[YMap] = []
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                merged.extend(self._merge_sources(value_node, depth))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.error(_mark(key_node), "mapping keys must be plain strings")
                continue
            # The key's text as written: YAML 1.1 would read `on:` as the boolean true.
            key = YScalar(_mark(key_node), key_node.value, _T + "str")
            name = key_node.value
            if name in result.items:
                first = result.key_marks[name]
                self.error(key.mark, f"duplicate key '{name}' (first given at line {first.line})")
                continue
            result.items[name] = self.walk(value_node, depth + 1)
            result.key_marks[name] = key.mark
        for source in merged:
            for name, child in source.items.items():
                if name not in result.items:
                    result.items[name] = child
                    result.key_marks[name] = source.key_marks[name]
        return result

    def _merge_sources(self, node: yaml.Node, depth: int) -> list[YMap]:
        value = self.walk(node, depth + 1)
        sources = value.items if isinstance(value, YSeq) else [value]
        maps = [s for s in sources if isinstance(s, YMap)]
        if len(maps) != len(sources):
            self.error(value.mark, "a merge key '<<' takes a mapping or a list of mappings")
        return maps


def _short(tag: str) -> str:
    return "!!" + tag[len(_T) :] if tag.startswith(_T) else tag


class _Abort(Exception):
    def __init__(self, mark: Mark, message: str) -> None:
        super().__init__(message)
        self.mark = mark


def read_yaml_file(path: Path) -> tuple[bytes, str]:
    """The file's bytes and the name to use in messages; unreadable files are input errors."""
    display = str(path)
    try:
        return path.read_bytes(), display
    except FileNotFoundError:
        raise InputError(f"{display}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{display}: is a directory, not a file") from None
    except OSError as exc:
        raise InputError(f"{display}: cannot read: {exc.strerror}") from None


def parse_yaml(data: bytes, file: str) -> tuple[YNode | None, list[Diagnostic]]:
    """Parse one YAML document; returns the tree (or None) and every problem found."""
    if len(data) > MAX_BYTES:
        return None, [
            Diagnostic(file, 1, 1, f"file is larger than {MAX_BYTES // (1024 * 1024)} MiB")
        ]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _position(data, exc.start)
        byte = data[exc.start]
        return None, [Diagnostic(file, line, column, f"not valid UTF-8 (byte 0x{byte:02x})")]
    if text.startswith("\ufeff"):
        text = text[1:]
    bad = _CONTROL.search(text)
    if bad is not None:
        return None, [_control_character(bad.start(), text, file)]
    try:
        root = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return None, [Diagnostic(file, line, column, f"YAML syntax error: {problem}")]
    except yaml.YAMLError as exc:
        return None, [Diagnostic(file, 1, 1, f"YAML syntax error: {str(exc).splitlines()[0]}")]
    except RecursionError:
        return None, [Diagnostic(file, 1, 1, "nesting too deep to read")]
    if root is None:
        return None, [Diagnostic(file, 1, 1, "file is empty")]
    walker = _Walker(file)
    try:
        tree = walker.walk(root)
    except _Abort as abort:
        walker.error(abort.mark, str(abort))
        return None, walker.diagnostics
    return tree, walker.diagnostics


def _compose(text: str) -> yaml.Node | None:
    """One document's node graph, with libyaml's speed and PyYAML's words when it is broken."""
    try:
        return _compose_with(_Loader, text)
    except yaml.YAMLError:
        if _Loader is yaml.SafeLoader:
            raise
        return _compose_with(yaml.SafeLoader, text)


def _compose_with(loader_class: type, text: str) -> yaml.Node | None:
    loader = loader_class(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


# libyaml's parser when present (ten times faster on a large runbook; same marks), else PyYAML's.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _control_character(position: int, text: str, file: str) -> Diagnostic:
    """A raw control character, which YAML does not allow; located so it can be found."""
    before = text[:position]
    line = before.count("\n") + 1
    column = position - (before.rfind("\n") + 1) + 1
    code = ord(text[position])
    return Diagnostic(
        file,
        line,
        column,
        f'control character U+{code:04X} is not allowed (write it escaped, e.g. "\\x{code:02x}")',
    )


def _position(data: bytes, offset: int) -> tuple[int, int]:
    before = data[:offset]
    line = before.count(b"\n") + 1
    column = offset - (before.rfind(b"\n") + 1) + 1
    return line, column
