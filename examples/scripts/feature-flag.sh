#!/bin/sh
# Roll-forward: switch the new release's failing code path off instead of rolling back (past the
# point of no return the previous release cannot run on the contracted schema). In the demo
# service the flag is the traffic mode: "off" brings the synthetic traffic back to healthy.
# Usage: feature-flag.sh new-pricing off|on
set -eu
HERE=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
: "${DEMO_API:=http://127.0.0.1:8000}"; export DEMO_API
case "${2:-}" in
    off) mode=healthy ;;
    on) mode=failing ;;
    *) echo "usage: feature-flag.sh FLAG off|on" >&2; exit 2 ;;
esac
python3 "$HERE/_api.py" -X POST "/control/mode?mode=$mode" --format "[flag] ${1:-flag} $2: traffic {mode}"
