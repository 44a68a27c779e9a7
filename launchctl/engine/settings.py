"""The one configuration of a launch, recorded in its journal and read back from it."""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from launchctl.engine.drill import DrillSpec
from launchctl.journal.catalogue import iso, parse_iso


@dataclass
class LaunchSettings:
    """The one configuration of a launch: written whole into ``launch_started`` (``record``) and
    read back by ``resume``, ``launchctl rollback`` and drills (``from_record``), so nothing a
    launch was started with can be dropped on the way."""

    launch_id: str
    t0: datetime
    journal_dir: Path | None = None
    dry_run: bool = False
    no_wait: bool = False
    speed: float = 1.0
    yes: bool = False
    cwd: str | None = None
    user: str = field(default_factory=getpass.getuser)
    drill: DrillSpec | None = None
    var_overrides: dict[str, str] = field(default_factory=dict)
    targets_file: str | None = None
    gate_caution: bool = False  # the go/no-go said GO WITH CAUTION
    gate_override: str | None = None

    def record(self) -> dict[str, Any]:
        return {
            "t0": iso(self.t0),
            "dry_run": self.dry_run,
            "no_wait": self.no_wait,
            "speed": self.speed,
            "yes": self.yes,
            "cwd": self.cwd,
            "user": self.user,
            "drill": self.drill.to_data() if self.drill else None,
            "var_overrides": self.var_overrides or None,
            "targets_file": self.targets_file,
            "gate_caution": self.gate_caution or None,
            "gate_override": self.gate_override,
        }

    @classmethod
    def from_record(
        cls, launch: Mapping[str, Any], journal_dir: Path, yes: bool, user: str | None = None
    ) -> LaunchSettings:
        """Settings from a ``launch_started`` event; ``yes`` and the user are this process's own."""
        drill = launch.get("drill")
        return cls(
            launch_id=str(launch["launch_id"]),
            t0=parse_iso(launch["t0"]),
            journal_dir=journal_dir,
            dry_run=bool(launch.get("dry_run")),
            no_wait=bool(launch.get("no_wait")),
            speed=float(launch.get("speed") or 1),
            yes=yes,
            cwd=launch.get("cwd"),
            user=user or getpass.getuser(),
            drill=DrillSpec(**drill) if isinstance(drill, dict) else None,
            var_overrides=dict(launch.get("var_overrides") or {}),
            targets_file=launch.get("targets_file"),
            gate_caution=bool(launch.get("gate_caution")),
            gate_override=launch.get("gate_override"),
        )
