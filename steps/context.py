"""What an action (a launch step's or a rollback step's body) needs from the launch running it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from runbook import model
from steps.baseline import Baseline
from steps.cancel import CancelToken
from steps.clock import Clock
from steps.executor import Executor
from steps.host_plan import HostPlan
from steps.host_records import RecordKey
from steps.shells.base import OutputListener

Emit = Callable[[str, dict[str, Any]], None]
BaselineFor = Callable[[model.PrometheusCriterion, Mapping[str, str], CancelToken], Baseline]


@dataclass
class ActionContext:
    """What an action needs from the launch: values to fill, where to run, how to report.

    ``hosts`` narrows or orders a fan-out (waves, a resume, a rollback of what was
    touched; None: every host of the target at once); ``record`` names the
    records its SSH commands leave on their hosts.
    """

    runbook: model.Runbook
    executor: Executor
    clock: Clock
    values: Mapping[str, str]
    env: Mapping[str, str]
    emit: Emit
    notify: Callable[[str], None]
    cancel: CancelToken
    on_output: OutputListener | None = None
    hosts: HostPlan | None = None
    record: RecordKey | None = None
    baseline: BaselineFor | None = None  # a relative Prometheus check's baseline (measured once)
