#!/bin/sh
# T+60m  Monitoring handoff to the on-call team: a short summary of what is live.
# Usage: handoff.sh [VERSION]
set -eu
HERE=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
: "${DEMO_API:=http://127.0.0.1:8000}"; export DEMO_API
api() { python3 "$HERE/_api.py" "$@"; }
say() { printf '[handoff] %s\n' "$*"; }
fail() { printf '[handoff] FAILED: %s\n' "$*" >&2; exit 1; }

VERSION=${1:-}
state=$(api /admin/state --format '{status}|{version}|{previous_version}|{db_revision}|{db_previous_revision}|{cutover_at}') \
    || fail "cannot read the deployment state"
IFS='|' read -r status running previous rev prev_rev cutover_at <<END
$state
END
[ "$status" = ready ] || fail "service is $status; not handing over a service that is not ready"
[ -z "$VERSION" ] || [ "$running" = "$VERSION" ] || fail "running $running, expected $VERSION"
stats=$(api '/stats?window=300' --format '{requests_per_second:.1f} req/s, error rate {error_ratio:.3%}, p95 {p95_seconds:.2f}s') \
    || fail "cannot read traffic statistics"
say "handing agente-api $running over to on-call (live since $cutover_at)"
say "last 5m: $stats"
if [ "$previous" != null ] && [ "$prev_rev" != null ]; then
    say "rollback point kept: release $previous, db schema $rev -> $prev_rev"
elif [ "$previous" != null ]; then
    say "rollback point kept: release $previous (db schema $rev has no way down: roll forward)"
fi
say "stakeholder email: launch of $running successful"
