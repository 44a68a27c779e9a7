"""Every SSH wait ends: by its deadline, by the caller's cancel token, or by its answer.

paramiko waits without a limit in several places (the ``exec`` request, a
global request such as a keepalive, name resolution, a key exchange it was
given no timeout for). Two tools bound them without touching paramiko's
internals:

- ``bounded`` runs one blocking call on a helper thread and waits for it with a
  deadline and the cancel token; when either fires it calls ``abort`` (closing
  the channel or transport the call waits on, so the helper ends too) and
  raises ``PhaseExpired`` or ``PhaseCancelled``.
- ``HandshakeWatch`` follows a transport through its handshake (SSH banner,
  key exchange, authentication) and closes it when one phase outlasts its
  limit, remembering which phase that was so the failure can name it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from steps.cancel import CancelToken

if TYPE_CHECKING:
    from paramiko import Transport

T = TypeVar("T")

POLL_SECONDS = 0.05  # how often a waiting caller looks at its cancel token

DNS = "DNS"
TCP = "TCP connect"
BANNER = "SSH banner"
KEX = "key exchange"
AUTH = "authentication"
CHANNEL = "channel open"
EXEC = "exec request"
KEEPALIVE = "keepalive"
KILL = "kill"


class PhaseExpired(Exception):
    """A phase did not finish within its limit."""

    def __init__(self, phase: str, seconds: float) -> None:
        super().__init__(f"{phase}: no answer within {seconds:g}s")
        self.phase = phase
        self.seconds = seconds


class PhaseCancelled(Exception):
    """The caller's cancel token fired while a phase was waiting."""

    def __init__(self, phase: str, reason: str | None) -> None:
        super().__init__(f"{phase}: cancelled ({reason or 'no reason given'})")
        self.phase = phase


def bounded(
    call: Callable[[], T],
    *,
    phase: str,
    seconds: float,
    cancel: CancelToken | None = None,
    abort: Callable[[], Any] | None = None,
) -> T:
    """``call()``, unless ``seconds`` pass or ``cancel`` fires first (then ``abort()`` and raise).

    Exceptions from ``call`` are raised here, in the caller's thread.
    """
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def work() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the caller, whatever it is
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=work, name=f"ssh-{phase}", daemon=True).start()
    deadline = time.monotonic() + seconds
    while not done.wait(max(0.0, min(POLL_SECONDS, deadline - time.monotonic()))):
        if cancel is not None and cancel.cancelled:
            _quietly(abort)
            raise PhaseCancelled(phase, cancel.reason)
        if time.monotonic() >= deadline:
            _quietly(abort)
            raise PhaseExpired(phase, seconds)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _quietly(abort: Callable[[], Any] | None) -> None:
    if abort is None:
        return
    try:
        abort()
    except Exception:
        pass


class HandshakeWatch:
    """Closes a transport whose banner, key exchange or authentication outlasts ``seconds``.

    Each phase gets the full limit from when it began (as ssh's ConnectTimeout
    does for the banner). ``expired`` names the phase that ran out; ``phase``
    the one in progress, for a failure paramiko reports in its own words.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired: str | None = None
        self.phase = BANNER
        self._stop = threading.Event()

    def attach(self, transport: Transport) -> None:
        threading.Thread(
            target=self._watch, args=(transport,), name="ssh-handshake-watch", daemon=True
        ).start()

    def stop(self) -> None:
        self._stop.set()

    def _watch(self, transport: Transport) -> None:
        since = time.monotonic()
        while not self._stop.wait(POLL_SECONDS):
            phase = _phase_of(transport)
            if phase is None:
                return
            if phase != self.phase:
                self.phase, since = phase, time.monotonic()
            elif time.monotonic() - since > self.seconds:
                self.expired = phase
                transport.close()
                return


def _phase_of(transport: Transport) -> str | None:
    """Where the handshake stands, from what paramiko has recorded; None once it is over."""
    if transport.is_authenticated():
        return None
    if not transport.remote_version:
        return BANNER
    if not transport.initial_kex_done:
        return KEX
    return AUTH
