"""Where a command runs, apart from what runs: one interface, and the one runner behind it.

Step kinds never call subprocess or paramiko directly; they ask a ``Shell``.
Every shell is a ``Runner`` (the role invoke's ``Runner`` plays for Fabric's
``Remote``): the runner owns *when* — the deadline, cancellation, the kill and
the drain of late output — and a transport supplies only *how*: start a
command, read its output, notice its exit, kill it. So the local and SSH
shells cannot drift apart on what a timeout or a rollback does to a command.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from steps.cancel import CancelToken
from steps.results import CommandResult
from steps.shells.output import OutputCapture, TextFilter

OutputListener = Callable[[str, str], None]
"""Called with (host, line) for every line a command prints."""

KILL_GRACE_SECONDS = 2.0  # TERM, then KILL what is left after this long
CANCEL_GRACE_SECONDS = 0.5  # a rollback must start within a second of the decision
DRAIN_SECONDS = 1.0  # output still arriving after the exit (or the kill) gets this long
POLL_SECONDS = 0.1  # the cancel token and the deadline are looked at least this often


class Shell(Protocol):
    host: str

    def run(
        self,
        command: str,
        *,
        env: Mapping[str, str],
        timeout: float,
        cancel: CancelToken | None = None,
        on_output: OutputListener | None = None,
        output_filter: TextFilter | None = None,
    ) -> CommandResult:
        """Run ``command`` to completion, its deadline, or cancellation; never raises for the
        command's own failure. ``output_filter`` (secret masking) sees the output before it is
        split into lines, cut to length or shown."""
        ...

    def close(self) -> None: ...


class NotStarted(Exception):
    """The transport could not start the command. ``interrupted``: cancellation stopped it;
    ``certain``: it failed before anything was asked of the host (a connection refused, auth),
    so the command certainly never ran there (a rollback has nothing to undo on it)."""

    def __init__(self, reason: str, *, interrupted: bool = False, certain: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.interrupted = interrupted
        self.certain = certain


@dataclass
class Ending:
    """How a started command ended, as the transport reports it after the runner is done."""

    exit_code: int | None = None
    error: str | None = None
    killed: str | None = None  # what a kill found and did, where the transport can tell


class RunningCommand(ABC):
    """One started command, as a transport drives it. The runner calls ``pump`` on its own
    thread and everything else from the caller's thread."""

    @abstractmethod
    def pump(self) -> None:
        """Feed the command's output into its capture until end of output; must not raise."""

    @abstractmethod
    def wait_exit(self, seconds: float) -> bool:
        """True as soon as the command has exited; False after ``seconds`` otherwise."""

    @abstractmethod
    def kill(self, grace: float, why: str, *, cancelled: bool) -> None:
        """Stop the command and all it started: TERM, KILL after ``grace``. ``why`` is
        "timed out after 3s" or "cancelled", for the report of what could not be killed;
        after a cancel the kill must hurry (a rollback waits for it)."""

    @abstractmethod
    def ending(self) -> Ending:
        """The exit code, or why there is none (including what a kill could not do)."""

    @abstractmethod
    def close(self) -> None:
        """Release what the command held (pipes, channels); called once, last."""


class Runner(ABC):
    """The ``Shell`` protocol on top of a transport's ``start``."""

    host: str

    @abstractmethod
    def start(
        self,
        command: str,
        env: Mapping[str, str],
        capture: OutputCapture,
        timeout: float,
        cancel: CancelToken | None,
    ) -> RunningCommand:
        """Start ``command`` with ``env``, its output going to ``capture``; raise ``NotStarted``
        with a one-line reason when it cannot. ``timeout`` bounds the start too."""

    def run(
        self,
        command: str,
        *,
        env: Mapping[str, str],
        timeout: float,
        cancel: CancelToken | None = None,
        on_output: OutputListener | None = None,
        output_filter: TextFilter | None = None,
    ) -> CommandResult:
        started = time.monotonic()
        listener = (lambda line: on_output(self.host, line)) if on_output else None
        capture = OutputCapture(listener, text_filter=output_filter)
        try:
            running = self.start(command, env, capture, timeout, cancel)
        except NotStarted as refused:
            return CommandResult(
                command,
                self.host,
                None,
                time.monotonic() - started,
                error=None if refused.interrupted else refused.reason,
                interrupted=refused.interrupted,
                timeout=timeout,
                never_started=refused.certain and not refused.interrupted,
            )
        pump = threading.Thread(target=running.pump, name=f"output-{self.host}", daemon=True)
        pump.start()
        begun = time.monotonic()  # the timeout is the command's: connecting has its own limits
        try:
            timed_out, interrupted = _supervise(running, begun + timeout, timeout, cancel)
            pump.join(DRAIN_SECONDS)
            ending = running.ending()
        finally:
            running.close()
            capture.close()
        return CommandResult(
            command=command,
            host=self.host,
            exit_code=ending.exit_code,
            duration=time.monotonic() - started,
            tail=capture.tail,
            stdout=capture.text,
            timed_out=timed_out,
            interrupted=interrupted,
            error=ending.error,
            timeout=timeout,
            killed=ending.killed,
        )

    def close(self) -> None:  # noqa: B027 - most transports hold nothing between commands
        """Release what the shell holds between commands."""


def _supervise(
    running: RunningCommand, deadline: float, timeout: float, cancel: CancelToken | None
) -> tuple[bool, bool]:
    """Wait for the exit; at the deadline or on cancellation, kill. Returns (timed_out, interrupted)."""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            running.kill(KILL_GRACE_SECONDS, f"timed out after {timeout:g}s", cancelled=False)
            return True, False
        if cancel is not None and cancel.cancelled:
            running.kill(CANCEL_GRACE_SECONDS, "cancelled", cancelled=True)
            return False, True
        if running.wait_exit(min(remaining, POLL_SECONDS)):
            return False, False
