"""``SshShell``: one host's commands over the launch's pooled SSH connection.

Each command gets its own channel on the host's one connection. On the host it
runs under ``/bin/sh`` as the leader of its own process group (an OpenSSH
session already is one; elsewhere ``setsid -w`` makes one), which first prints
its group id on a marker line we strip. So a command past its deadline, or
cancelled by a rollback, is killed *on the host* with all its children (TERM,
then KILL after a grace) over a second channel, not merely abandoned. The
environment and the command go over the channel's stdin as a script
(``export NAME='value'`` lines first): never on a command line where ``ps``
would show them, and without relying on sshd's ``AcceptEnv``.
``CommandResult.command`` is only ever the command itself.
"""

from __future__ import annotations

import re
import secrets as random_tokens
import shlex
import time
from collections.abc import Mapping
from typing import Any

from steps.cancel import CancelToken
from steps.output import OutputCapture
from steps.results import CommandResult
from steps.shell import OutputListener
from steps.ssh_connect import short
from steps.ssh_pool import Endpoint, Interrupted, SshConnection, SshError, SshPool

KILL_GRACE_SECONDS = 2.0
CANCEL_GRACE_SECONDS = 0.5  # a rollback must start within a second of the decision
DRAIN_SECONDS = 1.0
POLL_SECONDS = 0.1  # the cancel token is looked at least this often
MARKER_WAIT_SECONDS = 0.5
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MARKER = f"__launchctl_pgid_{random_tokens.token_hex(4)}__"

# The payload (exports + command) arrives on stdin; the shell reads it from there as a script
# (`. /dev/fd/3`) while the commands' own stdin is /dev/null. The shell's PID must be its
# process group id: under OpenSSH the session already is its own group (read from /proc, no
# fork); elsewhere `setsid -w` makes one. The marker line tells us that id.
_BODY = f'echo "{MARKER} $$"; exec 3<&0 </dev/null; . /dev/fd/3'
_PREAMBLE = (
    'read -r _ _ _ _ g _ 2>/dev/null </proc/$$/stat; if [ "$g" != "$$" ] '
    "&& command -v setsid >/dev/null 2>&1; then exec setsid -w /bin/sh -c "
    + shlex.quote(_BODY)
    + " sh; fi; "
    + _BODY
)
_LAUNCH = "exec /bin/sh -c " + shlex.quote(_PREAMBLE) + " sh"

# TERM the group; wait until no live (non-zombie) member is left, or the grace is over; KILL,
# and wait (briefly) for the kernel to finish them, so "killed" means gone when we return.
# Zombies count as gone: their parent died with the group and init reaps them when it will.
_KILL_SCRIPT = """p=PGID
kill -s TERM -- -$p 2>/dev/null || exit 0
alive() {
  if command -v ps >/dev/null 2>&1; then
    ps -e -o pgid= -o stat= 2>/dev/null | awk -v p="$p" '$1 == p && $2 !~ /^Z/ { f = 1 } END { exit !f }'
  else
    kill -s 0 -- -$p 2>/dev/null
  fi
}
i=0
while [ $i -lt TICKS ] && alive; do sleep 0.1; i=$((i+1)); done
kill -s KILL -- -$p 2>/dev/null || exit 0
i=0
while [ $i -lt 10 ] && alive; do sleep 0.1; i=$((i+1)); done
exit 0
"""


class SshShell:
    """The ``Shell`` protocol for one host of an SSH target. Opens nothing until ``run``."""

    def __init__(
        self, pool: SshPool, host: str, *, user: str | None = None, port: int | None = None
    ) -> None:
        self.pool = pool
        self.host = host
        self.endpoint = Endpoint(host, user, port)

    def run(
        self,
        command: str,
        *,
        env: Mapping[str, str],
        timeout: float,
        cancel: CancelToken | None = None,
        on_output: OutputListener | None = None,
    ) -> CommandResult:
        started = time.monotonic()

        def failed(reason: str, interrupted: bool = False) -> CommandResult:
            return CommandResult(
                command,
                self.host,
                None,
                time.monotonic() - started,
                error=None if interrupted else reason,
                interrupted=interrupted,
                timeout=timeout,
            )

        bad = [name for name in env if not _NAME.match(name)]
        if bad:
            return failed(f"{self.host}: env names are not shell variable names: {', '.join(bad)}")
        try:
            connection, channel = self._channel(cancel)
        except Interrupted:
            return failed("interrupted", interrupted=True)
        except SshError as error:
            return failed(error.reason)
        if cancel is not None and cancel.cancelled:
            channel.close()
            return failed("interrupted", interrupted=True)
        listener = (lambda line: on_output(self.host, line)) if on_output else None
        capture = OutputCapture(listener)
        run = _RemoteRun(self.host, connection, channel, _MarkerFilter(capture))
        try:
            try:
                run.start(_payload(env, command))
            except Exception as exc:
                return failed(f"{self.host}: could not start the command: {short(exc)}")
            outcome = run.wait(timeout, cancel)
        finally:
            channel.close()
            capture.close()
        return CommandResult(
            command=command,
            host=self.host,
            exit_code=outcome.exit_code,
            duration=time.monotonic() - started,
            tail=capture.tail,
            stdout=capture.text,
            timed_out=outcome.timed_out,
            interrupted=outcome.interrupted,
            error=outcome.error,
            timeout=timeout,
        )

    def _channel(self, cancel: CancelToken | None) -> tuple[SshConnection, Any]:
        """A session channel on the pooled connection; a connection found dead is replaced once."""
        for attempt in (1, 2):
            connection = self.pool.connection(self.endpoint, cancel)
            try:
                channel = connection.transport.open_session(timeout=self.pool.paths.connect_timeout)
            except Exception as exc:
                self.pool.discard(connection)
                if attempt == 2:
                    raise SshError(
                        "session",
                        f"{self.host}: cannot open a session: {exc or type(exc).__name__}",
                    ) from None
                continue
            channel.set_combine_stderr(True)
            return connection, channel
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Nothing to do: the launch's pool owns the connection."""


