"""``waves:`` and ``between_waves:`` in the runbook format, on a fan-out step or a target.

Each size is checked where it is written (a zero-size wave, a percentage over
100, sizes that do not grow), so its own line and column are reported; sizes
against a target's hosts are checked by the target (its own waves) and the
loader (a step's waves), through ``runbook.waves``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from runbook import model
from runbook.schema.records import INVALID, Context, Field, ListOf, Record, Type, describe_node
from runbook.schema.yaml_tree import YMap, YNode, YScalar, YSeq
from runbook.v1.common import given, marks
from runbook.v1.criteria import CRITERION
from runbook.v1.scalars import Duration
from runbook.waves import size_problem, written_problem

_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


class WavesType(Type):
    """``[1, 10%, 100%]``: cumulative sizes, each a count of hosts or a percentage of them."""

    def convert(self, node: YNode, path: str, ctx: Context) -> Any:
        if not isinstance(node, YSeq) or not node.items:
            ctx.error(
                node.mark,
                path,
                "expected a list of wave sizes, e.g. [1, 10%, 100%], got "
                + ("an empty list" if isinstance(node, YSeq) else describe_node(node)),
            )
            return INVALID
        sizes = []
        for index, item in enumerate(node.items):
            size = self._size(item, f"{path}[{index}]", ctx)
            if size is INVALID:
                return INVALID
            sizes.append(size)
        problem = written_problem(sizes)
        if problem is not None:
            ctx.error(node.items[problem.index].mark, f"{path}[{problem.index}]", problem.message)
            return INVALID
        return model.Waves(tuple(sizes), tuple(item.mark for item in node.items))

    def _size(self, node: YNode, path: str, ctx: Context) -> Any:
        value = node.value if isinstance(node, YScalar) else None
        size: model.WaveSize | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            size = model.WaveSize(count=value)
        elif isinstance(value, str) and (match := _PERCENT.match(value)):
            size = model.WaveSize(percent=float(match.group(1)))
        if size is None:
            ctx.error(
                node.mark,
                path,
                f'a wave size is a count of hosts (e.g. 1) or a percentage (e.g. "10%"), '
                f"got {describe_node(node)}",
            )
            return INVALID
        problem = size_problem(size)
        if problem:
            ctx.error(node.mark, path, problem)
            return INVALID
        return size

    def json_schema(self) -> dict[str, Any]:
        return {
            "type": "array",
            "minItems": 1,
            "items": {
                "anyOf": [
                    {"type": "integer", "minimum": 1},
                    {"type": "string", "pattern": r"^\d+(\.\d+)?%$"},
                ]
            },
        }


def _build_between_waves(values: dict[str, Any], node: YMap, path: str, ctx: Context) -> Any:
    return model.BetweenWaves(
        hold=given(values["hold"], timedelta(0)),
        check=given(values["check"], ()),
        marks=marks(node),
    )


BETWEEN_WAVES = Record(
    "between waves",
    {
        "hold": Field(
            Duration(),
            doc="wait this long after each wave but the last, guards watching (a breach ends it)",
        ),
        "check": Field(
            ListOf(CRITERION, single_ok=True),
            doc="criteria after each wave but the last: with {{ host }} or on the step's target, "
            "once per host of the wave just done; otherwise once",
        ),
    },
    _build_between_waves,
)

WAVES_DOC = "cumulative wave sizes over the hosts, e.g. [1, 10%, 100%]; the last completes them"
