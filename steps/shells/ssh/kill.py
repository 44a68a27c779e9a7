"""Killing a remote command with everything it started, and saying what was killed.

A command's processes are found on the host two ways at once:

- its session and process group (the shell launchctl starts leads both, so
  ``setpgid`` children stay in the session), read from ``/proc/PID/stat``;
- a token in their environment, ``LAUNCHCTL_RUN=<random>``, which the command's
  shell exports and every descendant inherits — so a child that called
  ``setsid`` (``setsid sleep 331 &``, ``setsid -f sleep 332``) and left both the
  group and the session is still found, in ``/proc/PID/environ`` (Jenkins finds
  a build's strays the same way).

The kill script TERMs them all, waits out the grace (TERMing whatever appears
meanwhile), KILLs what is left, rescans until nothing is left or ten rounds
have passed, and prints one report line. It runs over a channel of its own on
the pooled connection, or over a fresh connection when the server refuses a
second channel (``MaxSessions 1``) or the pooled one is gone. Every wait on
that path is bounded by the kill's budget.

Limits, reported rather than hidden: a process that clears its environment
*and* leaves the session is not found (a cgroup would find it: ``systemd-run
--scope`` is not used because it needs systemd as init and root or a user
manager on the host, and cannot be exercised here); hosts without ``/proc``
get the process-group kill only.
"""

from __future__ import annotations

import re
import secrets
import shlex
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from steps.shells.ssh import deadlines
from steps.shells.ssh.connect import SshError, short

if TYPE_CHECKING:
    from steps.shells.ssh.pool import Endpoint, SshConnection, SshPool

TOKEN_VARIABLE = "LAUNCHCTL_RUN"
REPORT_PREFIX = "launchctl-kill"
CONFIRM_MARGIN_SECONDS = 3.0  # beyond the grace, for the rescans and the KILL rounds

_SCRIPT = """trap '' HUP PIPE INT TERM
g=GROUP; t=TOKEN; ticks=TICKS; all=""; hard=""
f=$(mktemp 2>/dev/null) || f=/tmp/launchctl-kill.$$
members() {
  {
    if [ -n "$g" ]; then
      cat /proc/[0-9]*/stat 2>/dev/null | awk -v g="$g" '{ p = $1; sub(/^.*\\) /, "");
        if (($3 == g || $4 == g) && $1 != "Z") print p, "g" }'
    fi
    grep -l -s -z -x -F "VARIABLE=$t" /proc/[0-9]*/environ 2>/dev/null | awk -F/ '{ print $3, "t" }'
  } | awk '!seen[$1]++' > "$f"
  [ -s "$f" ]
}
# TERM each member once (new ones too); false when none is left.
term_new() {
  members || return 1
  new=""
  while read -r p k; do
    case " $all " in *" $p:"*) ;; *) all="$all $p:$k"; new="$new $p";; esac
  done < "$f"
  [ -z "$new" ] || kill -s TERM $new 2>/dev/null
  return 0
}
# KILL every member left; false when none is.
kill_left() {
  members || return 1
  pids=""
  while read -r p k; do
    case " $all " in *" $p:"*) ;; *) all="$all $p:$k";; esac
    pids="$pids $p"
  done < "$f"
  kill -s KILL $pids 2>/dev/null
  hard="$hard$pids"
  return 0
}
i=0
while [ $i -lt $ticks ] && term_new; do sleep 0.1; i=$((i+1)); done
r=0
while [ $r -lt 10 ] && kill_left; do sleep 0.1; r=$((r+1)); done
left=""
if members; then left=$(awk '{ print $1 }' "$f" | tr '\\n' ' '); fi
rm -f "$f"
[ -r /proc/self/environ ] && proc=yes || proc=no
echo "PREFIX proc=$proc all=$all kill=$hard left=$left"
"""


def new_token() -> str:
    return secrets.token_hex(8)


def kill_script(group: int | None, token: str, grace: float) -> str:
    ticks = max(1, round(grace / 0.1))
    return (
        _SCRIPT.replace("GROUP", str(group) if group else "")
        .replace("TOKEN", token)
        .replace("TICKS", str(ticks))
        .replace("VARIABLE", TOKEN_VARIABLE)
        .replace("PREFIX", REPORT_PREFIX)
    )


@dataclass(frozen=True)
class KillReport:
    """What the kill script found and did on the host."""

    grouped: tuple[int, ...]  # in the command's session or process group
    strays: tuple[int, ...]  # found only by the token: they had left with setsid
    hard: tuple[int, ...]  # needed KILL
    left: tuple[int, ...]  # still there at the end
    proc: bool  # /proc was there to search

    def summary(self) -> str:
        count = len(self.grouped) + len(self.strays)
        if not count:
            return "nothing was left to kill on the host"
        pids = " ".join(map(str, (*self.grouped, *self.strays)))
        parts = [f"killed on the host: {count} process{'es' if count != 1 else ''} ({pids})"]
        if self.strays:
            parts.append(f"{len(self.strays)} of them had left its session (setsid)")
        if self.hard:
            parts.append(f"{len(set(self.hard))} needed KILL")
        if not self.proc:
            parts.append("no /proc on the host, so only its process group was searched")
        return "; ".join(parts)

    @property
    def problem(self) -> str | None:
        if not self.left:
            return None
        return f"could not kill {len(self.left)} on the host: {' '.join(map(str, self.left))}"


