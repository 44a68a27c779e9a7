#!/bin/sh
# T-10m  Deploy the application release. Returns as soon as the rollout is
# submitted; the health step then waits for /health/ready.
# Usage: deploy-app.sh VERSION
set -eu
HERE=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
: "${DEMO_API:=http://127.0.0.1:8000}"; export DEMO_API
api() { python3 "$HERE/_api.py" "$@"; }
say() { printf '[deploy] %s\n' "$*"; }
fail() { printf '[deploy] FAILED: %s\n' "$*" >&2; exit 1; }

VERSION=${1:-}
[ -n "$VERSION" ] || { echo "usage: deploy-app.sh VERSION" >&2; exit 2; }
out=$(api -X POST "/admin/deploy?version=$VERSION" --format '{previous_version}|{ready_in_seconds}') \
    || fail "could not submit the deployment of $VERSION"
IFS='|' read -r previous ready_in <<END
$out
END
say "deploying agente-api $VERSION (previous: $previous)"
say "containers restarting; readiness reports 503 for ~${ready_in}s while $VERSION warms up"
say "rollout of $VERSION submitted"
