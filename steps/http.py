"""One HTTP client for a whole launch.

Building an ``httpx.Client`` loads the CA bundle (about 25 ms of CPU); a guard
sampling every second with a fresh client each time costs a core for twenty
guards. A shared client also reuses connections. httpx clients are safe to
share between threads.
"""

from __future__ import annotations

import threading
from typing import Any


class HttpSession:
    def __init__(self) -> None:
        self._client: Any = None
        self._lock = threading.Lock()

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                import httpx

                self._client = httpx.Client(follow_redirects=False)
            return self._client

    def get(self, url: str, *, timeout: float, params: dict[str, str] | None = None) -> Any:
        return self._get_client().get(url, params=params, timeout=timeout)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
