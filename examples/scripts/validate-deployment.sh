#!/bin/sh
# T-60m  Pre-deployment validation.
# Usage: validate-deployment.sh [ENVIRONMENT]      (default: production)
# Proves the API answers, no deployment is half-done and the baseline traffic is
# healthy before anything is changed.
set -eu
HERE=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
: "${DEMO_API:=http://127.0.0.1:8000}"; export DEMO_API
api() { python3 "$HERE/_api.py" "$@"; }
say() { printf '[predeploy] %s\n' "$*"; }
fail() { printf '[predeploy] FAILED: %s\n' "$*" >&2; exit 1; }

ENVIRONMENT=${1:-production}
say "validating $ENVIRONMENT at $DEMO_API"
live=$(api /health/live --format 'alive, up {uptime_seconds:.0f}s') || fail "API is not answering /health/live"
say "api reachable: $live"
state=$(api /admin/state --format '{version}|{db_revision}|{maintenance}|{status}|{mode}') \
    || fail "cannot read the deployment state"
IFS='|' read -r version rev maint status mode <<END
$state
END
say "running $version, db schema revision $rev, traffic $mode"
[ "$status" != deploying ] || fail "a deployment of $version is still starting; wait for it to finish"
[ "$mode" = healthy ] || fail "baseline traffic is $mode, not healthy: fix that before launching"
[ "$maint" = false ] || say "note: the maintenance window is already open"
say "pre-deployment validation passed"
