"""The runbook as frozen values: what the loader produces and every other package reads.

Nothing here does I/O. ``marks`` on a record locate its fields in the source
file, so later checks (``resume``, ``preflight``) can still point at a line.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

from runbook.comparison import Comparison
from runbook.schema.yaml_tree import Mark
from runbook.values import value

LOCAL = "local"


class OnFailure(StrEnum):
    ROLLBACK = "rollback"
    ASK = "ask"
    CONTINUE = "continue"


class GuardAction(StrEnum):
    ROLLBACK = "rollback"
    ASK = "ask"
    WARN = "warn"


class HostKeyPolicy(StrEnum):
    STRICT = "strict"
    ACCEPT_NEW = "accept-new"


def _marks() -> Mapping[str, Mark]:
    return field(default_factory=dict, compare=False, hash=False, repr=False)


@value
class Poll:
    """How a criterion is retried: once (``within`` None) or every ``every`` until ``within`` passes."""

    within: timedelta | None = None
    every: timedelta = timedelta(seconds=5)


@value
class Expect:
    """What a finished command must show to count as success."""

    exit: int = 0
    stdout_contains: str | None = None
    stdout_matches: str | None = None


@value
class BaselineWindow:
    """Where a relative threshold's baseline is measured: the query's average from ``start`` to
    ``end`` (T-offsets; T- hang on the scheduled T0, T+ on the actual go-live)."""

    start: timedelta = timedelta(minutes=-30)
    end: timedelta = timedelta(minutes=-5)


DEFAULT_BASELINE = BaselineWindow()


@value
class HttpCriterion:
    """An ``http`` check: ``url`` answers ``status`` (default any 2xx), its body holding
    ``body_contains``, polled until ``timeout``; once per host of target ``on`` when given."""

    url: str
    status: int | None = None
    body_contains: str | None = None
    timeout: timedelta = timedelta(seconds=10)
    on: str | None = None
    poll: Poll = Poll()
    marks: Mapping[str, Mark] = _marks()

    kind = "http"

    def subject(self) -> str:
        return self.url


@value
class PrometheusCriterion:
    """A ``prometheus`` check: ``query``'s value meets ``expect``, polled until ``timeout``."""

    query: str
    expect: Comparison
    timeout: timedelta = timedelta(seconds=10)
    poll: Poll = Poll()
    after: str | None = None  # the step after which the query has data (preflight knows)
    baseline: BaselineWindow | None = None  # set when ``expect`` is relative to the baseline
    marks: Mapping[str, Mark] = _marks()

    kind = "prometheus"
    on = None

    def subject(self) -> str:
        return self.query


@value
class CommandCriterion:
    """A ``command`` check: ``command`` exits with ``exit`` on target ``on``, polled until ``timeout``."""

    command: str
    on: str = LOCAL
    exit: int = 0
    timeout: timedelta = timedelta(seconds=60)
    poll: Poll = Poll()
    marks: Mapping[str, Mark] = _marks()

    kind = "command"

    def subject(self) -> str:
        return self.command


Criterion = HttpCriterion | PrometheusCriterion | CommandCriterion


@value
class MaxFail:
    """Hosts allowed to fail: a count, or a percentage of the target's hosts (rounded down)."""

    count: int | None = 0
    percent: float | None = None

    def allowed(self, hosts: int) -> int:
        if self.percent is not None:
            return math.floor(hosts * self.percent / 100 + 1e-9)
        return self.count or 0

    def __str__(self) -> str:
        return f"{self.percent:g}%" if self.percent is not None else str(self.count)


@value
class WaveSize:
    """One entry of ``waves:``: how many of the hosts are done once this wave ends (cumulative),
    as a count or a percentage. ``runbook.waves`` turns a list of them into batches of hosts."""

    count: int | None = None
    percent: float | None = None

    def __str__(self) -> str:
        return f"{self.percent:g}%" if self.percent is not None else str(self.count)


@value
class Waves:
    """``waves: [1, 10%, 100%]`` as written; ``marks`` locate each size for messages."""

    sizes: tuple[WaveSize, ...]
    marks: tuple[Mark, ...] = field(default=(), compare=False, hash=False, repr=False)

    def __str__(self) -> str:
        return "[" + ", ".join(str(size) for size in self.sizes) + "]"


@value
class BetweenWaves:
    """What happens after each wave but the last: checks, then a hold with the guards watching."""

    hold: timedelta = timedelta(0)
    check: tuple[Criterion, ...] = ()
    marks: Mapping[str, Mark] = _marks()


