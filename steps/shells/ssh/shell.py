"""``SshShell``: one host's commands over the launch's pooled SSH connection.

Each command gets its own channel on the host's one connection. On the host it
runs under ``/bin/sh`` as the leader of its own session and process group (an
OpenSSH session already is one; elsewhere ``setsid -w`` makes one), which
first prints its group id on a marker line we strip, and exports a token that
everything it starts inherits. So a command past its deadline, or cancelled by
a rollback, is killed *on the host* with everything it started, including
children that left with ``setsid`` (``steps.shells.ssh.kill``), and the result
says what was killed. The environment and the command go over the channel's
stdin as a script (``export NAME='value'`` lines first): never on a command
line where ``ps`` would show them, and without relying on sshd's ``AcceptEnv``.
``CommandResult.command`` is only ever the command itself.

Every wait is bounded (``steps.shells.ssh.deadlines``): the connection's
handshake by ``connect_timeout`` phase by phase, the channel open and the
``exec`` request by ``connect_timeout`` or the step's ``timeout`` (the smaller),
the command by the step's ``timeout``, the kill by its own budget; the cancel
token preempts each of them.
"""

from __future__ import annotations

import re
import secrets as random_tokens
import shlex
import threading
from collections.abc import Mapping
from typing import Any

from steps.cancel import CancelToken
from steps.shells.base import Ending, NotStarted, Runner, RunningCommand
from steps.shells.output import OutputCapture
from steps.shells.ssh import deadlines
from steps.shells.ssh.connect import short
from steps.shells.ssh.kill import (
    CONFIRM_MARGIN_SECONDS,
    TOKEN_VARIABLE,
    RemoteKill,
    new_token,
)
from steps.shells.ssh.pool import Endpoint, Interrupted, SshConnection, SshError, SshPool

MARKER_WAIT_SECONDS = 0.5
CANCEL_KILL_SECONDS = 1.0  # all a kill after a cancel may take: the rollback is waiting
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MARKER = f"__launchctl_pgid_{random_tokens.token_hex(4)}__"

# The payload (exports + command) arrives on stdin; the shell reads it from there as a script
# (`. /dev/fd/3`) while the commands' own stdin is /dev/null. The shell's PID must be its
# session and process group id: under OpenSSH the session already is (read from /proc, no
# fork); elsewhere `setsid -w` makes one. The marker line tells us that id.
_BODY = f'echo "{MARKER} $$"; exec 3<&0 </dev/null; . /dev/fd/3'
_PREAMBLE = (
    'read -r _ _ _ _ g _ 2>/dev/null </proc/$$/stat; if [ "$g" != "$$" ] '
    "&& command -v setsid >/dev/null 2>&1; then exec setsid -w /bin/sh -c "
    + shlex.quote(_BODY)
    + " sh; fi; "
    + _BODY
)


def launch_command(token: str) -> str:
    """The ``exec`` request's command: the wrapper above, with the run's token exported."""
    script = f"{TOKEN_VARIABLE}={token}; export {TOKEN_VARIABLE}; {_PREAMBLE}"
    return "exec /bin/sh -c " + shlex.quote(script) + " sh"


class SshShell(Runner):
    """The ``Shell`` protocol for one host of an SSH target. Opens nothing until ``run``."""

    def __init__(
        self, pool: SshPool, host: str, *, user: str | None = None, port: int | None = None
    ) -> None:
        self.pool = pool
        self.host = host
        self.endpoint = Endpoint(host, user, port)

    def start(
        self,
        command: str,
        env: Mapping[str, str],
        capture: OutputCapture,
        timeout: float,
        cancel: CancelToken | None,
    ) -> RunningCommand:
        bad = [name for name in env if not _NAME.match(name)]
        if bad:
            raise NotStarted(
                f"{self.host}: env names are not shell variable names: {', '.join(bad)}",
                certain=True,
            )
        round_trip = min(self.pool.paths.connect_timeout, timeout)
        try:
            connection, channel = self._channel(cancel, round_trip)
        except (Interrupted, deadlines.PhaseCancelled):
            raise NotStarted("interrupted", interrupted=True) from None
        except SshError as error:  # no connection or no channel: nothing was asked of the host
            raise NotStarted(error.reason, certain=True) from None
        token = new_token()
        run = _RemoteRun(self, connection, channel, _MarkerFilter(capture), token)
        run.payload = _payload(env, command)
        try:
            deadlines.bounded(
                run.request_exec,
                phase=deadlines.EXEC,
                seconds=round_trip,
                cancel=cancel,
                abort=channel.close,
            )
        except deadlines.PhaseCancelled:
            channel.close()
            raise NotStarted("interrupted", interrupted=True) from None
        except deadlines.PhaseExpired as expired:
            channel.close()
            raise NotStarted(
                f"{self._where(connection)}: {expired.phase}: no answer within "
                f"{expired.seconds:g}s; the channel was closed (the host never confirmed "
                "starting the command, so there was nothing to kill)"
            ) from None
        except Exception as exc:
            channel.close()
            raise NotStarted(f"{self.host}: could not start the command: {short(exc)}") from None
        return run

    def _where(self, connection: SshConnection) -> str:
        return f"{self.host} ({connection.address})"

    def _channel(self, cancel: CancelToken | None, seconds: float) -> tuple[SshConnection, Any]:
        """A session channel on the pooled connection; a connection found dead is replaced once."""
        for attempt in (1, 2):
            connection = self.pool.connection(self.endpoint, cancel)
            try:
                channel = deadlines.bounded(
                    lambda connection=connection: connection.transport.open_session(
                        timeout=seconds
                    ),
                    phase=deadlines.CHANNEL,
                    seconds=seconds,
                    cancel=cancel,
                )
            except (deadlines.PhaseCancelled, deadlines.PhaseExpired) as stopped:
                if isinstance(stopped, deadlines.PhaseCancelled):
                    raise
                raise SshError(
                    "session",
                    f"{self._where(connection)}: {stopped}",
                    phase=deadlines.CHANNEL,
                ) from None
            except Exception as exc:
                self.pool.discard(connection)
                if attempt == 2:
                    raise SshError(
                        "session",
                        f"{self.host}: cannot open a session: {exc or type(exc).__name__}",
                        phase=deadlines.CHANNEL,
                    ) from None
                continue
            channel.set_combine_stderr(True)
            return connection, channel
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Nothing to do: the launch's pool owns the connection."""


