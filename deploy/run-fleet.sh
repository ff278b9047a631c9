#!/usr/bin/env bash
# A Parley fleet on one machine: 2 API nodes, 2 gateways, a worker and HAProxy in front, over the
# MariaDB, Redis and NATS that deploy/fleet.env names. Logs go to $LOGS (./fleet-logs).
# Ctrl-C stops everything (SIGTERM: each node drains first).
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/fleet.env
LOGS=${LOGS:-fleet-logs}
PARLEY=${PARLEY:-.venv/bin/parley}
mkdir -p "$LOGS"
pids=()
trap 'kill -TERM "${pids[@]}" 2>/dev/null; wait' EXIT INT TERM

node() {  # name role worker-id http-port gateway-port
    PARLEY_WORKER_ID=$3 "$PARLEY" serve --role "$2" --host 127.0.0.1 --port "$4" \
        --gateway-port "$5" --data-dir "$LOGS/$1" >"$LOGS/$1.log" 2>&1 &
    pids+=($!)
}
node api1 api 1 "${PARLEY_API1##*:}" 0
node api2 api 2 "${PARLEY_API2##*:}" 0
node gw1 gateway 3 "$PARLEY_GW1_HEALTH" "${PARLEY_GW1##*:}"
node gw2 gateway 4 "$PARLEY_GW2_HEALTH" "${PARLEY_GW2##*:}"
node worker worker 5 "$PARLEY_WORKER_HEALTH" 0
for port in "${PARLEY_API1##*:}" "${PARLEY_API2##*:}" "$PARLEY_GW1_HEALTH" "$PARLEY_GW2_HEALTH" \
    "$PARLEY_WORKER_HEALTH"; do
    until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do
        for pid in "${pids[@]}"; do  # a node that died will never be ready
            kill -0 "$pid" 2>/dev/null || { echo "a node exited; see $LOGS/*.log" >&2; exit 1; }
        done
        sleep 0.2
    done
done
haproxy -db -f deploy/haproxy.cfg >"$LOGS/haproxy.log" 2>&1 &
pids+=($!)
echo "Parley fleet: Web API and web client at http://$PARLEY_LB/, WebSockets at $PARLEY_GATEWAY_URL"
echo "Users: PARLEY_SHARDS=... $PARLEY user create NAME (source deploy/fleet.env first)"
wait
