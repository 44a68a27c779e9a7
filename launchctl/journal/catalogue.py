"""The journal's vocabulary: its one time format and every event, declared once.

Each event is declared here with its fields, their kinds and which of them are
free text (see ``launchctl.journal.fields``). Everything that writes or reads
events goes through this table: the recorder validates and masks by it, the
reader checks well-formedness by it, and the replay, the plain console, the
live view and the reports register their handlers against it
(``launchctl.journal.dispatch``), so an event cannot be emitted, read or shown
without being declared. To add an event: declare it below, emit it, and give
every view a handler or a deliberate ``ignore``; ``tests/launchctl/test_event_catalogue.py``
says which one is missing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from launchctl.journal.fields import (
    BOOL,
    ID,
    IDS,
    INT,
    KEY,
    KEY_MAP,
    NUMBER,
    REASON,
    TEXT,
    TEXTS,
    TIME,
    VALUE,
    FieldSpec,
    Kind,
    ListOf,
    record,
    records,
    required,
)


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a ``Z``: the journal's one time format."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(stamp: str) -> datetime:
    """The inverse of ``iso``: a journal time stamp back to an aware ``datetime``."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


ENVELOPE: dict[str, FieldSpec] = {
    "event": required(ID),
    "ts": required(TIME),
    "seq": required(INT),
    "clock": FieldSpec(TIME),
}
"""What the recorder adds to every journaled event: the wall-clock stamp, the launch clock
(in a rehearsal or dry run), and the sequence number ``resume`` continues from."""

COMMON: dict[str, FieldSpec] = {
    "step": FieldSpec(ID),
    "phase": FieldSpec(ID),
    "dry_run": FieldSpec(BOOL),
}
"""Fields any event from a step's work may carry: the engine adds them to what a step reports."""


@dataclass(frozen=True)
class EventType:
    """One declared event: its name, what it means, its fields; ``journaled`` is False for the
    live-only ``output`` lines (the command's tail is journaled with its result instead).

    ``after_the_fact`` marks a record of something already over (a command's exit, a check's
    verdict, a guard's sample): nothing is done on the strength of it being on disk, so the
    writer need not wait for the disk before going on (see ``JournalWriter``). Every other
    event is on disk before launchctl acts on it.
    """

    name: str
    doc: str
    fields: Mapping[str, FieldSpec]
    journaled: bool = True
    after_the_fact: bool = False

    @property
    def free_text(self) -> frozenset[str]:
        """The fields masking touches (top level; records say which of their members are)."""
        return frozenset(name for name, spec in self.fields.items() if spec.kind.free_text)

    def spec(self, name: str) -> FieldSpec | None:
        return self.fields.get(name) or ENVELOPE.get(name) or COMMON.get(name)

    def problems(self, event: Mapping[str, Any]) -> Iterator[str]:
        """Why ``event`` is not this event as launchctl writes it (nothing when it is)."""
        for name, spec in {**self.fields, **ENVELOPE}.items():
            if spec.required and event.get(name) is None:
                yield f"{self.name}: {name} is missing"
        for name, value in event.items():
            spec = self.spec(name)
            if spec is None:
                yield f"{self.name}: field {name!r} is not declared"
            elif value is not None and not spec.kind.check(value):
                yield f"{self.name}: {name}={value!r} is not {spec.kind.name}"


EVENTS: dict[str, EventType] = {}


def declare(
    event: str,
    doc: str,
    /,
    *,
    journaled: bool = True,
    after_the_fact: bool = False,
    **fields: Kind | FieldSpec,
) -> None:
    specs = {k: v if isinstance(v, FieldSpec) else FieldSpec(v) for k, v in fields.items()}
    EVENTS[event] = EventType(event, doc, specs, journaled, after_the_fact)


STEP = required(ID)
STATUS = required(ID)
HOST_BATCHES = ListOf("host batches", lambda v: True, item=IDS)
"""Hosts in batches: a step's waves in order, or a rollback step's, last wave first."""
INTS = ListOf("ints", lambda v: True, item=INT)
GUARD = required(ID)

