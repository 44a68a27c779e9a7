"""Setting a launch up and tearing it down: journal, lock, clock, executor, operator, engine.

``start``, ``resume`` and ``plan`` assemble the same engine from different
parts; the CLI only parses options and calls these.
"""

from __future__ import annotations

import os
import re
import secrets as random_tokens
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from launchctl import __version__
from launchctl.engine.baselines import measure_before_start
from launchctl.engine.drill import DrillSpec
from launchctl.engine.engine import Engine
from launchctl.engine.guard_supervisor import window_words
from launchctl.engine.prompts import TerminalPrompter
from launchctl.engine.schedule import resolve_t0
from launchctl.engine.settings import LaunchSettings
from launchctl.errors import RunbookChanged
from launchctl.journal.catalogue import iso
from launchctl.journal.lock import JournalLock
from launchctl.journal.masking import SecretMasker, masker_for
from launchctl.journal.private import check_private, make_private_dir
from launchctl.journal.reader import read_journal
from launchctl.journal.recorder import Recorder
from launchctl.journal.replay import LaunchState, replay
from launchctl.journal.writer import JournalWriter
from launchctl.views.gate_text import render_no_return
from launchctl.views.plain import PlainConsole
from launchctl.views.terminal import Display
from launchctl.watch.slots import planned
from runbook import model
from runbook.checklist import Decision, GateResult, evaluate_gate, load_checklist
from runbook.durations import format_duration, format_offset
from runbook.errors import EXIT_BAD_INPUT, EXIT_NO_GO, InputError
from runbook.resolve import launch_name, resolve, template_values
from runbook.v1.loader import load_runbook
from steps.clock import Clock, ScaledClock, SimulatedClock, utcnow
from steps.executor import DryRunExecutor, RealExecutor, prometheus_url
from steps.notify import Delivery, Notifier


@dataclass
class RunOptions:
    t0: str | None = None
    dry_run: bool = False
    no_wait: bool = False
    speed: float = 1.0
    yes: bool = False
    journal: Path | None = None
    var_overrides: dict[str, str] = field(default_factory=dict)
    targets_file: str | None = None
    override_gate: str | None = None
    late_ok: bool = False
    drill: DrillSpec | None = None


def new_launch_id(name: str, now: datetime) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:32] or "launch"
    return f"{now:%Y%m%d-%H%M%S}-{slug}-{random_tokens.token_hex(2)}"


def missing_secrets(runbook: model.Runbook, environ: Mapping[str, str]) -> list[str]:
    return [name for name in runbook.secrets if not environ.get(name)]


def require_secrets(runbook: model.Runbook, environ: Mapping[str, str]) -> None:
    missing = missing_secrets(runbook, environ)
    if missing:
        raise InputError(
            f"secret{'s' if len(missing) > 1 else ''} not set in the environment: {', '.join(missing)} "
            "(listed under secrets in the runbook; nothing was run)"
        )


def terminal_prompter(display: Display | None = None) -> TerminalPrompter | None:
    """A person can be asked when both ends are a terminal (``--yes`` answers only what it may)."""
    if sys.stdin.isatty() and sys.stdout.isatty():
        return TerminalPrompter(display)
    return None


LATE_TOLERANCE = timedelta(minutes=1)


def _refuse_late_start(
    runbook: model.Runbook, t0: datetime, now: datetime, yes: bool, echo: Callable[[str], None]
) -> None:
    """Starting after steps were due: say how late, and go on only if a person (or --late-ok) agrees.

    Steps already due run at once, one after the other; guard windows hang on
    the actual go-live, so their protection is whole whatever the delay.
    """
    late = [step for step in runbook.steps if t0 + step.at < now - LATE_TOLERANCE]
    if not late:
        return
    behind = format_duration(timedelta(seconds=round((now - (t0 + late[0].at)).total_seconds())))
    message = (
        f"T0 {iso(t0)} puts {len(late)} step{'s' if len(late) > 1 else ''} in the past: "
        f"'{late[0].id}' was due {behind} ago; they would run at once, one after the other"
    )
    if not yes and sys.stdin.isatty() and sys.stdout.isatty():
        import click

        if click.confirm(f"{message}. Start late?", default=False, err=True):
            return
        raise InputError("not started: the launch would start late (answer yes, or use --late-ok)")
    raise InputError(f"{message}; start it anyway with --late-ok, or give a later --t0")