@value
class Action:
    """What a launch step and a rollback step share: an optional command with its checks.

    ``parallel`` and ``max_fail`` (None: the target's) bound the command's fan-out over an
    SSH target's hosts.
    """

    id: str
    name: str | None = None
    run: str | None = None
    on: str = LOCAL
    timeout: timedelta = timedelta(minutes=10)
    env: Mapping[str, str] = field(default_factory=dict, hash=False)
    expect: Expect = Expect()
    check: tuple[Criterion, ...] = ()
    notify: str | None = None
    parallel: int | None = None
    max_fail: MaxFail | None = None
    marks: Mapping[str, Mark] = _marks()

    @property
    def title(self) -> str:
        return self.name or self.id


class ConfirmTimeout(StrEnum):
    ROLLBACK = "rollback"
    PAUSE = "pause"
    CONTINUE = "continue"


@value
class Confirm:
    """A question asked before a step; unanswered for ``timeout``, ``on_timeout`` applies."""

    question: str
    timeout: timedelta | None = None
    on_timeout: ConfirmTimeout = ConfirmTimeout.PAUSE


@value
class Step(Action):
    """A step of the launch, run at its T-offset ``at``, after ``confirm`` when it asks."""

    at: timedelta = timedelta(0)
    confirm: Confirm | None = None
    irreversible: str | None = None  # why this step is the point of no return; None: reversible
    wait: timedelta | None = None
    on_failure: OnFailure = OnFailure.ROLLBACK
    waves: Waves | None = None  # None: the target's
    between_waves: BetweenWaves | None = None  # None: the target's


@value
class RollbackStep(Action):
    """A step of the ``rollback:`` or ``roll_forward:`` sequence."""

    if_started: str | None = None
    if_not_started: str | None = None
    retries: int = 0
    retry_delay: timedelta = timedelta(seconds=5)


@value
class Guard:
    """A Prometheus ``query`` watched every ``every`` while ``during`` is open; ``breach``
    held for ``hold`` (or too many inconclusive answers) leads to ``then``."""

    id: str
    query: str
    breach: Comparison
    name: str | None = None
    every: timedelta = timedelta(seconds=15)
    hold: timedelta = timedelta(0)
    during: tuple[timedelta, timedelta] | None = None
    then: GuardAction = GuardAction.ROLLBACK
    inconclusive_limit: int = 3
    timeout: timedelta = timedelta(seconds=10)
    after: str | None = None  # its data appears only once this step has finished
    baseline: BaselineWindow | None = None  # set when ``breach`` is relative to the baseline
    marks: Mapping[str, Mark] = _marks()


class CheckpointAction(StrEnum):
    NOTIFY = "notify"
    ASK = "ask"


@value
class Cadence:
    """One entry of the checkpoint schedule: a checkpoint every ``every`` after ``start`` (not at
    it), up to and including ``until``; T+ offsets from the launch's go-live."""

    every: timedelta
    until: timedelta
    start: timedelta = timedelta(0)
    marks: Mapping[str, Mark] = _marks()

    def offsets(self) -> list[timedelta]:
        count = int((self.until - self.start) / self.every + 1e-9)
        return [self.start + self.every * n for n in range(1, count + 1)]


@value
class Slot:
    """One checkpoint: when (after go-live), and whether it is a formal review."""

    offset: timedelta
    review: bool = False


@value
class Checkpoints:
    """The watch after the launch: ``check`` at every slot of ``schedule`` and at each review;
    a failure notifies (``then: notify``) or asks a person (``then: ask``), never rolls back."""

    check: tuple[Criterion, ...]
    schedule: tuple[Cadence, ...] = ()
    reviews: tuple[timedelta, ...] = ()
    then: CheckpointAction = CheckpointAction.NOTIFY
    marks: Mapping[str, Mark] = _marks()

    def slots(self) -> tuple[Slot, ...]:
        """Every checkpoint in time order; a review that falls on a scheduled one marks it."""
        offsets = {offset for cadence in self.schedule for offset in cadence.offsets()}
        offsets |= set(self.reviews)
        return tuple(Slot(offset, offset in self.reviews) for offset in sorted(offsets))


@value
class Target:
    """Where commands run: this machine (``local``) or the ``hosts`` of an SSH target,
    ``parallel`` at a time, ``max_fail`` of them allowed to fail, in ``waves`` when given."""

    name: str
    transport: str = LOCAL
    hosts: tuple[str, ...] = ()
    user: str | None = None
    port: int | None = None
    parallel: int = 10
    max_fail: MaxFail = MaxFail()
    waves: Waves | None = None  # the default of fan-out steps on this target
    between_waves: BetweenWaves | None = None
    marks: Mapping[str, Mark] = _marks()

    @property
    def is_local(self) -> bool:
        return self.transport == LOCAL


