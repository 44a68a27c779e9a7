"""One HTTP client for a whole launch, in which every request has a deadline.

httpx's timeouts apply to each read, so a server that trickles its answer a
byte at a time, or a DNS lookup that hangs, keeps a request alive forever:
a guard goes blind and a check hangs through SIGTERM. Here every request
carries a ``Deadline`` (connect + send + the whole body), enforced under
httpx at the socket: reads are sliced so the deadline and the cancel token
are looked at several times a second, name resolution runs with a bound,
and the body is read to a size cap. Past the deadline a request raises
``RequestFailed`` saying so.

Building an ``httpx.Client`` loads the CA bundle (about 25 ms of CPU); one
shared client keeps guards cheap and reuses connections. Clients are safe to
share between threads; the deadline travels in a thread-local.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from steps.deadline import Deadline

MAX_BODY_BYTES = 16 * 1024 * 1024
_current = threading.local()


class RequestFailed(Exception):
    """A request that produced no answer; ``timed_out`` when its deadline passed or it was cancelled."""

    def __init__(self, message: str, *, timed_out: bool = False, connect: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out
        self.connect = connect


@dataclass(frozen=True)
class HttpAnswer:
    status_code: int
    content: bytes
    url: str

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON; ``ValueError`` when it is not."""
        return json.loads(self.content)


class HttpSession:
    def __init__(self, redact: Callable[[str], str] | None = None) -> None:
        """``redact`` (the launch's secret masking) is applied to any text taken from an answer
        before it is cut into an excerpt, so an excerpt never ends in half a secret."""
        self._client: Any = None
        self._lock = threading.Lock()
        self.redact: Callable[[str], str] = redact or (lambda text: text)

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                import httpx

                self._client = httpx.Client(follow_redirects=False, transport=_deadline_transport())
            return self._client

    def get(
        self, url: str, *, deadline: Deadline, params: Mapping[str, str] | None = None
    ) -> HttpAnswer:
        return self.request("GET", url, deadline=deadline, params=params)

    def post_json(self, url: str, payload: Any, *, deadline: Deadline) -> HttpAnswer:
        return self.request("POST", url, deadline=deadline, json_body=payload)

    def request(
        self,
        method: str,
        url: str,
        *,
        deadline: Deadline,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
    ) -> HttpAnswer:
        """One request within ``deadline``; raises ``RequestFailed`` (never an httpx error)."""
        import httpx

        client = self._get_client()
        previous = getattr(_current, "deadline", None)
        _current.deadline = deadline
        seconds = max(0.001, deadline.remaining())
        try:
            with client.stream(
                method, url, params=params, json=json_body, timeout=seconds
            ) as response:
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_BODY_BYTES:
                        raise RequestFailed(f"answer larger than {MAX_BODY_BYTES >> 20} MiB")
                return HttpAnswer(response.status_code, bytes(body), str(response.url))
        except httpx.TimeoutException as exc:
            raise RequestFailed(_timeout_reason(deadline, exc), timed_out=True) from None
        except httpx.ConnectError as exc:
            raise RequestFailed(f"cannot connect: {short(exc)}", connect=True) from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise RequestFailed(f"invalid URL: {without_quoted_parts(short(exc))}") from None
        except (httpx.HTTPError, ValueError, UnicodeError) as exc:
            if deadline.cancelled:
                raise RequestFailed("cancelled", timed_out=True) from None
            raise RequestFailed(f"request failed: {short(exc)}") from None
        finally:
            _current.deadline = previous

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def _timeout_reason(deadline: Deadline, exc: BaseException) -> str:
    if deadline.cancelled:
        return "cancelled"
    return f"no complete answer within the deadline ({short(exc)})"


def short(exc: BaseException) -> str:
    """The first line of an error, whole: it is masked before anything cuts it to length."""
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0]


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def without_quoted_parts(text: str) -> str:
    """An httpx URL error without the pieces of the URL it quotes (``Invalid port: 'w@host'``):
    those are fragments of the URL as httpx split it, which no masker can recognise as the
    secret they were cut from."""
    return _QUOTED.sub("(…)", text)


def client_spellings(url: str) -> set[str]:
    """How httpx writes ``url`` back once it has normalized it (host case, default port,
    percent-encoding), with and without its userinfo: the forms a secret URL takes in errors."""
    import httpx

    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, UnicodeError, TypeError):
        return set()
    normal = str(parsed)
    forms = {normal, normal.rstrip("/")}
    if parsed.userinfo:
        bare = str(parsed.copy_with(username=None, password=None))
        forms |= {bare, bare.rstrip("/")}
    return forms


