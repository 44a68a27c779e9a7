"""``LocalShell``: commands on this machine, each in its own process group.

The group matters: a deploy script's children (a ``sleep``, a ``curl``) must
die with it at the deadline or on rollback, or they keep running unsupervised.
Deadline, cancellation and drain are the runner's (``steps.shells.base``).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
from collections.abc import Mapping

from steps.cancel import CancelToken
from steps.shells.base import KILL_GRACE_SECONDS, Ending, NotStarted, Runner, RunningCommand
from steps.shells.output import OutputCapture

_DEVNULL: list[int] = []


def _devnull() -> int:
    """One read-only /dev/null for every command's stdin (``subprocess.DEVNULL`` opens one per
    command); opened on first use, inherited by nobody (Popen dups it onto fd 0)."""
    if not _DEVNULL:
        _DEVNULL.append(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))
    return _DEVNULL[0]


class LocalShell(Runner):
    host = "localhost"

    def __init__(self, cwd: str | None = None, base_env: Mapping[str, str] | None = None) -> None:
        self.cwd = cwd
        self.base_env = dict(os.environ if base_env is None else base_env)

    def start(
        self,
        command: str,
        env: Mapping[str, str],
        capture: OutputCapture,
        timeout: float,
        cancel: CancelToken | None,
    ) -> RunningCommand:
        try:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", command],
                stdin=_devnull(),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
                env={**self.base_env, **env},
                start_new_session=True,
            )
        except OSError as exc:
            raise NotStarted(f"could not start: {exc.strerror}") from None
        return _LocalProcess(proc, capture)


class _LocalProcess(RunningCommand):
    def __init__(self, proc: subprocess.Popen, capture: OutputCapture) -> None:
        self.proc = proc
        self.capture = capture
        self.exited = _ExitWaiter(proc)

    def pump(self) -> None:
        fd = self.proc.stdout.fileno()
        try:
            while chunk := os.read(fd, 65536):
                self.capture.feed(chunk)
        except OSError:
            pass
        finally:
            self.proc.stdout.close()

    def wait_exit(self, seconds: float) -> bool:
        if self.exited(seconds):
            self.proc.wait()
            return True
        return False

    def kill(self, grace: float, why: str, *, cancelled: bool) -> None:
        kill_group(self.proc, grace)

    def ending(self) -> Ending:
        return Ending(exit_code=self.proc.returncode)

    def close(self) -> None:
        self.exited.close()


class _ExitWaiter:
    """Waits for a child's exit without polling: a pidfd wakes us the moment it exits.

    (``Popen.wait(timeout)`` sleeps in steps of up to 50 ms, which a 1,000-step
    launch pays on every step.) Falls back to that polling where pidfds are missing.
    """

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        try:
            self.fd: int | None = os.pidfd_open(proc.pid)
        except (AttributeError, OSError):
            self.fd = None

    def __call__(self, timeout: float) -> bool:
        if self.fd is None:
            try:
                self.proc.wait(timeout=timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        ready, _, _ = select.select([self.fd], [], [], timeout)
        return bool(ready)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def kill_group(proc: subprocess.Popen, grace: float = KILL_GRACE_SECONDS) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after ``grace`` seconds."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