class _RemoteRun(RunningCommand):
    """One command on one channel: its output, its exit status, and the kill on the host."""

    def __init__(
        self,
        shell: SshShell,
        connection: SshConnection,
        channel: Any,
        output: _MarkerFilter,
        token: str,
    ) -> None:
        self.shell = shell
        self.host = shell.host
        self.connection = connection
        self.channel = channel
        self.output = output
        self.token = token
        self.payload = b""
        self.killed: str | None = None
        self.kill_problem: str | None = None
        self.was_killed = False

    def request_exec(self) -> None:
        """The exec request; it waits on the server, so the caller bounds it."""
        self.channel.exec_command(launch_command(self.token))

    def pump(self) -> None:
        """Send the payload (under the runner's deadline: a server that stops reading cannot
        hold the launch), then read the output to its end."""
        try:
            self.channel.sendall(self.payload)
            self.channel.shutdown_write()
            while data := self.channel.recv(65536):
                self.output.feed(data)
        except Exception:  # the channel closed under us: the output is over
            pass
        finally:
            self.output.end()

    def wait_exit(self, seconds: float) -> bool:
        return self.channel.status_event.wait(seconds)

    def ending(self) -> Ending:
        if self.was_killed:
            return Ending(error=self.kill_problem, killed=self.killed)
        status = self.channel.exit_status if self.channel.exit_status_ready() else -1
        if status != -1:
            return Ending(exit_code=status)
        if not self.connection.alive:
            return Ending(error=f"{self.host}: connection lost while the command ran")
        return Ending(error=f"{self.host}: the command ended without an exit status")

    def close(self) -> None:
        self.channel.close()

    def kill(self, grace: float, why: str, *, cancelled: bool) -> None:
        """TERM everything the command started on the host, KILL what is left after ``grace``."""
        self.was_killed = True
        pgid = self.output.wait_pgid(MARKER_WAIT_SECONDS)
        if cancelled:
            budget = CANCEL_KILL_SECONDS
        else:
            budget = self.shell.pool.paths.connect_timeout + grace + CONFIRM_MARGIN_SECONDS
        outcome = RemoteKill(self.shell.pool, self.shell.endpoint, self.connection, budget).run(
            pgid, self.token, grace
        )
        self.killed = outcome.summary
        if outcome.problem:
            self.kill_problem = f"{self.host}: {why}; {outcome.problem}"
        self.channel.close()


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
        self._settled = threading.Event()  # the marker was seen, or the output ended without it

    def wait_pgid(self, seconds: float) -> int | None:
        """The group id, waiting briefly for the marker when the deadline came first."""
        self._settled.wait(seconds)
        return self.pgid

    def end(self) -> None:
        self._settled.set()

    def feed(self, data: bytes) -> None:
        if self.pgid is not None:
            self.capture.feed(data)
            return
        self._pending += data
        while self.pgid is None and b"\n" in self._pending:
            line, self._pending = self._pending.split(b"\n", 1)
            if line.startswith(self._prefix) and line[len(self._prefix) :].strip().isdigit():
                self.pgid = int(line[len(self._prefix) :])
                self._settled.set()
            else:
                self.capture.feed(line + b"\n")
        if self.pgid is not None and self._pending:
            rest, self._pending = self._pending, b""
            self.capture.feed(rest)


def _payload(env: Mapping[str, str], command: str) -> bytes:
    exports = "".join(f"export {name}={shlex.quote(value)}\n" for name, value in env.items())
    return (exports + command + "\n").encode()
