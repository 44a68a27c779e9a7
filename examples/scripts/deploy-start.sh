#!/bin/sh
# T-30m  Begin deployment: pull and stage the release images (simulated for the demo).
# Usage: deploy-start.sh VERSION
set -eu
HERE=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
: "${DEMO_API:=http://127.0.0.1:8000}"; export DEMO_API
api() { python3 "$HERE/_api.py" "$@"; }
say() { printf '[deploy-start] %s\n' "$*"; }
fail() { printf '[deploy-start] FAILED: %s\n' "$*" >&2; exit 1; }

VERSION=${1:-}
[ -n "$VERSION" ] || { echo "usage: deploy-start.sh VERSION" >&2; exit 2; }
cur=$(api /version --format '{version}|{status}') || fail "cannot read the running version"
IFS='|' read -r running status <<END
$cur
END
[ "$status" != deploying ] || fail "another deployment is still in progress"
say "starting deployment of $VERSION (running: $running)"
[ "$running" != "$VERSION" ] || say "note: $VERSION is already running; this is a redeploy"
for image in agente-api agente-worker; do
    say "pulling registry.local/agente/$image:$VERSION ... done"
done
say "images staged; next: database migration"
