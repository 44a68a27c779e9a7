#!/bin/sh
# T+15m  Smoke test of the live API: liveness, readiness, version, metrics.
# Usage: smoke.sh
set -eu
HERE=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
: "${DEMO_API:=http://127.0.0.1:8000}"; export DEMO_API
api() { python3 "$HERE/_api.py" "$@"; }
say() { printf '[smoke] %s\n' "$*"; }

failed=""
check() {  # check NAME COMMAND...
    name=$1; shift
    if out=$("$@" 2>&1); then
        say "ok   $name${out:+: $out}"
    else
        say "FAIL $name${out:+: $out}"
        failed="$failed $name"
    fi
}
metrics_ok() { api /metrics | grep -q '^http_requests_total{' && echo "http_requests_total exported"; }
check live api /health/live --format '{status}'
check ready api /health/ready --format '{status} ({version})'
check version api /version --format '{version}, db revision {db_revision}'
check metrics metrics_ok
if [ -n "$failed" ]; then
    echo "[smoke] FAILED:$failed" >&2
    exit 1
fi
say "smoke test passed (4/4)"
