#!/usr/bin/env python3
"""Tiny HTTP client for the demo scripts (stdlib only, so nothing beyond python3 is needed).

    _api.py [-X METHOD] [-d BODY] [--format TEMPLATE] [--accept CODES] PATH

Calls $DEMO_API + PATH (DEMO_API defaults to http://127.0.0.1:8000) and prints the
response body, or, with --format, the JSON response's fields through a
str.format template such as '{version} (db revision {db_revision})' or
'{error_ratio:.2%}' (strings print as they are, true/false/null as JSON).

Exit status: 0 on a 2xx answer (or a status listed in --accept, e.g. --accept 503);
1 on any other HTTP status, with the service's error message on stderr;
2 when the API cannot be reached at all.
"""

from __future__ import annotations

import argparse
import json
import os
import string
import sys
import urllib.error
import urllib.request

DEFAULT_API = "http://127.0.0.1:8000"


class _JSONFormatter(string.Formatter):
    """str.format where strings print as they are and true/false/null as JSON;
    a format spec that does not fit the value (e.g. {x:.1%} on null) prints it plain."""

    def format_field(self, value: object, format_spec: str) -> str:
        if value is None or isinstance(value, (bool, dict, list)):
            return json.dumps(value)
        try:
            return format(value, format_spec)
        except (ValueError, TypeError):
            return str(value)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="_api.py", description="call the demo API")
    p.add_argument("path", help="e.g. /health/ready or /admin/deploy?version=v1.4.0")
    p.add_argument("-X", "--method", default="GET")
    p.add_argument("-d", "--data", default=None, help="request body (text)")
    p.add_argument("--format", default=None, help="str.format template over the JSON answer")
    p.add_argument(
        "--accept", default="", help="extra HTTP statuses that count as success, e.g. 503"
    )
    p.add_argument("--timeout", type=float, default=float(os.environ.get("DEMO_API_TIMEOUT", "5")))
    args = p.parse_args(argv)

    base = (os.environ.get("DEMO_API") or DEFAULT_API).rstrip("/")
    url = base + (args.path if args.path.startswith("/") else "/" + args.path)
    method = args.method.upper()
    what = f"{method} {args.path}"
    accept = {int(c) for c in args.accept.replace(",", " ").split()}
    data = args.data.encode("utf-8") if args.data is not None else None
    if data is None and method == "POST":
        data = b""
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "text/plain; charset=utf-8")

    try:
        with urllib.request.urlopen(req, timeout=args.timeout) as resp:
            status, body = resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        print(
            f"error: demo API not reachable at {base} ({what}): {reason}. "
            "Is examples/demo_service.py running? (DEMO_API sets the address)",
            file=sys.stderr,
        )
        return 2

    ok = 200 <= status < 300 or status in accept
    if not ok:
        message = body.strip()
        try:
            message = json.loads(body).get("error") or message
        except (ValueError, AttributeError):
            pass
        print(f"error: {what} -> HTTP {status}: {message}", file=sys.stderr)
        return 1

    if args.format is None:
        sys.stdout.write(body if body.endswith("\n") or not body else body + "\n")
        return 0
    try:
        doc = json.loads(body)
        if not isinstance(doc, dict):
            raise ValueError("not an object")
        print(_JSONFormatter().vformat(args.format, (), doc))
    except (ValueError, AttributeError):
        print(
            f"error: {what} did not answer with a JSON object: {body.strip()[:200]}",
            file=sys.stderr,
        )
        return 1
    except KeyError as e:
        print(f"error: {what} answer has no field {e}: {body.strip()[:200]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
