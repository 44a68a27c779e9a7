"""What an action needs from the launch to run: filled values, its environment, where to
report. Launch steps, rollback and roll-forward steps get theirs from here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from launchctl.engine.drill import DrillDriver
from launchctl.engine.milestones import Milestones
from launchctl.engine.settings import LaunchSettings
from launchctl.journal.recorder import Recorder
from launchctl.journal.replay import LaunchState
from runbook import model
from runbook.templating import render
from steps.cancel import CancelToken
from steps.clock import Clock
from steps.context import ActionContext, BaselineFor
from steps.executor import Executor
from steps.host_plan import HostPlan
from steps.host_records import RecordKey


class ActionContexts:
    def __init__(
        self,
        runbook: model.Runbook,
        settings: LaunchSettings,
        recorder: Recorder,
        executor: Executor,
        clock: Clock,
        environ: Mapping[str, str],
        values: Mapping[str, str],
        milestones: Milestones,
        drills: DrillDriver,
        state: LaunchState | None = None,
        baseline: BaselineFor | None = None,
    ) -> None:
        self.runbook = runbook
        self.settings = settings
        self.recorder = recorder
        self.executor = executor
        self.clock = clock
        self.environ = environ
        self.base_values = values
        self.milestones = milestones
        self.drills = drills
        self.baseline = baseline
        self.touched: dict[str, dict[str, int | None]] = {}
        self.reload(state)

    def reload(self, state: LaunchState | None) -> None:
        """The hosts each launch step touched, as the journal has them (what a rollback undoes);
        from here on every ``host_started`` adds to it."""
        for step_id, hosts in (state.touched_hosts() if state else {}).items():
            self.touched.setdefault(step_id, {}).update(hosts)

    def values(self, step: model.Action, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {**self.base_values, **(extra or {}), "step.id": step.id}

    def for_action(
        self,
        action: model.Action,
        cancel: CancelToken,
        values: Mapping[str, str] | None = None,
        phase: str | None = None,
        hosts: HostPlan | None = None,
        record: RecordKey | None = None,
    ) -> ActionContext:
        step_values = dict(values) if values is not None else self.values(action)

        def emit(event: str, fields: dict[str, Any]) -> None:
            if event == "host_started" and phase is None:
                self.touched.setdefault(action.id, {})[fields["host"]] = fields.get("wave")
            elif event == "host_finished" and phase is None and fields.get("never_started"):
                self.touched.setdefault(action.id, {}).pop(fields["host"], None)  # nothing ran
            elif event == "drill_injected":
                self.drills.injected_in_wave()
            self.recorder.emit(
                event, step=action.id, phase=phase, dry_run=self.executor.dry_run or None, **fields
            )

        return ActionContext(
            runbook=self.runbook,
            executor=self.executor,
            clock=self.clock,
            values=step_values,
            env=self._command_env(action, step_values),
            emit=emit,
            notify=lambda message: self.milestones.notify(message, "step", step=action.id),
            cancel=cancel,
            on_output=self.recorder.output_line,
            hosts=hosts,
            record=record,
            baseline=self.baseline,
        )

    def _command_env(self, action: model.Action, values: Mapping[str, str]) -> dict[str, str]:
        env = {
            "LAUNCHCTL_LAUNCH_ID": self.settings.launch_id,
            "LAUNCHCTL_STEP": action.id,
            "LAUNCHCTL_T0": self.base_values["t0"],
        }
        for name, template in action.env.items():
            env[name] = render(template, values, self.environ)
        return env