def start_launch(
    runbook: model.Runbook,
    options: RunOptions,
    environ: Mapping[str, str],
    echo: Callable[[str], None],
    display: Display | None = None,
    prompter: TerminalPrompter | None = None,
) -> int:
    """A new launch from the first step; returns the exit code."""
    display = display or Display([PlainConsole()])
    _check_secrets(runbook, environ, options.dry_run, echo)
    masker = _masker(runbook, environ)
    now = utcnow()
    t0 = resolve_t0(options.t0, runbook, now)
    if not (options.dry_run or options.no_wait or options.late_ok):
        _refuse_late_start(runbook, t0, now, options.yes, echo)
    launch_id = new_launch_id(launch_name(runbook, iso(t0)), now)
    values = template_values(runbook, t0=iso(t0), launch_id=launch_id)
    runbook = resolve(runbook, values)
    baselines = (
        []
        if options.dry_run or options.no_wait
        else measure_before_start(runbook, values, prometheus_url(runbook, values, environ), t0)
    )
    gate = evaluate_gate(load_checklist(runbook.gate)) if runbook.gate else None
    journal_dir = (options.journal or Path(".launchctl") / launch_id).absolute()
    _announce(runbook, journal_dir, gate, echo)
    clock: Clock
    if options.dry_run:
        clock = SimulatedClock(min(now, t0 + runbook.steps[0].at))
    else:
        clock = ScaledClock(options.speed)
    # A dry run acts on nothing, so there is no action for an fsync to protect.
    lock, writer = _open_journal(journal_dir, fresh=True, durable=not options.dry_run)
    recorder = Recorder(writer, masker, clock, display.sinks)
    settings = LaunchSettings(
        launch_id=launch_id,
        t0=t0,
        journal_dir=journal_dir,
        dry_run=options.dry_run,
        no_wait=options.no_wait,
        speed=options.speed,
        yes=options.yes,
        cwd=os.getcwd(),
        drill=options.drill,
        var_overrides=dict(options.var_overrides),
        targets_file=str(Path(options.targets_file).absolute()) if options.targets_file else None,
        gate_caution=gate is not None and gate.decision is Decision.CAUTION,
        gate_override=options.override_gate,
    )
    try:
        recorder.emit(
            "launch_started",
            launch_id=launch_id,
            **described(runbook, t0),
            pid=os.getpid(),
            version=__version__,
            gate=gate.to_data() if gate else None,
            **settings.record(),
        )
        if gate is not None and gate.decision is Decision.NO_GO and not options.dry_run:
            if not options.override_gate:
                return _refuse(recorder, gate, echo)
            echo(f"gate: NO-GO overridden: {options.override_gate}")
        for fields in baselines:  # measured at start-up from history: the launch starts late
            recorder.emit("baseline_measured", **fields)
        return _drive(
            runbook,
            settings,
            recorder,
            clock,
            environ,
            prompter or terminal_prompter(display),
            display=display,
            baselines=baselines,
        )
    finally:
        writer.close()
        lock.release()


def _check_secrets(
    runbook: model.Runbook, environ: Mapping[str, str], dry_run: bool, echo: Callable[[str], None]
) -> None:
    """A launch needs every secret (exit 2 naming the first missing); a dry run says which are
    missing and goes on, since it runs nothing that would use them."""
    if not dry_run:
        require_secrets(runbook, environ)
        return
    missing = missing_secrets(runbook, environ)
    if missing:
        echo(f"note: secrets not set (fine for a dry run): {', '.join(missing)}")


