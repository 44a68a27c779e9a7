"""Which hosts a fan-out command runs on, batch by batch, and what is already known of them.

A plan is data: the engine builds one for a launch step (its waves, what the
journal says on resume, a drill's injected wave) and the rollback builds one
for a rollback step (the hosts a launch step touched, last wave first);
``steps.rollout`` runs it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from runbook import model
from runbook.waves import split_into_waves
from steps.results import CommandResult


@dataclass(frozen=True)
class HostPlan:
    """``batches`` run one after the other; ``numbers`` are their wave numbers for the journal
    (empty: one batch, no waves to speak of). ``done`` hosts are not run again (their results
    count as they were); ``in_flight`` hosts have their record on the host read first.
    ``fail_wave``: a drill's failure injected into that wave instead of running it.
    ``undo``: a rollback undoing what a launch step touched; a wave past ``max_fail`` does not
    keep the waves after it (the earlier waves of the launch) from being undone."""

    batches: tuple[tuple[str, ...], ...]
    numbers: tuple[int, ...] = ()
    between: model.BetweenWaves | None = None
    done: Mapping[str, CommandResult] = field(default_factory=dict)
    in_flight: frozenset[str] = frozenset()
    fail_wave: int | None = None
    undo: bool = False

    @property
    def in_waves(self) -> bool:
        return bool(self.numbers)

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(host for batch in self.batches for host in batch)


def launch_plan(
    runbook: model.Runbook,
    step: model.Step,
    *,
    done: Mapping[str, CommandResult] | None = None,
    in_flight: Sequence[str] = (),
    fail_wave: int | None = None,
) -> HostPlan:
    """A launch step's hosts: its waves (or its target's), else all at once."""
    target = runbook.target(step.on)
    waves, between = runbook.waves_of(step)
    if waves is None:
        batches: tuple[tuple[str, ...], ...] = (target.hosts,)
        numbers: tuple[int, ...] = ()
    else:
        batches = split_into_waves(target.hosts, waves.sizes, f"target '{target.name}'")
        numbers = tuple(range(1, len(batches) + 1))
    return HostPlan(
        batches,
        numbers,
        between if waves is not None else None,
        dict(done or {}),
        frozenset(in_flight),
        fail_wave,
    )
