#!/bin/sh
# T-45m  Open the maintenance window (on); the health step and the rollback close it (off).
# Usage: maintenance.sh on|off
set -eu
HERE=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
: "${DEMO_API:=http://127.0.0.1:8000}"; export DEMO_API
api() { python3 "$HERE/_api.py" "$@"; }
say() { printf '[maintenance] %s\n' "$*"; }
fail() { printf '[maintenance] FAILED: %s\n' "$*" >&2; exit 1; }

case "${1:-}" in
    on|off) WANT=$1 ;;
    *) echo "usage: maintenance.sh on|off" >&2; exit 2 ;;
esac
out=$(api -X POST -d "$WANT" /admin/maintenance --format '{changed}|{status}') \
    || fail "could not switch maintenance $WANT"
IFS='|' read -r changed status <<END
$out
END
if [ "$changed" != true ]; then
    say "maintenance window already $WANT; nothing to change"
elif [ "$WANT" = on ]; then
    say "maintenance window open: public traffic gets the maintenance page"
    say "status page: scheduled maintenance notice posted"
else
    say "maintenance window closed: public traffic reaches the API again"
    say "status page: maintenance notice removed"
fi
say "readiness is now: $status"