def parse_report(output: str) -> KillReport | None:
    for line in output.splitlines():
        if line.startswith(REPORT_PREFIX + " "):
            fields = dict(re.findall(r"(\w+)=([^=]*?)(?=\s+\w+=|$)", line[len(REPORT_PREFIX) :]))
            marked = [item.split(":") for item in fields.get("all", "").split()]
            return KillReport(
                grouped=tuple(int(p) for p, kind in marked if kind == "g"),
                strays=tuple(int(p) for p, kind in marked if kind == "t"),
                hard=tuple(int(p) for p in fields.get("kill", "").split()),
                left=tuple(int(p) for p in fields.get("left", "").split()),
                proc=fields.get("proc", "").strip() == "yes",
            )
    return None


@dataclass
class KillOutcome:
    """What to tell the user: ``summary`` of what was killed, ``problem`` of what was not."""

    summary: str | None = None
    problem: str | None = None


class RemoteKill:
    """One kill of one command on one host, within ``budget`` seconds."""

    def __init__(
        self,
        pool: SshPool,
        endpoint: Endpoint,
        connection: SshConnection,
        budget: float,
    ) -> None:
        self.pool = pool
        self.endpoint = endpoint
        self.connection = connection
        self.deadline = time.monotonic() + budget
        self.budget = budget
        self.round_trip = pool.paths.connect_timeout

    def run(self, group: int | None, token: str, grace: float) -> KillOutcome:
        fresh: SshConnection | None = None
        try:
            channel, fresh = self._channel()
            output = self._execute(channel, kill_script(group, token, grace))
        except (SshError, deadlines.PhaseExpired) as exc:
            return KillOutcome(problem=f"could not kill it on the host: {exc}")
        finally:
            if fresh is not None:
                fresh.close()
        report = parse_report(output)
        if report is None:
            return KillOutcome(
                problem="the kill was started on the host but did not report within "
                f"{self.budget:g}s, so nothing is known of what it killed"
            )
        return KillOutcome(report.summary(), report.problem)

    def _remaining(self, cap: float | None = None) -> float:
        left = max(0.01, self.deadline - time.monotonic())
        return min(left, cap) if cap is not None else left

    def _channel(self) -> tuple[Any, SshConnection | None]:
        """A session channel on the pooled connection, or on a fresh one when that is refused."""
        why = "the connection is lost"
        if self.connection.alive:
            try:
                return self._open(self.connection), None
            except deadlines.PhaseExpired:
                raise
            except Exception as exc:
                why = f"a second channel was refused ({short(exc)})"
        fresh = self._fresh_connection(why)
        try:
            return self._open(fresh), fresh
        except Exception:
            fresh.close()
            raise

    def _open(self, connection: SshConnection) -> Any:
        seconds = self._remaining(self.round_trip)
        return deadlines.bounded(
            lambda: connection.transport.open_session(timeout=seconds),
            phase=f"{deadlines.KILL}: {deadlines.CHANNEL}",
            seconds=seconds,
        )

    def _fresh_connection(self, why: str) -> SshConnection:
        abandoned = False

        def connect() -> SshConnection:
            connection = self.pool.open_fresh(self.endpoint)
            if abandoned:
                connection.close()
            return connection

        def abandon() -> None:
            nonlocal abandoned
            abandoned = True

        try:
            return deadlines.bounded(
                connect,
                phase=f"{deadlines.KILL}: fresh connection ({why})",
                seconds=self._remaining(),
                abort=abandon,
            )
        except SshError as error:
            raise SshError(error.stage, f"{why}, and a fresh connection failed: {error}") from None

    def _execute(self, channel: Any, script: str) -> str:
        """Run the script; its report line, or what arrived before the budget ran out."""
        try:
            deadlines.bounded(
                lambda: channel.exec_command("exec /bin/sh -c " + shlex.quote(script)),
                phase=f"{deadlines.KILL}: {deadlines.EXEC}",
                seconds=self._remaining(self.round_trip),
                abort=channel.close,
            )
            chunks = []
            while (left := self.deadline - time.monotonic()) > 0:
                channel.settimeout(min(left, 0.2))
                try:
                    data = channel.recv(4096)
                except TimeoutError:
                    continue
                if not data:
                    break
                chunks.append(data)
            return b"".join(chunks).decode(errors="replace")
        finally:
            channel.close()
