"""Waves as arithmetic: ``waves: [1, 10%, 100%]`` and a target's hosts in, batches of hosts out.

Sizes are cumulative, like Ansible's ``serial`` read as "done so far": each says
how many of the hosts are done once its wave ends, and the last completes the
target. A count is that many hosts; a percentage is that share of the hosts,
rounded up, and always at least one host more than the wave before (so
``[1, 10%, 100%]`` still has three waves on a three-host staging target). Hosts
go into waves in the target's order.

What is wrong as written (a zero-size wave, a percentage over 100, sizes that
do not grow, a last percentage that is not 100%) is found by ``written_problem``;
what is wrong only against the hosts (a count beyond them, a last count short of
them) by ``split_into_waves``. Both name the index of the size at fault, so the
loader can point at its line and column.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from runbook.model import WaveSize


class WaveProblem(ValueError):
    """A size that does not work; ``index`` is its position in ``waves:``."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index
        self.message = message


def size_problem(size: WaveSize) -> str | None:
    """Why one size cannot be a wave, on its own."""
    if size.percent is not None:
        if size.percent <= 0:
            return "a wave of 0% adds no hosts"
        if size.percent > 100:
            return f"{size.percent:g}% is over 100%"
        return None
    if size.count is not None and size.count < 0:
        return "a wave size cannot be negative"
    if not size.count:
        return "a wave of 0 hosts adds no hosts"
    return None


def written_problem(sizes: Sequence[WaveSize]) -> WaveProblem | None:
    """The first problem the sizes have whatever the hosts are, or None."""
    if not sizes:
        return WaveProblem(0, "needs at least one wave")
    for index, size in enumerate(sizes):
        problem = size_problem(size)
        if problem:
            return WaveProblem(index, problem)
        if index == 0:
            continue
        before = sizes[index - 1]
        if before.percent == 100:
            return WaveProblem(index, "comes after 100%: no host is left for it")
        same_kind = (before.percent is None) == (size.percent is None)
        if same_kind and _amount(size) <= _amount(before):
            return WaveProblem(
                index,
                f"sizes are cumulative (hosts done so far): {size} is not more than {before} "
                "before it",
            )
    last = sizes[-1]
    if last.percent is not None and last.percent != 100:
        return WaveProblem(
            len(sizes) - 1, f"the last wave must complete the target: {last} ends short of 100%"
        )
    return None


def _amount(size: WaveSize) -> float:
    return size.percent if size.percent is not None else float(size.count or 0)


def split_into_waves(
    hosts: Sequence[str], sizes: Sequence[WaveSize], what: str = "the target"
) -> tuple[tuple[str, ...], ...]:
    """The hosts in batches, one per wave; raises ``WaveProblem`` when the sizes do not fit.

    A percentage wave that would add nothing because the target is already
    complete is dropped (a small rehearsal target); every other wave has hosts.
    """
    written = written_problem(sizes)
    if written is not None:
        raise written
    total = len(hosts)
    reached: list[int] = []
    for index, size in enumerate(sizes):
        done = reached[-1] if reached else 0
        if size.percent is not None:
            if done >= total:
                continue
            reach = min(total, max(math.ceil(total * size.percent / 100 - 1e-9), done + 1))
        else:
            reach = size.count or 0
            if reach > total:
                raise WaveProblem(index, f"asks for {reach} hosts; {what} has {total}")
            if reach <= done:
                raise WaveProblem(
                    index,
                    f"sizes are cumulative (hosts done so far): {reach} is not more than the "
                    f"{done} host{'s' if done != 1 else ''} the waves before it reach",
                )
        reached.append(reach)
    if not reached or reached[-1] != total:
        end = reached[-1] if reached else 0
        raise WaveProblem(
            len(sizes) - 1,
            f"the last wave must complete the target: the waves reach {end} of the {total} hosts "
            f"of {what} (end with 100%)",
        )
    starts = [0, *reached[:-1]]
    return tuple(tuple(hosts[start:end]) for start, end in zip(starts, reached, strict=True))


def describe_waves(batches: Sequence[Sequence[str]]) -> str:
    """``3 waves: 1, 4, 15 hosts`` — for plans, questions and reasons."""
    sizes = ", ".join(str(len(batch)) for batch in batches)
    return f"{len(batches)} wave{'s' if len(batches) != 1 else ''}: {sizes} hosts"
