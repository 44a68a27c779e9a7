"""``LocalShell``: commands on this machine, each in its own process group.

The group matters: a deploy script's children (a ``sleep``, a ``curl``) must
die with it at the deadline or on rollback, or they keep running unsupervised.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Mapping

from steps.cancel import CancelToken
from steps.output import OutputCapture
from steps.results import CommandResult
from steps.shell import OutputListener

KILL_GRACE_SECONDS = 2.0
CANCEL_GRACE_SECONDS = 0.5  # a rollback must start within a second of the decision
DRAIN_SECONDS = 1.0


class LocalShell:
    host = "localhost"

    def __init__(self, cwd: str | None = None, base_env: Mapping[str, str] | None = None) -> None:
        self.cwd = cwd
        self.base_env = dict(os.environ if base_env is None else base_env)

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
        listener = (lambda line: on_output(self.host, line)) if on_output else None
        capture = OutputCapture(listener)
        try:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", command],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
                env={**self.base_env, **env},
                start_new_session=True,
            )
        except OSError as exc:
            return CommandResult(
                command, self.host, None, 0.0, error=f"could not start: {exc.strerror}"
            )
        reader = threading.Thread(target=_pump, args=(proc, capture), daemon=True)
        reader.start()
        timed_out, interrupted = self._wait(proc, started + timeout, cancel)
        reader.join(DRAIN_SECONDS)
        capture.close()
        return CommandResult(
            command=command,
            host=self.host,
            exit_code=proc.returncode,
            duration=time.monotonic() - started,
            tail=capture.tail,
            stdout=capture.text,
            timed_out=timed_out,
            interrupted=interrupted,
            timeout=timeout,
        )

    def _wait(
        self, proc: subprocess.Popen, deadline: float, cancel: CancelToken | None
    ) -> tuple[bool, bool]:
        """Wait for exit; on deadline or cancellation kill the whole group. Returns (timed_out, interrupted)."""
        exited = _exit_waiter(proc)
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    kill_group(proc)
                    return True, False
                if cancel is not None and cancel.cancelled:
                    kill_group(proc, CANCEL_GRACE_SECONDS)
                    return False, True
                if exited(min(remaining, 0.1)):
                    proc.wait()
                    return False, False
        finally:
            exited.close()

    def close(self) -> None:
        pass


class _exit_waiter:
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


def _pump(proc: subprocess.Popen, capture: OutputCapture) -> None:
    fd = proc.stdout.fileno()
    try:
        while chunk := os.read(fd, 65536):
            capture.feed(chunk)
    except OSError:
        pass
    finally:
        proc.stdout.close()


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