LOCAL_TARGET = Target(name=LOCAL)


@value
class SshSettings:
    """The runbook's ``ssh:`` section: OpenSSH config, known hosts, host key policy, connect timeout."""

    config: str | None = None
    known_hosts: str = "~/.ssh/known_hosts"
    host_key_policy: HostKeyPolicy = HostKeyPolicy.STRICT
    connect_timeout: timedelta = timedelta(seconds=10)


MILESTONES = {
    "launch_started": "the launch began",
    "go_live": "the first step at or after T+0 finished",
    "point_of_no_return": "an irreversible step started",
    "guard_warning": "a `then: warn` guard breached",
    "guard_breach": "a `then: rollback` or `then: ask` guard breached (or went blind)",
    "decision_needed": "past the point of no return, a person must decide",
    "rollback_started": "the rollback sequence began",
    "rollback_finished": "the rollback sequence ended (complete or incomplete)",
    "roll_forward_started": "the roll-forward sequence began",
    "roll_forward_finished": "the roll-forward sequence ended",
    "launch_finished": "the launch ended, however it ended",
    "drill": "a drill's verdict and figures",
    "checkpoint_failed": "a post-launch checkpoint failed or could not tell (`launchctl watch`/`checkpoint`)",
    "checkpoint_review": "a formal review is due (`review:`), with its checkpoint's results",
    "declared_stable": "the last checkpoint passed: the launch is declared stable",
}
"""The messages launchctl sends by itself; a channel's ``milestones:`` picks among them. A step's
own ``notify:`` always goes to every channel."""


@value
class NotifyChannel:
    """A Slack or webhook ``url`` that hears the ``milestones`` it names (None: all) and every step's ``notify``."""

    kind: str  # "slack" | "webhook"
    url: str
    milestones: frozenset[str] | None = None  # None: every built-in milestone

    def wants(self, milestone: str) -> bool:
        return milestone == "step" or self.milestones is None or milestone in self.milestones


@value
class VarDecl:
    """A ``vars`` entry as written: its default (None: must come from ``--var``) and pattern."""

    default: str | None
    pattern: str | None = None


@value
class Runbook:
    """A whole runbook as loaded: its steps, guards, rollback and roll-forward sequences,
    targets, notify channels and checkpoints, with the vars it was loaded with."""

    name: str
    source: Path
    content: bytes = field(repr=False)  # the file as read; resume compares its hash
    steps: tuple[Step, ...]
    version: int = 1
    t0: datetime | None = None
    gate: Path | None = None
    vars: Mapping[str, str] = field(default_factory=dict, hash=False)
    var_patterns: Mapping[str, str] = field(default_factory=dict, hash=False)
    secrets: tuple[str, ...] = ()
    targets: Mapping[str, Target] = field(default_factory=dict, hash=False)
    ssh: SshSettings = SshSettings()
    prometheus_url: str | None = None
    scrape_interval: timedelta | None = None  # as the runbook says; preflight asks Prometheus
    notify: tuple[NotifyChannel, ...] = ()
    guards: tuple[Guard, ...] = ()
    rollback: tuple[RollbackStep, ...] = ()
    roll_forward: tuple[RollbackStep, ...] = ()
    checkpoints: Checkpoints | None = None
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def content_sha256(self) -> str:
        """The file's SHA-256, worked out when asked: hashlib loads OpenSSL (about 8 ms), which
        ``validate`` and ``plan`` never need."""
        import hashlib

        return hashlib.sha256(self.content).hexdigest()

    def target(self, name: str) -> Target:
        if name == LOCAL and LOCAL not in self.targets:
            return LOCAL_TARGET
        return self.targets[name]

    def fan_out_target(self, action: Action) -> Target:
        """The action's target with the action's own ``parallel`` and ``max_fail`` applied."""
        target = self.target(action.on)
        if target.is_local or (action.parallel is None and action.max_fail is None):
            return target
        return replace(
            target,
            parallel=action.parallel if action.parallel is not None else target.parallel,
            max_fail=action.max_fail if action.max_fail is not None else target.max_fail,
        )

    def waves_of(self, step: Step) -> tuple[Waves | None, BetweenWaves | None]:
        """A step's waves and what happens between them: its own, else its target's; none for a
        step without ``run`` or on a local target (nothing fans out)."""
        target = self.target(step.on)
        if step.run is None or target.is_local:
            return None, None
        return step.waves or target.waves, step.between_waves or target.between_waves

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    @property
    def irreversible_steps(self) -> tuple[Step, ...]:
        return tuple(step for step in self.steps if step.irreversible is not None)

    @property
    def step_ids(self) -> tuple[str, ...]:
        return tuple(step.id for step in self.steps)
