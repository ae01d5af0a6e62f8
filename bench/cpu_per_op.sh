#!/bin/bash
# CPU per operation of two shardgate checkouts, side by side on one redis-server.
#
#   bash bench/cpu_per_op.sh <base-checkout> <head-checkout> [rounds=5] [commands=200000]
#
# Each checkout needs `npm ci`. Both proxies run at once; every round runs
# base and head (which one first alternates by round) over the same GET and MGET10 loads (redis-benchmark, 50 clients)
# and prints the proxy's user+system CPU (from /proc/<pid>/stat) per command and
# the throughput. On a shared, noisy machine CPU per op is steadier than ops/s.
# Ports: $PORT_BASE (default 7501) for Redis, +10 and +11 for the two proxies.
# $EXTRA: settings for both shards (`EXTRA=", cache: true"`: the near cache on in both);
# $RANGE: how many of the keys the loads read (`RANGE=1000`: a hot set the cache holds).
set -euo pipefail
BASE=$(cd "$1" && pwd); HEAD=$(cd "$2" && pwd); ROUNDS=${3:-5}; N=${4:-200000}
P0=${PORT_BASE:-7501}; PB_PORT=$((P0 + 10)); PH_PORT=$((P0 + 11))
. "$(dirname "$0")/_cpu_rounds.sh"
cpu_setup # redis-server on $P0 with 100,000 keys, $TMP, and cleanup of $PIDS on exit

PB=$(cpu_start "$BASE" "$PB_PORT" "${EXTRA:-}"); PIDS+=("$PB")
PH=$(cpu_start "$HEAD" "$PH_PORT" "${EXTRA:-}"); PIDS+=("$PH")
for port in "$PB_PORT" "$PH_PORT"; do
  until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.2; done
done
cpu_rounds "$ROUNDS" "$N" base "$PB" "$PB_PORT" head "$PH" "$PH_PORT"