def _announce(
    runbook: model.Runbook, journal_dir: Path, gate: GateResult | None, echo: Callable[[str], None]
) -> None:
    """What a person must see before the first event: where the journal is (and whether others
    can read it), the gate's decision, and the steps past which nothing rolls back."""
    echo(f"journal: {journal_dir}")
    _warn_if_shared(journal_dir, echo)
    if gate is not None:
        echo(f"gate: {gate.decision.value} (critical {gate.critical}, total {gate.total})")
    for line in render_no_return(
        [(s.id, s.irreversible) for s in runbook.irreversible_steps], gate
    ):
        echo(line)


def described(runbook: model.Runbook, t0: datetime) -> dict[str, Any]:
    """The runbook as ``launch_started`` records it: what resume, rollback, status and the
    views need to know of the launch without reading the runbook again."""
    return {
        "name": runbook.name,
        "runbook": str(runbook.source),
        "runbook_sha256": runbook.content_sha256,
        "steps": list(runbook.step_ids),
        "plan": [
            {
                "step": s.id,
                "title": s.title,
                "offset": format_offset(s.at),
                "planned": iso(t0 + s.at),
                "target": s.on,
            }
            for s in runbook.steps
        ],
        "rollback_steps": [s.id for s in runbook.rollback],
        "roll_forward_steps": [s.id for s in runbook.roll_forward] or None,
        "irreversible": {s.id: s.irreversible for s in runbook.irreversible_steps} or None,
        "guards": [g.id for g in runbook.guards],
        "guard_plan": [
            {
                "guard": g.id,
                "threshold": str(g.breach),
                "window": window_words(g),
                "then": g.then.value,
            }
            for g in runbook.guards
        ]
        or None,
        "checkpoints": planned(runbook.checkpoints) if runbook.checkpoints else None,
    }


def resume_launch(
    journal_dir: Path,
    *,
    yes: bool,
    force: bool,
    environ: Mapping[str, str],
    echo: Callable[[str], None],
    display: Display | None = None,
    prompter: TerminalPrompter | None = None,
) -> int:
    """Go on with an interrupted launch from what its journal proves happened."""
    display = display or Display([PlainConsole()])
    with _locked_state(journal_dir) as (journal_dir, state):
        if state.finished is not None:
            echo(
                f"launch {state.launch_id} already finished: {state.finished.get('status')}; nothing to resume"
            )
            return int(state.finished.get("exit_code", 0))
        _warn_if_shared(journal_dir, echo)
        runbook = _recorded_runbook(state)
        _check_same_steps(runbook, state.launch, force, echo)
        reopened = _reopen(journal_dir, state, runbook, yes=yes, environ=environ, display=display)
        echo(f"journal: {journal_dir}")
        try:
            reopened.recorder.emit(
                "launch_resumed",
                user=reopened.settings.user,
                pid=os.getpid(),
                torn_lines_dropped=state.torn_lines or None,
                in_flight=state.in_flight_step.id if state.in_flight_step else None,
                runbook_sha256=runbook.content_sha256,
            )
            return _drive(
                runbook,
                reopened.settings,
                reopened.recorder,
                reopened.clock,
                environ,
                prompter or terminal_prompter(display),
                state,
                display,
            )
        finally:
            reopened.writer.close()


def rollback_here(
    journal_dir: Path,
    reason: str,
    *,
    environ: Mapping[str, str],
    echo: Callable[[str], None],
    display: Display | None = None,
    forced_by: str | None = None,
) -> int:
    """Run the rollback sequence of a launch no process is driving (``launchctl rollback``)."""
    display = display or Display([PlainConsole()])
    with _locked_state(journal_dir) as (journal_dir, state):
        if state.rollback is not None and state.rollback.status is not None:
            echo(f"{state.launch_id}: already rolled back ({state.rollback.status}); nothing to do")
            return EXIT_BAD_INPUT
        _warn_if_shared(journal_dir, echo)
        runbook = _recorded_runbook(state)
        reopened = _reopen(journal_dir, state, runbook, yes=True, environ=environ, display=display)
        echo(f"journal: {journal_dir}")
        try:
            reopened.recorder.emit(
                "rollback_requested", reason=reason, user=reopened.settings.user, pid=os.getpid()
            )
            return _drive(
                runbook,
                reopened.settings,
                reopened.recorder,
                reopened.clock,
                environ,
                None,
                state,
                display,
                act=lambda engine: engine.roll_back(reason, "operator", forced_by),
            )
        finally:
            reopened.writer.close()


