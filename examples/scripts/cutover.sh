#!/bin/sh
# T+0  Go live: send all traffic to the new release. Refuses unless the API is
# ready and (when VERSION is given) running that version.
# Usage: cutover.sh [VERSION]
set -eu
HERE=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
: "${DEMO_API:=http://127.0.0.1:8000}"; export DEMO_API
api() { python3 "$HERE/_api.py" "$@"; }
say() { printf '[cutover] %s\n' "$*"; }
fail() { printf '[cutover] FAILED: %s\n' "$*" >&2; exit 1; }

VERSION=${1:-}
ready=$(api /health/ready --accept 503 --format '{status}|{version}') || fail "cannot read /health/ready"
IFS='|' read -r status running <<END
$ready
END
[ "$status" = ready ] || fail "refusing to cut over: /health/ready says $status"
[ -z "$VERSION" ] || [ "$running" = "$VERSION" ] \
    || fail "refusing to cut over: running $running, expected $VERSION"
at=$(api -X POST /admin/cutover --format '{cutover_at}') || fail "could not record the cutover"
say "load balancer: 100% of traffic now goes to agente-api $running"
say "status page: deployment complete ($at)"
