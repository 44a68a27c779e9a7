"""A local HTTP endpoint standing in for Slack and webhooks (unreachable from here): it records
what is POSTed to it and answers with a chosen status, after a chosen delay."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """A local HTTP endpoint that records the JSON POSTed to it (Slack is unreachable from here)."""

    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        self.posts: list[tuple[str, dict]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(delay)
                receiver.posts.append((self.path, json.loads(body)))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