@contextmanager
def _locked_state(journal_dir: Path) -> Iterator[tuple[Path, LaunchState]]:
    """Own the journal, then read where the launch stands: in that order, so nobody writes between."""
    journal_dir = journal_dir.absolute()
    if not (journal_dir / "journal.jsonl").is_file():
        read_journal(journal_dir)  # raises the precise "not a journal" error
    lock = JournalLock(journal_dir)
    lock.acquire()
    try:
        read = read_journal(journal_dir)
        yield journal_dir, replay(read.events, read.torn_lines)
    finally:
        lock.release()


def _recorded_runbook(state: LaunchState) -> model.Runbook:
    """The runbook as the launch resolved it: its file, ``--var`` values, T0 and id."""
    launch = state.launch
    runbook = load_runbook(
        launch["runbook"], launch.get("var_overrides") or {}, launch.get("targets_file")
    )
    return resolve(runbook, template_values(runbook, t0=launch["t0"], launch_id=state.launch_id))


@dataclass
class _Reopened:
    settings: LaunchSettings
    clock: Clock
    recorder: Recorder
    writer: JournalWriter


def _reopen(
    journal_dir: Path,
    state: LaunchState,
    runbook: model.Runbook,
    *,
    yes: bool,
    environ: Mapping[str, str],
    display: Display,
) -> _Reopened:
    """The launch's settings, clock and recorder as they were, appending to its journal."""
    launch = state.launch
    if not launch.get("dry_run"):
        require_secrets(runbook, environ)
    clock = _resumed_clock(state)
    writer = JournalWriter(journal_dir, durable=not launch.get("dry_run"))
    writer.open()
    recorder = Recorder(writer, _masker(runbook, environ), clock, display.sinks, state.last_seq)
    settings = LaunchSettings.from_record(launch, journal_dir, yes)
    return _Reopened(settings, clock, recorder, writer)


def _refuse(recorder: Recorder, gate: GateResult, echo: Callable[[str], None]) -> int:
    """A NO-GO gate: nothing runs; the journal records why, so the record shows the refusal."""
    recorder.emit("gate_refused", decision=gate.decision.value, reasons=gate.reasons)
    recorder.emit("launch_finished", status="refused_by_gate", exit_code=EXIT_NO_GO)
    echo("refused: the go/no-go gate says NO-GO")
    for reason in gate.reasons:
        echo(f"  - {reason}")
    echo("nothing was run; fix the checklist, or start with --override-gate REASON (recorded)")
    return EXIT_NO_GO


def plan_launch(
    runbook: model.Runbook, t0_option: str | None, environ: Mapping[str, str]
) -> tuple[datetime, list[dict[str, Any]], model.Runbook]:
    """Walk the launch with a simulated clock and a describing executor: T0, the events (which
    are the plan) and the resolved runbook they came from."""
    now = utcnow()
    t0 = resolve_t0(t0_option, runbook, now)
    runbook = resolve(runbook, template_values(runbook, t0=iso(t0), launch_id="plan"))
    clock = SimulatedClock(t0 + runbook.steps[0].at)
    events: list[dict[str, Any]] = []
    recorder = Recorder(None, _masker(runbook, environ), clock, [events.append])
    settings = LaunchSettings(launch_id="plan", t0=t0, dry_run=True)
    settings.yes = True
    engine = Engine(runbook, settings, recorder, None, clock, DryRunExecutor(), environ)
    engine.run()
    return t0, events, runbook


