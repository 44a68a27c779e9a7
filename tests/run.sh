#!/usr/bin/env bash
# Runs the whole test suite, installing what it needs first (see tests/bootstrap.sh).
# Extra arguments go to pytest, e.g.  tests/run.sh -k journal -x
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source tests/bootstrap.sh
exec python -m pytest "$@"