# -- the launch --------------------------------------------------------------------------------
declare(
    "launch_started",
    "A new launch: everything resume, rollback and the report need to rebuild it.",
    launch_id=required(ID),
    name=TEXT,
    runbook=required(KEY),
    runbook_sha256=KEY,
    steps=required(IDS),
    plan=records(step=ID, title=TEXT, offset=KEY, planned=TIME, target=ID),
    rollback_steps=IDS,
    roll_forward_steps=IDS,
    irreversible=KEY_MAP,
    guards=IDS,
    guard_plan=records(guard=ID, threshold=KEY, window=KEY, then=ID),
    t0=required(TIME),
    no_wait=BOOL,
    speed=NUMBER,
    yes=BOOL,
    var_overrides=KEY_MAP,
    targets_file=KEY,
    cwd=KEY,
    user=ID,
    pid=INT,
    version=KEY,
    gate=record(
        decision=ID,
        reasons=TEXTS,
        critical=record(passed=INT, total=INT, percent=NUMBER),
        total=record(passed=INT, total=INT, percent=NUMBER),
    ),
    gate_override=TEXT,
    gate_caution=BOOL,
    drill=record(fail_at=ID, breach=ID, live=BOOL, at=KEY, wave=INT),
    checkpoints=records(slot=KEY, offset_s=NUMBER, review=BOOL),
)
declare(
    "launch_resumed",
    "A process took the journal over to go on.",
    user=ID,
    pid=INT,
    torn_lines_dropped=INT,
    in_flight=ID,
    runbook_sha256=KEY,
)
declare(
    "gate_refused",
    "The go/no-go gate said NO-GO and nothing ran.",
    decision=ID,
    reasons=TEXTS,
)
declare(
    "launch_held",
    "A person paused after go-live: the timeline waits here, guards keep watching.",
    reason=REASON,
    guards=IDS,
    still_stopping=IDS,
)
declare("launch_unheld", "The hold ended; the launch goes on.", user=ID)
declare(
    "launch_paused",
    "The launch stopped, resumable with `launchctl resume`.",
    reason=REASON,
    journal=KEY,
    still_stopping=IDS,
)
declare(
    "launch_finished",
    "The launch ended; its status is a runbook.errors.Outcome and exit_code its code.",
    status=STATUS,
    exit_code=required(INT),
)
declare("monitoring_started", "After the last step, guards watch until.", until=required(TIME))
declare("monitoring_finished", "Monitoring ended, and why.", reason=REASON)
declare(
    "notification",
    "A milestone message, as sent to every channel.",
    after_the_fact=True,
    message=required(TEXT),
    milestone=required(ID),
    guard=record(id=ID, value=VALUE, threshold=KEY, query=TEXT, baseline=NUMBER, limit=NUMBER),
)
declare(
    "notification_failed",
    "A channel could not be reached (after retries).",
    after_the_fact=True,
    channel=ID,
    error=REASON,
)

# -- steps -------------------------------------------------------------------------------------
declare(
    "step_started",
    "A step (or one attempt of it) began.",
    step=STEP,
    title=TEXT,
    offset=KEY,
    planned=TIME,
    late_s=NUMBER,
    attempt=INT,
    target=ID,
    hosts=INT,
    waves=HOST_BATCHES,
    resumed=BOOL,
)
declare(
    "step_failed",
    "A step failed; what happens next follows on_failure.",
    step=STEP,
    status=ID,
    reason=REASON,
)
declare(
    "step_finished",
    "A step ended: ok, failed (continued or not) or skipped.",
    after_the_fact=True,
    step=STEP,
    status=STATUS,
    reason=REASON,
    continued=BOOL,
    planned=TIME,
)
declare("step_interrupted", "A step's work was stopped by a preemption.", step=STEP, reason=REASON)
declare(
    "work_abandoned",
    "Interrupted work did not stop in time; the rollback goes on without it.",
    reason=REASON,
)
declare(
    "wait_started",
    "A step's soak began, or (with ``wave``) the hold after a wave of a step in waves.",
    seconds=required(NUMBER),
    wave=INT,
    of=INT,
)
declare(
    "command_finished",
    "A command ended on one host: exit, duration, tail and why it failed.",
    after_the_fact=True,
    host=required(ID),
    command=required(TEXT),
    exit_code=INT,
    duration_s=NUMBER,
    timed_out=BOOL,
    interrupted=BOOL,
    error=REASON,
    killed=REASON,
    tail=TEXTS,
    status=ID,
    reason=REASON,
    wave=INT,
)
declare(
    "check_result",
    "One evaluation of one criterion: pass, fail, inconclusive or not-evaluated.",
    after_the_fact=True,
    kind=required(ID),
    subject=required(TEXT),
    status=required(ID),
    value=VALUE,
    reason=REASON,
    attempt=INT,
    duration_s=NUMBER,
    host=ID,
    wave=INT,
    of=INT,
)
# -- fan-out: hosts and waves ------------------------------------------------------------------
_HOST = {"host": required(ID), "wave": INT}
declare(
    "host_started",
    "One host of a fan-out step (launch or rollback) is about to run its command; written "
    "before it starts, so resume knows the host may have run it.",
    **_HOST,
)
declare(
    "host_finished",
    "One host of a fan-out step ended: ok, failed or interrupted; ``recovered`` when resume "
    "took the result from the command's own record on the host; ``never_started`` when the "
    "host could not be reached to start it (nothing ran there: a rollback leaves it alone).",
    after_the_fact=True,
    **_HOST,
    status=STATUS,
    exit_code=INT,
    reason=REASON,
    recovered=KEY,
    never_started=BOOL,
)
_WAVE = {"wave": required(INT), "of": required(INT)}
declare(
    "wave_started",
    "A wave of a step in waves began (or, in a rollback, a wave of hosts began to be undone).",
    hosts=IDS,
    resumed=IDS,
    **_WAVE,
)
declare(
    "wave_finished",
    "A wave ended: how many hosts were ok, which failed or never started, and why it stops the "
    "rollout when it does.",
    after_the_fact=True,
    **_WAVE,
    status=STATUS,
    ok=INT,
    failed=IDS,
    not_started=IDS,
    reason=REASON,
)
declare(
    "output",
    "A line of command output, shown live; not journaled.",
    journaled=False,
    host=ID,
    line=required(TEXT),
)