# -- the socket layer under httpx ------------------------------------------------------------


def _deadline_transport() -> Any:
    """httpx's own transport, its connection pool given the deadline-keeping network backend.

    httpx does not expose the backend; httpcore's pool does. If a future httpx
    hides it, requests still run, bounded by per-read timeouts only, and the
    trickle tests in ``tests/steps`` fail loudly.
    """
    import httpx

    transport = httpx.HTTPTransport()
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if backend is not None:
        pool._network_backend = _DeadlineBackend(backend)
    return transport


def _deadline() -> Deadline | None:
    return getattr(_current, "deadline", None)


def _check(deadline: Deadline | None, kind: type[Exception]) -> None:
    if deadline is None:
        return
    if deadline.cancelled:
        raise kind("cancelled")
    if deadline.remaining() <= 0:
        raise kind("deadline passed")


class _DeadlineStream:
    """A network stream whose reads give up at the request's deadline, however the bytes trickle."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        import httpcore

        deadline = _deadline()
        if deadline is None:
            return self._inner.read(max_bytes, timeout)
        budget = deadline if timeout is None else deadline.sooner(timeout)
        while True:
            _check(budget, httpcore.ReadTimeout)
            try:
                return self._inner.read(max_bytes, max(0.001, budget.slice()))
            except httpcore.ReadTimeout:
                continue  # a slice ran out, not the deadline: look at the token and go on

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        import httpcore

        deadline = _deadline()
        if deadline is not None:
            _check(deadline, httpcore.WriteTimeout)
            timeout = (
                deadline.remaining() if timeout is None else min(timeout, deadline.remaining())
            )
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout=None) -> Any:
        deadline = _deadline()
        if deadline is not None:
            timeout = (
                deadline.remaining() if timeout is None else min(timeout, deadline.remaining())
            )
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend:
    """Connects within the deadline, name resolution included, and hands out deadline streams."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def connect_tcp(
        self, host: str, port: int, timeout=None, local_address=None, socket_options=None
    ) -> Any:
        import httpcore

        deadline = _deadline()
        if deadline is None:
            stream = self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
            return _DeadlineStream(stream)
        budget = deadline if timeout is None else deadline.sooner(timeout)
        last: Exception | None = None
        for address in _resolve(host, port, budget):
            _check(budget, httpcore.ConnectTimeout)
            try:
                stream = self._inner.connect_tcp(
                    address, port, max(0.001, budget.remaining()), local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
                continue
            return _DeadlineStream(stream)
        raise last or httpcore.ConnectError(f"no address for {host}")

    def connect_unix_socket(self, path: str, timeout=None, socket_options=None) -> Any:
        return _DeadlineStream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _resolve(host: str, port: int, deadline: Deadline) -> list[str]:
    """Addresses for ``host``, looked up on a helper thread so a hung resolver cannot outlive the deadline."""
    import httpcore

    try:
        ipaddress.ip_address(host)
        return [host]
    except ValueError:
        pass
    found: dict[str, Any] = {}
    done = threading.Event()

    def lookup() -> None:
        try:
            found["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            found["error"] = exc
        finally:
            done.set()

    threading.Thread(target=lookup, name=f"resolve-{host}", daemon=True).start()
    while not done.wait(deadline.slice()):
        _check(deadline, httpcore.ConnectTimeout)
    if "error" in found:
        raise httpcore.ConnectError(f"cannot resolve {host}: {found['error']}")
    addresses: list[str] = []
    for info in found["infos"]:
        address = info[4][0]
        if address not in addresses:
            addresses.append(address)
    return addresses


def reach(url: str, deadline: Deadline) -> tuple[str, int]:
    """Open (and close) a TCP connection to ``url``'s host within ``deadline``, sending nothing:
    what ``preflight`` may do to a notification channel, where any request would post a message.
    Returns the host and port reached; raises ``RequestFailed`` saying why not."""
    from urllib.parse import urlsplit

    import httpcore

    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise RequestFailed(f"not a URL: {without_quoted_parts(short(exc))}") from None
    if not host or parts.scheme not in ("http", "https"):
        raise RequestFailed("not an http(s) URL")
    try:
        addresses = _resolve(host, port, deadline)
    except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
        raise RequestFailed(short(exc) or "no answer within the deadline") from None
    problem = f"no address for {host}"
    for address in addresses:
        if deadline.remaining() <= 0:
            raise RequestFailed("no answer within the deadline")
        try:
            socket.create_connection((address, port), timeout=deadline.remaining()).close()
        except OSError as exc:
            problem = f"cannot connect: {short(exc)}"
            continue
        return host, port
    raise RequestFailed(problem)