def _drive(
    runbook: model.Runbook,
    settings: LaunchSettings,
    recorder: Recorder,
    clock: Clock,
    environ: Mapping[str, str],
    prompter: TerminalPrompter | None,
    state: LaunchState | None = None,
    display: Display | None = None,
    act: Callable[[Engine], int] = Engine.run,
    baselines: list[dict[str, Any]] | None = None,
) -> int:
    """Assemble the executor, notifier and engine, then ``act`` (run the launch, or only roll back)."""
    values = template_values(runbook, t0=iso(settings.t0), launch_id=settings.launch_id)
    if settings.dry_run:
        executor = DryRunExecutor()
    else:
        executor = RealExecutor(
            runbook, values, cwd=settings.cwd, environ=environ, redaction=recorder.masker
        )
    notifier = Notifier(runbook.notify, environ, on_delivery=_delivery_recorder(recorder))
    engine = Engine(
        runbook,
        settings,
        recorder,
        prompter,
        clock,
        executor,
        environ,
        notifier,
        state,
        baselines or (),
    )
    if display is not None:
        display.start()
    try:
        return act(engine)
    finally:
        if display is not None:
            display.stop()
        notifier.close()
        executor.close()


def _delivery_recorder(recorder: Recorder) -> Callable[[Delivery], None]:
    def record(delivery: Delivery) -> None:
        if not delivery.ok:
            try:
                recorder.emit("notification_failed", channel=delivery.channel, error=delivery.error)
            except Exception:
                pass

    return record


def _open_journal(
    directory: Path, fresh: bool, durable: bool = True
) -> tuple[JournalLock, JournalWriter]:
    if fresh and (directory / "journal.jsonl").exists():
        raise InputError(
            f"{directory} already holds a journal; resume it with `launchctl resume {directory}`"
        )
    try:
        make_private_dir(directory)
    except OSError as exc:
        raise InputError(f"cannot create journal directory {directory}: {exc.strerror}") from None
    lock = JournalLock(directory)
    lock.acquire()
    writer = JournalWriter(directory, durable=durable)
    try:
        writer.open()
    except Exception:
        lock.release()
        raise
    return lock, writer


def _warn_if_shared(journal_dir: Path, echo: Callable[[str], None]) -> None:
    """One warning line when others can read the journal (writing by others is refused)."""
    warning = check_private(journal_dir)
    if warning is not None:
        echo(warning)


def _masker(runbook: model.Runbook, environ: Mapping[str, str]) -> SecretMasker:
    return masker_for(runbook.secrets, environ)


def _resumed_clock(state: LaunchState) -> Clock:
    launch = state.launch
    anchor = (
        datetime.fromisoformat(state.last_clock.replace("Z", "+00:00"))
        if state.last_clock
        else None
    )
    if launch.get("dry_run"):
        return SimulatedClock(anchor)
    speed = float(launch.get("speed") or 1)
    return ScaledClock(speed, anchor if speed != 1 else None)


def _check_same_steps(
    runbook: model.Runbook, launch: dict[str, Any], force: bool, echo: Callable[[str], None]
) -> None:
    recorded = list(launch.get("steps", []))
    current = list(runbook.step_ids)
    if recorded != current:
        added = [s for s in current if s not in recorded]
        removed = [s for s in recorded if s not in current]
        detail = []
        if added:
            detail.append(f"added {', '.join(added)}")
        if removed:
            detail.append(f"removed {', '.join(removed)}")
        if not added and not removed:
            detail.append("reordered")
        message = f"{runbook.source}: the runbook's steps changed since the launch started ({'; '.join(detail)})"
        if not force:
            raise RunbookChanged(message + "; refusing to resume (use --force to resume anyway)")
        echo(f"warning: {message}; resuming because of --force")
    elif runbook.content_sha256 != launch.get("runbook_sha256"):
        echo(
            "note: the runbook's content changed since the launch started (same steps); using the current file"
        )
