"""What a fan-out command leaves on its host, so that a driver that dies does not leave a guess.

The contract, the same every time: a ``run:`` on an SSH target is wrapped so
that, on the host, it writes under
``${LAUNCHCTL_RECORDS:-$HOME/.launchctl/runs}/<launch-id>/<step>/``:

- ``<host>.pid`` when it starts: the command's process group and its
  ``LAUNCHCTL_RUN`` token (what the kill looks for);
- ``<host>.out`` as it runs: its output (it still streams to the driver);
- ``<host>.exit`` when it ends: its exit status (a record with an empty status file is
  still being written: the probe falls back to the process).

When the driver dies (``kill -9``, a crash, a lost connection) the command
keeps running to its end: it is in its own session, so no hang-up reaches it,
and its output goes through a relay that ignores SIGPIPE and, once the channel
is gone, keeps only the file. ``resume`` reads the record
(``probe_script``/``parse_probe``) instead of guessing: a status means the
host finished, a live process means it is still running, anything else means
nobody knows and a person is asked. Records stay on the host for the record.
When the directory cannot be written the command runs unrecorded (as before
this contract) and resume treats the host as unknown.

Check commands are not recorded: they change nothing and are simply run again.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

ROOT = "${LAUNCHCTL_RECORDS:-$HOME/.launchctl/runs}"
OUT_TAIL_BYTES = 64 * 1024


@dataclass(frozen=True)
class RecordKey:
    """Where a command's records live on its hosts: one directory per launch and step.

    ``step`` is the launch step's id, or ``rollback.<id>``/``roll_forward.<id>``
    for a rollback or roll-forward step (a '.' never occurs in an id).
    """

    launch_id: str
    step: str

    def directory(self) -> str:
        """The directory as a shell word (the root is expanded on the host)."""
        return f'"{ROOT}"/{shlex.quote(self.launch_id)}/{shlex.quote(self.step)}'


def recorded(script: str, key: RecordKey, host: str) -> str:
    """``script`` wrapped to leave its records; the wrapper's exit status is the script's."""
    directory = key.directory()
    name = shlex.quote(host)
    return f"""__lc_run() {{ (
{script}
); }}
__lc_d={directory}; __lc_h={name}
{{ [ -d "$__lc_d" ] || mkdir -p "$__lc_d" 2>/dev/null; }} && {{ [ ! -e "$__lc_d/$__lc_h.exit" ] || rm -f "$__lc_d/$__lc_h.exit"; }} && echo "$$ $LAUNCHCTL_RUN" > "$__lc_d/$__lc_h.pid" 2>/dev/null || {{ __lc_run; exit $?; }}
{{ __lc_run; echo $? > "$__lc_d/$__lc_h.exit"; }} 2>&1 | {{ trap '' PIPE; tee "$__lc_d/$__lc_h.out" || cat >> "$__lc_d/$__lc_h.out"; }}
__lc_s=255; read -r __lc_s < "$__lc_d/$__lc_h.exit" 2>/dev/null; exit "$__lc_s"
"""


def probe_script(key: RecordKey, host: str) -> str:
    """One line saying what the host knows of the command, then (when it finished) its output."""
    return f"""d={key.directory()}; h={shlex.quote(host)}
if [ -s "$d/$h.exit" ]; then read -r s < "$d/$h.exit"; echo "launchctl-record finished $s"; tail -c {OUT_TAIL_BYTES} "$d/$h.out" 2>/dev/null
elif [ -f "$d/$h.pid" ]; then read -r p t < "$d/$h.pid"; if kill -0 "$p" 2>/dev/null; then echo "launchctl-record running $p $t"; else echo "launchctl-record vanished $p"; fi
else echo "launchctl-record absent"; fi
"""


@dataclass(frozen=True)
class HostRecord:
    """What a host's record says of a command. ``state``: finished | running | vanished |
    absent | unreadable (the host could not be asked)."""

    state: str
    exit_code: int | None = None
    pid: int | None = None
    token: str | None = None
    output: str = ""
    problem: str | None = None

    def describe(self) -> str:
        """For the resume question: what the host says, and what resume will do about it."""
        if self.state == "finished":
            return f"finished on the host after the driver stopped (exit {self.exit_code}); not run again"
        if self.state == "running":
            return f"still running on the host (pid {self.pid}); resume waits for it"
        if self.state == "vanished":
            return "started on the host but ended without a status (killed?); will run again"
        if self.state == "unreadable":
            return f"its record could not be read ({self.problem}); will run again"
        return "no record on the host (it never started there); will run again"


_LINE = re.compile(r"^launchctl-record (\w+)(?: (\S+))?(?: (\S+))?$")


def parse_probe(output: str) -> HostRecord:
    head, _, rest = output.partition("\n")
    match = _LINE.match(head.strip())
    if match is None:
        return HostRecord("unreadable", problem=f"unexpected answer {head[:80]!r}")
    state, first, second = match.groups()
    if state == "finished" and first is not None and first.isdigit():
        return HostRecord("finished", exit_code=int(first), output=rest)
    if state == "running" and first is not None and first.isdigit():
        return HostRecord("running", pid=int(first), token=second)
    if state == "vanished":
        return HostRecord("vanished")
    if state == "absent":
        return HostRecord("absent")
    return HostRecord("unreadable", problem=f"unexpected answer {head[:80]!r}")