# -- questions ---------------------------------------------------------------------------------
declare(
    "confirm_requested",
    "A step's confirmation was asked.",
    step=STEP,
    question=required(TEXT),
    timeout_s=NUMBER,
    on_timeout=ID,
)
declare(
    "awaiting_answer",
    "A question another terminal may answer is waiting (launchctl approve).",
    kind=ID,
    question=TEXT,
    timeout_s=NUMBER,
    on_timeout=ID,
)
declare(
    "confirm_answered",
    "A confirmation was answered: by whom and how (terminal, second-terminal, --yes, timeout).",
    step=STEP,
    question=TEXT,
    answer=ID,
    by=ID,
    how=ID,
)
declare(
    "question_withdrawn",
    "A question was closed unanswered because the launch's course changed.",
    kind=ID,
    reason=REASON,
)
declare(
    "approval_ignored",
    "A second terminal's answer arrived for no waiting confirmation.",
    step=STEP,
    by=ID,
    reason=REASON,
)
declare(
    "operator_decision",
    "A person (or the headless rules) answered a question other than a confirmation.",
    kind=required(ID),
    question=required(TEXT),
    answer=required(ID),
    user=ID,
    how=ID,
)

# -- guards ------------------------------------------------------------------------------------
declare(
    "guard_planned",
    "A guard as a dry run or plan describes it.",
    guard=GUARD,
    query=TEXT,
    threshold=KEY,
    window=KEY,
    opens=TIME,
    closes=TIME,
    then=ID,
    baseline=KEY,
)
declare(
    "guards_anchored",
    "Go-live happened: guard windows given in T+ hang on this moment.",
    anchor=TIME,
)
declare(
    "guard_window_opened",
    "A guard started watching; ``limit`` is what a threshold relative to the baseline came to.",
    guard=GUARD,
    until=TIME,
    threshold=KEY,
    limit=NUMBER,
)
declare("guard_window_closed", "A guard's window closed.", guard=GUARD)
declare(
    "guard_sample",
    "One sample of a guard: its value and status.",
    after_the_fact=True,
    guard=GUARD,
    value=VALUE,
    status=required(ID),
    reason=REASON,
)
_GUARD_VALUE = {"guard": GUARD, "value": VALUE, "threshold": KEY}
declare("guard_breach", "A breach began (not every breaching sample).", **_GUARD_VALUE)
declare("guard_recovered", "A breach ended before it held long enough.", **_GUARD_VALUE)
_VERDICT = {
    **_GUARD_VALUE,
    "action": ID,
    "reason": REASON,
    "held_s": NUMBER,
    "limit": NUMBER,
    "baseline": NUMBER,
}
declare("guard_triggered", "A breach held long enough: the guard's verdict.", **_VERDICT)
declare("guard_inconclusive", "Too many samples in a row told nothing: ask.", **_VERDICT)

