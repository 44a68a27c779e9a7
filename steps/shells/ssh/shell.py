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
import threading
from collections.abc import Mapping
from typing import Any

from steps.cancel import CancelToken
from steps.shells.base import KILL_GRACE_SECONDS, Ending, NotStarted, Runner, RunningCommand
from steps.shells.output import OutputCapture
from steps.shells.ssh.connect import short
from steps.shells.ssh.pool import Endpoint, Interrupted, SshConnection, SshError, SshPool

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
                f"{self.host}: env names are not shell variable names: {', '.join(bad)}"
            )
        try:
            connection, channel = self._channel(cancel)
        except Interrupted:
            raise NotStarted("interrupted", interrupted=True) from None
        except SshError as error:
            raise NotStarted(error.reason) from None
        if cancel is not None and cancel.cancelled:
            channel.close()
            raise NotStarted("interrupted", interrupted=True)
        run = _RemoteRun(self.host, connection, channel, _MarkerFilter(capture))
        try:
            run.start(_payload(env, command))
        except Exception as exc:
            channel.close()
            raise NotStarted(f"{self.host}: could not start the command: {short(exc)}") from None
        return run

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


class _RemoteRun(RunningCommand):
    """One command on one channel: its output, its exit status, and the kill on the host."""

    def __init__(
        self, host: str, connection: SshConnection, channel: Any, output: _MarkerFilter
    ) -> None:
        self.host = host
        self.connection = connection
        self.channel = channel
        self.output = output
        self.killed = False
        self.kill_problem: str | None = None

    def start(self, payload: bytes) -> None:
        self.channel.exec_command(_LAUNCH)
        self.channel.sendall(payload)
        self.channel.shutdown_write()

    def pump(self) -> None:
        try:
            while data := self.channel.recv(65536):
                self.output.feed(data)
        except Exception:  # the channel closed under us: the output is over
            pass
        finally:
            self.output.end()

    def wait_exit(self, seconds: float) -> bool:
        return self.channel.status_event.wait(seconds)

    def ending(self) -> Ending:
        if self.killed:
            return Ending(error=self.kill_problem)
        status = self.channel.exit_status if self.channel.exit_status_ready() else -1
        if status != -1:
            return Ending(exit_code=status)
        if not self.connection.alive:
            return Ending(error=f"{self.host}: connection lost while the command ran")
        return Ending(error=f"{self.host}: the command ended without an exit status")

    def close(self) -> None:
        self.channel.close()

    def kill(self, grace: float, why: str) -> None:
        """TERM the remote process group, KILL what is left after ``grace``: all on the host."""
        self.killed = True
        problem = None
        pgid = self.output.wait_pgid(MARKER_WAIT_SECONDS)
        if pgid is None:
            problem = "the command never reported its process group; the channel was closed"
        elif not self.connection.alive:
            problem = "the connection is lost, so the command could not be killed on the host"
        else:
            problem = self._kill_group(pgid, grace)
        if problem:
            self.kill_problem = f"{self.host}: {why}; {problem}"

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
