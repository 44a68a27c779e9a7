#!/bin/sh
# T-15m  Database migration (up); the rollback undoes it (down).
# T+45m  Contract migration (contract): drops the legacy column; there is no way down after it.
# Usage: migrate.sh up|down|contract
set -eu
HERE=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
: "${DEMO_API:=http://127.0.0.1:8000}"; export DEMO_API
api() { python3 "$HERE/_api.py" "$@"; }
say() { printf '[migrate] %s\n' "$*"; }
fail() { printf '[migrate] FAILED: %s\n' "$*" >&2; exit 1; }

case "${1:-}" in
    up|down|contract) DIRECTION=$1 ;;
    *) echo "usage: migrate.sh up|down|contract" >&2; exit 2 ;;
esac
maint=$(api /admin/state --format '{maintenance}') || fail "cannot read the deployment state"
[ "$DIRECTION" = down ] || [ "$maint" = true ] || say "warning: migrating up outside the maintenance window"
out=$(api -X POST "/admin/migrate?direction=$DIRECTION" --format '{applied}|{from_revision}|{db_revision}') \
    || fail "migration $DIRECTION did not complete"
IFS='|' read -r applied from rev <<END
$out
END
if [ "$DIRECTION" = contract ]; then
    if [ "$applied" = true ]; then
        say "dropped column legacy_sku: $from -> $rev (no way down from here)"
    else
        say "legacy column already dropped"
    fi
    say "schema at revision $rev"
elif [ "$DIRECTION" = up ]; then
    if [ "$applied" = true ]; then
        say "alembic upgrade head: $from -> $rev ... done"
    else
        say "no pending migrations"
    fi
    say "schema at head: revision $rev"
else
    if [ "$applied" = true ]; then
        say "alembic downgrade -1: $from -> $rev ... done"
    else
        say "nothing to downgrade: the launch's migration was not applied"
    fi
    say "schema at revision $rev"
fi
