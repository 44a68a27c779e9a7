#!/usr/bin/env bash
# Rehearses the example launch (examples/launch.yaml: the seed's T-60min..T+60min timeline) against
# the demo service on this machine, with a real Prometheus scraping it, at --speed so the whole
# timeline takes about a minute. Installs what it needs first (tests/bootstrap.sh).
#
#   examples/demo.sh                 # the rehearsal
#   DEMO_SPEED=60 examples/demo.sh   # slower
#   examples/demo.sh --dry-run       # extra arguments go to `launchctl run`
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source tests/bootstrap.sh

SPEED="${DEMO_SPEED:-180}"
WORK="$PWD/.launchctl/demo-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$WORK"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
API_PORT="$(free_port)"
PROM_PORT="$(free_port)"
API="http://127.0.0.1:$API_PORT"
PROM="http://127.0.0.1:$PROM_PORT"

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

python3 examples/demo_service.py --port "$API_PORT" --state-dir "$WORK/service" 2>"$WORK/service.log" &
pids+=($!)

cat >"$WORK/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: agente-api
    static_configs: [{targets: ["127.0.0.1:$API_PORT"]}]
YAML
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prometheus-data" \
  --web.listen-address="127.0.0.1:$PROM_PORT" >"$WORK/prometheus.log" 2>&1 &
pids+=($!)

echo "demo: service $API, Prometheus $PROM; waiting for the first scrapes..." >&2
python3 - "$API" "$PROM" <<'PY'
import json, sys, time, urllib.request
api, prom = sys.argv[1:]
deadline = time.time() + 60
while time.time() < deadline:
    try:
        urllib.request.urlopen(api + "/health/live", timeout=1)
        with urllib.request.urlopen(prom + "/api/v1/query?query=sum(rate(http_requests_total[5m]))", timeout=1) as r:
            if json.load(r)["data"]["result"]:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.5)
sys.exit("demo: the service or Prometheus did not come up; see the logs in .launchctl/demo-*")
PY

status=0
# The example checklist decides GO WITH CAUTION, which asks a person before the point of no
# return (the contract migration) even with --yes; an unattended rehearsal says why it need not.
launchctl run examples/launch.yaml --speed "$SPEED" --yes \
  --override-gate "demo rehearsal on a local service; the checklist's caution is accepted" \
  --var "api=$API" --var "prometheus=$PROM" --journal "$WORK/journal" "$@" || status=$?
launchctl report "$WORK/journal" -o "$WORK/launch-record.md"
launchctl report "$WORK/journal" --format html -o "$WORK/launch-record.html"
echo "demo: launch record: $WORK/launch-record.html (and .md; exit $status)" >&2
exit "$status"