class _Outcome:
    def __init__(self) -> None:
        self.exit_code: int | None = None
        self.timed_out = False
        self.interrupted = False
        self.error: str | None = None


class _RemoteRun:
    """One command on one channel: stream output, wait for the exit status or kill on the host."""

    def __init__(
        self, host: str, connection: SshConnection, channel: Any, output: _MarkerFilter
    ) -> None:
        self.host = host
        self.connection = connection
        self.channel = channel
        self.output = output
        self.outcome = _Outcome()
        self.started = time.monotonic()

    def start(self, payload: bytes) -> None:
        self.started = time.monotonic()
        self.channel.settimeout(POLL_SECONDS)
        self.channel.exec_command(_LAUNCH)
        self.channel.sendall(payload)
        self.channel.shutdown_write()

    def wait(self, timeout: float, cancel: CancelToken | None) -> _Outcome:
        channel, outcome = self.channel, self.outcome
        deadline = self.started + timeout
        eof = False
        drain_until: float | None = None
        while True:
            now = time.monotonic()
            if channel.exit_status_ready():
                # Like LocalShell: the command is over when its shell exits; a background
                # child that keeps the output open gets a short drain, not our patience.
                if drain_until is None:
                    drain_until = now + DRAIN_SECONDS
                if eof or now >= drain_until:
                    break
            elif cancel is not None and cancel.cancelled:
                outcome.interrupted = True
                self._kill(CANCEL_GRACE_SECONDS, "cancelled")
                return outcome
            elif now >= deadline:
                outcome.timed_out = True
                self._kill(KILL_GRACE_SECONDS, f"timed out after {timeout:g}s")
                return outcome
            if eof:
                channel.status_event.wait(max(0.001, min(POLL_SECONDS, deadline - now)))
                continue
            try:
                data = channel.recv(65536)
            except TimeoutError:
                continue
            except (OSError, EOFError):
                data = b""
            if data:
                self.output.feed(data)
            else:
                eof = True
        status = channel.exit_status if channel.exit_status_ready() else -1
        if status == -1 and not self.connection.alive:
            outcome.error = f"{self.host}: connection lost while the command ran"
        elif status == -1:
            outcome.error = f"{self.host}: the command ended without an exit status"
        else:
            outcome.exit_code = status
        return outcome

    def _kill(self, grace: float, why: str) -> None:
        """TERM the remote process group, KILL what is left after ``grace``: all on the host."""
        pgid = self._pgid()
        problem = None
        if pgid is None:
            problem = "the command never reported its process group; the channel was closed"
        elif not self.connection.alive:
            problem = "the connection is lost, so the command could not be killed on the host"
        else:
            problem = self._kill_group(pgid, grace)
        if problem:
            self.outcome.error = f"{self.host}: {why}; {problem}"

    def _pgid(self) -> int | None:
        """The group id from the marker line, waiting briefly when the deadline came first."""
        until = time.monotonic() + MARKER_WAIT_SECONDS
        while self.output.pgid is None and time.monotonic() < until:
            try:
                data = self.channel.recv(65536)
            except TimeoutError:
                continue
            except (OSError, EOFError):
                break
            if not data:
                break
            self.output.feed(data)
        return self.output.pgid

    def _kill_group(self, pgid: int, grace: float) -> str | None:
        ticks = max(1, round(grace / 0.1))
        script = _KILL_SCRIPT.replace("PGID", str(pgid)).replace("TICKS", str(ticks))
        try:
            killer = self.connection.transport.open_session(timeout=KILL_GRACE_SECONDS)
            try:
                killer.exec_command("exec /bin/sh -c " + shlex.quote(script))
                finished = killer.status_event.wait(1.5 * grace + 3)
            finally:
                killer.close()
        except Exception as exc:
            return f"could not kill it on the host: {exc or type(exc).__name__}"
        return None if finished else "the kill on the host did not confirm in time"


class _MarkerFilter:
    """Passes output through, except the first line carrying our process-group marker.

    Lines a login script prints before it go through as output; the marker's
    number is the remote process group to kill.
    """

    def __init__(self, capture: OutputCapture) -> None:
        self.capture = capture
        self.pgid: int | None = None
        self._pending = b""
        self._prefix = MARKER.encode() + b" "

    def feed(self, data: bytes) -> None:
        if self.pgid is not None:
            self.capture.feed(data)
            return
        self._pending += data
        while self.pgid is None and b"\n" in self._pending:
            line, self._pending = self._pending.split(b"\n", 1)
            if line.startswith(self._prefix) and line[len(self._prefix) :].strip().isdigit():
                self.pgid = int(line[len(self._prefix) :])
            else:
                self.capture.feed(line + b"\n")
        if self.pgid is not None and self._pending:
            rest, self._pending = self._pending, b""
            self.capture.feed(rest)


def _payload(env: Mapping[str, str], command: str) -> bytes:
    exports = "".join(f"export {name}={shlex.quote(value)}\n" for name, value in env.items())
    return (exports + command + "\n").encode()
