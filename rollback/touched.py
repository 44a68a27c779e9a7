"""Rollback of exactly what was touched: which hosts a rollback step runs on, in which order.

The rule: a rollback step with ``if_started: S`` on the same SSH target as the
launch step ``S`` runs only on the hosts where ``S`` started (the journal's
``host_started``: finished, failed or cut short alike), wave by wave, the last
wave first, each wave bounded by the rollback step's own ``parallel``. On any
other target it runs on all of that target's hosts (once ``S`` started), as
does a step whose ``S`` left no per-host record (a drill that failed ``S``
before any host ran, a journal from before per-host events): when nobody can
say which hosts were touched, undo them all. A host ``S`` could not reach
(``never_started``: no connection, so nothing ran there) is not undone; when
``S`` reached none, the step has nothing to undo.
"""

from __future__ import annotations

from collections.abc import Mapping

from runbook import model
from steps.host_plan import HostPlan

Touched = Mapping[str, Mapping[str, int | None]]
"""Per launch step, the hosts it started on and the wave each was in (None: no waves)."""


def undoes_touched(step: model.RollbackStep, runbook: model.Runbook) -> bool:
    """Whether the rule applies: ``if_started`` names a launch step on the same SSH target."""
    if step.if_started is None or step.if_started not in runbook.step_ids:
        return False
    launch = runbook.step(step.if_started)
    return not runbook.target(step.on).is_local and launch.on == step.on


def undo_plan(
    step: model.RollbackStep, runbook: model.Runbook, touched: Touched
) -> HostPlan | None:
    """The hosts ``step`` undoes, last wave first; None when it runs on its whole target."""
    if not undoes_touched(step, runbook):
        return None
    target = runbook.target(step.on)
    started = touched.get(step.if_started or "")
    if started is not None and not started:
        return HostPlan(())  # it started on hosts but reached none of them: nothing to undo
    started = started or {}
    hosts = [host for host in target.hosts if host in started]
    if not hosts:
        return None
    waves = sorted({started[host] or 0 for host in hosts}, reverse=True)
    batches = tuple(tuple(host for host in hosts if (started[host] or 0) == wave) for wave in waves)
    numbered = any(started[host] is not None for host in hosts)
    return HostPlan(batches, tuple(waves) if numbered else (), undo=True)
