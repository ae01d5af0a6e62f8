#!/bin/bash
# CPU per operation of a base checkout against this one with zone affinity on
# (issue 17): the head proxy runs with `zone: $ZONE` and its node in that zone,
# so every read takes the zoned balancer's local tier and counts as `same`.
#
#   bash bench/zone_cpu_per_op.sh <base-checkout> <head-checkout> [rounds=5] [commands=200000]
#
# Same loads and output as cpu_per_op.sh (GET and MGET10, 50 clients,
# redis-benchmark; user+system CPU per command from /proc/<pid>/stat).
# Ports: $PORT_BASE (default 7521) for Redis, +10 and +11 for the two proxies.
set -euo pipefail
BASE=$(cd "$1" && pwd); HEAD=$(cd "$2" && pwd); ROUNDS=${3:-5}; N=${4:-200000}
ZONE=${ZONE:-az-a}
P0=${PORT_BASE:-7521}; PB_PORT=$((P0 + 10)); PH_PORT=$((P0 + 11))
. "$(dirname "$0")/_cpu_rounds.sh"
cpu_setup # redis-server on $P0 with 100,000 keys, $TMP, and cleanup of $PIDS on exit

start() { # checkout port config-text -> pid
  printf '%s\n' "$3" >"$TMP/$2.yaml"
  (cd "$1" && exec node_modules/.bin/deno run -A --v8-flags=--max-semi-space-size=2 \
    main.ts run --config "$TMP/$2.yaml" >"$TMP/$2.log" 2>&1) &
  echo $!
}
PB=$(start "$BASE" "$PB_PORT" "shards:
  s: { readers: 127.0.0.1:$PB_PORT, nodes: [127.0.0.1:$P0] }"); PIDS+=("$PB")
PH=$(start "$HEAD" "$PH_PORT" "zone: $ZONE
shards:
  s: { readers: 127.0.0.1:$PH_PORT, nodes: [{ address: 127.0.0.1:$P0, zone: $ZONE }] }"); PIDS+=("$PH")
for port in "$PB_PORT" "$PH_PORT"; do
  until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.2; done
done
cpu_rounds "$ROUNDS" "$N" base "$PB" "$PB_PORT" head "$PH" "$PH_PORT"
