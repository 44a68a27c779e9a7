#!/bin/sh
# T+30m  Full validation against the post-launch targets (error rate < 0.1 %,
# P95 < 1 s over the last 5 minutes), plus version and readiness.
# Usage: full-validation.sh [VERSION]
set -eu
HERE=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
: "${DEMO_API:=http://127.0.0.1:8000}"; export DEMO_API
api() { python3 "$HERE/_api.py" "$@"; }
say() { printf '[full-validation] %s\n' "$*"; }
fail() { printf '[full-validation] FAILED: %s\n' "$*" >&2; exit 1; }
below() { awk -v v="$1" -v limit="$2" 'BEGIN { exit !(v != "" && v != "null" && v + 0 < limit + 0) }'; }

VERSION=${1:-}
ready=$(api /health/ready --accept 503 --format '{status}|{version}') || fail "cannot read /health/ready"
IFS='|' read -r status running <<END
$ready
END
[ "$status" = ready ] || fail "/health/ready says $status"
[ -z "$VERSION" ] || [ "$running" = "$VERSION" ] || fail "running $running, expected $VERSION"
say "agente-api $running ready"
stats=$(api '/stats?window=300' --format '{error_ratio}|{p95_seconds}|{requests_per_second}|{error_ratio:.3%}|{p95_seconds:.2f}|{requests_per_second:.1f}') \
    || fail "cannot read traffic statistics"
IFS='|' read -r err p95 rps err_txt p95_txt rps_txt <<END
$stats
END
[ "$rps" != null ] || fail "no traffic data yet"
say "traffic (5m): $rps_txt req/s"
say "error rate (5m): $err_txt (target < 0.1%)"
say "p95 latency (5m): ${p95_txt}s (target < 1s)"
below "$err" 0.001 || fail "error rate $err_txt is above the 0.1% target"
below "$p95" 1 || fail "p95 latency ${p95_txt}s is above the 1s target"
say "full validation passed"
