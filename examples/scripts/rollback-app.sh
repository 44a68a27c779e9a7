#!/bin/sh
# Rollback: put the previous release back. Safe to run when nothing was deployed
# (it then says so and succeeds), so a rollback that starts early still completes.
# Usage: rollback-app.sh
set -eu
HERE=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
: "${DEMO_API:=http://127.0.0.1:8000}"; export DEMO_API
api() { python3 "$HERE/_api.py" "$@"; }
say() { printf '[rollback-app] %s\n' "$*"; }
fail() { printf '[rollback-app] FAILED: %s\n' "$*" >&2; exit 1; }

out=$(api -X POST /admin/rollback --format '{rolled_back}|{from_version}|{version}') \
    || fail "could not roll the application back"
IFS='|' read -r rolled from running <<END
$out
END
if [ "$rolled" = true ]; then
    say "rolling back agente-api: $from -> $running"
    say "containers restarting on $running; readiness returns once it is up"
else
    say "nothing to roll back: $running is running and no newer release was deployed"
fi
