"""What the runbook format's declarations share: id and name patterns, and small helpers for builders."""

from __future__ import annotations

from typing import Any

from runbook.schema.records import mark_of
from runbook.schema.yaml_tree import YMap
from runbook.v1.scalars import Str

ID_PATTERN = r"^[a-z0-9_-]+$"
ID_HINT = " (ids use lowercase letters, digits, '-' and '_')"
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*$"
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


def given(value: Any, default: Any) -> Any:
    """The value when the key was written (even 0 or 0s), else the default."""
    return default if value is None else value


def marks(node: YMap) -> dict[str, Any]:
    return {key: mark_of(node, key) for key in node.items}


def ident() -> Str:
    return Str(template=False, pattern=ID_PATTERN, pattern_hint=ID_HINT, max_length=128)


def target_ref() -> Str:
    return Str(
        template=False, pattern=NAME_PATTERN, pattern_hint=" (a target name)", max_length=128
    )
