"""HTTP servers that misbehave on purpose, on loopback: for the promise that every wait has a deadline.

One ``HostileServer`` answers each path its own way:

    /trickle/...  sends a valid answer one byte every ``TRICKLE_SECONDS`` (every read is quick,
                  the whole answer never arrives in time)
    /stall/...    accepts, reads the request, then says nothing
    /headers/...  trickles the status line and headers themselves
    /json/NAME/...   answers 200 with the body ``BODIES[NAME]`` (``[]``, ``null``, ``"x"``, ...)
    /html/...     answers 200 with an HTML error page
    /ok/...       answers 200 ``{"status": "success", ...}`` with one sample of value 0
"""

from __future__ import annotations

import json
import socket
import threading
import time

TRICKLE_SECONDS = 0.2

BODIES = {
    "empty-list": b"[]",
    "null": b"null",
    "string": b'"x"',
    "data-number": b'{"data": 5}',
    "status-only": b'{"status": "success"}',
    "result-null": b'{"status": "success", "data": {"resultType": "vector", "result": null}}',
    "sample-object": b'{"status": "success", "data": {"resultType": "vector", "result": [{"value": {"a": 1}}]}}',
    "value-list": b'{"status": "success", "data": {"resultType": "vector", "result": [{"value": [1, [2]]}]}}',
    "error-number": b'{"status": "error", "error": 5}',
}
HTML = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
OK = json.dumps(
    {"status": "success", "data": {"resultType": "vector", "result": [{"value": [0, "0"]}]}}
).encode()


class HostileServer:
    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._closed = threading.Event()
        self.requests: list[str] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                request = conn.recv(65536).decode(errors="replace")
            except OSError:
                return
            path = request.split(" ")[1] if request.count(" ") >= 2 else "/"
            self.requests.append(path)
            try:
                self._answer(conn, path)
            except OSError:
                pass

    def _answer(self, conn: socket.socket, path: str) -> None:
        kind = path.strip("/").split("/")[0]
        if kind == "stall":
            self._closed.wait(600)
            return
        if kind == "trickle":
            self._trickle(conn, _response(200, OK), skip_headers=True)
            return
        if kind == "headers":
            self._trickle(conn, _response(200, OK), skip_headers=False)
            return
        if kind == "json":
            name = path.strip("/").split("/")[1]
            conn.sendall(_response(200, BODIES[name]))
            return
        if kind == "html":
            conn.sendall(_response(502, HTML, "text/html"))
            return
        conn.sendall(_response(200, OK))

    def _trickle(self, conn: socket.socket, answer: bytes, skip_headers: bool) -> None:
        head, _, body = answer.partition(b"\r\n\r\n")
        if skip_headers:
            conn.sendall(head + b"\r\n\r\n")
            payload = body
        else:
            payload = answer
        for byte in payload:
            if self._closed.wait(TRICKLE_SECONDS):
                return
            conn.sendall(bytes([byte]))

    def close(self) -> None:
        self._closed.set()
        self.sock.close()


def _response(status: int, body: bytes, content_type: str = "application/json") -> bytes:
    reason = {200: "OK", 502: "Bad Gateway"}.get(status, "X")
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    return head + body


def elapsed_since(started: float) -> float:
    return time.monotonic() - started
