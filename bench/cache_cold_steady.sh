#!/bin/bash
# The near cache's cost under a steady cold load: long runs of `MGET` of 10 keys (or, with
# CMD=GET, of GET) drawn uniformly from 100,000 (redis-benchmark, 50 clients, -r 100000) through
# three shardgates side by
# side on one redis-server: checkout A with `cache: true`, checkout B with `cache: true`, and B
# without a cache. The order rotates per round. Each run is long enough (N MGETs, ~10 s) for the
# cache to reach its steady state under the load (lean, full), which the short paired runs of
# bench/cache_cold_ab.sh, with the proxy idle between them, do not. Prints each run's ops/s and
# the proxy's CPU per command (user + system, from /proc/<pid>/stat).
#
#   bash bench/cache_cold_steady.sh <checkout A> <checkout B> [rounds=4] [commands per run=500000]
#   CMD=GET bash bench/cache_cold_steady.sh <checkout A> <checkout B> 4 1000000
#
# Ports: $PORT_BASE (default 7981) for Redis, +1..+3 for the proxies.
set -euo pipefail
A=$(cd "$1" && pwd); B=$(cd "$2" && pwd); ROUNDS=${3:-4}; N=${4:-500000}
P0=${PORT_BASE:-7981}
. "$(dirname "$0")/_cpu_rounds.sh"
cpu_setup # redis-server on $P0 with 100,000 keys, $TMP, and cleanup of $PIDS on exit

cpu_start_cache_pair "$A" "$B" # $PA, $PB (caches), $PO (no cache)
names=(a_cache_on b_cache_on b_cache_off)
pids=("$PA" "$PB" "$PO")
echo "a=$A ($(git -C "$A" rev-parse --short HEAD)) b=$B ($(git -C "$B" rev-parse --short HEAD))"
for r in $(seq "$ROUNDS"); do
  for k in 0 1 2; do
    i=$(((k + r) % 3))
    port=$((P0 + 1 + i)) pid=${pids[$i]}
    t0=$(cpu "$pid"); rps=$(load "$port" "${CMD:-MGET10}" "$N"); t1=$(cpu "$pid")
    awk -v r="$r" -v w="${names[$i]}" -v t=$((t1 - t0)) -v n="$N" -v rps="$rps" -v c="${CMD:-MGET10}" \
      'BEGIN { printf "round=%s %s cmd=%s cpu_us_per_cmd=%.1f rps=%s\n", r, w, c, t * 10000 / n, rps }'
  done
done
