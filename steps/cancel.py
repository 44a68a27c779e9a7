"""A cancellation token shared by the engine and whatever blocks on its behalf."""

from __future__ import annotations

import threading


class CancelToken:
    """Set once, by whoever decides a blocking operation must stop (operator, guard, deadline).

    ``wait`` doubles as an interruptible sleep: it returns True as soon as the
    token is cancelled.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason: str | None = None

    def cancel(self, reason: str) -> None:
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float | None) -> bool:
        return self._event.wait(seconds)