declare(
    "baseline_measured",
    "A relative threshold's baseline, measured once: the query's average over its window "
    "(``value``, or ``reason`` why none), the wall-clock stretch it covers, and who judges by it.",
    query=required(TEXT),
    window=required(KEY),
    value=NUMBER,
    status=ID,
    reason=REASON,
    points=INT,
    start=TIME,
    end=TIME,
    fetch_s=NUMBER,
    used_by=IDS,
)

declare(
    "checkpoint_result",
    "One post-launch checkpoint (`launchctl watch`/`checkpoint`): its slot, verdict, each check "
    "against its baseline, and the next slot.",
    slot=required(KEY),
    due=TIME,
    review=BOOL,
    last=BOOL,
    status=STATUS,
    reason=REASON,
    late_s=NUMBER,
    checks=records(
        kind=ID,
        subject=TEXT,
        status=ID,
        value=VALUE,
        reason=REASON,
        expect=KEY,
        baseline=NUMBER,
        ratio=NUMBER,
    ),
    then=ID,
    next=KEY,
    next_due=TIME,
)

# -- rollback ----------------------------------------------------------------------------------
declare(
    "rollback_requested",
    "Someone asked for a rollback (second terminal or `launchctl rollback`).",
    reason=REASON,
    user=ID,
    by=ID,
    forced_past_no_return=ID,
    pid=INT,
)
declare(
    "rollback_refused",
    "A rollback request arrived past the point of no return without --force-past-no-return.",
    reason=REASON,
    by=ID,
    why=REASON,
)
for _remedy, _name in (("rollback", "rollback"), ("roll_forward", "roll-forward")):
    declare(
        f"{_remedy}_started",
        f"The {_name} sequence began: why, what triggered it, which steps apply.",
        reason=REASON,
        trigger=KEY,
        steps=IDS,
        forced_past_no_return_by=ID,
    )
    declare(
        f"{_remedy}_step_started",
        f"A {_name} step began; ``waves`` (last first) when it undoes only the hosts ``undoes`` "
        "touched.",
        step=STEP,
        title=TEXT,
        hosts=INT,
        waves=HOST_BATCHES,
        wave_numbers=INTS,
        undoes=ID,
    )
    declare(
        f"{_remedy}_step_finished",
        f"A {_name} step ended: ok, failed or skipped.",
        step=STEP,
        status=STATUS,
        reason=REASON,
        attempts=INT,
    )
    declare(
        f"{_remedy}_finished",
        f"The {_name} sequence ended: complete or incomplete.",
        status=STATUS,
        duration_s=NUMBER,
        failed=IDS,
    )
declare("rollback_step_retry", "A rollback step is tried again.", step=STEP, attempt=INT)
declare(
    "point_of_no_return",
    "An irreversible step is about to run: from here a rollback would not undo the launch.",
    step=STEP,
    reason=REASON,
)
declare(
    "decision_needed",
    "Past the point of no return with no roll_forward: a person decides what happens.",
    reason=REASON,
    trigger=KEY,
)
declare(
    "remedy_preview",
    "A dry run says what a failure of this step would run.",
    step=STEP,
    remedy=ID,
    would_run=IDS,
    would_skip=IDS,
    person_decides=BOOL,
)

# -- drills ------------------------------------------------------------------------------------
declare(
    "drill_injected",
    "A drill injected its fault.",
    fault=TEXT,
    guard=ID,
    wave=INT,
)
declare(
    "drill_result",
    "The drill's figures: injection to rollback start, rollback duration.",
    status=STATUS,
    injection_to_rollback_s=NUMBER,
    rollback_duration_s=NUMBER,
    estimated_worst_case_s=NUMBER,
    launch_status=ID,
)

JOURNALED = frozenset(name for name, kind in EVENTS.items() if kind.journaled)


def event_type(name: str) -> EventType | None:
    return EVENTS.get(name)


def well_formed(event: object) -> bool:
    """A journaled event as launchctl writes it; anything else (garbled, forged, from a
    launchctl that declared it differently) is skipped like a torn line."""
    if not isinstance(event, dict) or not isinstance(event.get("event"), str):
        return False
    kind = EVENTS.get(event["event"])
    if kind is None:
        return all(
            spec.kind.check(event[name])
            for name, spec in ENVELOPE.items()
            if event.get(name) is not None
        ) and all(event.get(name) is not None for name, spec in ENVELOPE.items() if spec.required)
    return not any(p for p in kind.problems(event) if "is not declared" not in p)
