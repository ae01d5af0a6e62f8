#!/bin/bash
# The near cache's cost over a cold uniform keyspace, as many short paired runs: shardgate with
# `cache: true` against without, one checkout, one redis-server with 100,000 keys, redis-benchmark
# (50 clients, -r 100000) through each in turn, the order alternating per pair. Prints each pair's
# on/off ratios of CPU per command and of ops/s, then their medians. On a noisy shared machine
# single runs swing by ±30%; the median of many pairs is the figure to quote (issue 19: "with the
# cache on but a cold uniform keyspace, less than 3% slower than off (paired)").
#
#   bash bench/cache_cold_ab.sh <checkout> [pairs=30] [commands=60000]      # CMD=MGET10 for MGET
#
# Ports: $PORT_BASE (default 7961) for Redis, +1 and +2 for the two proxies.
set -euo pipefail
HEAD=$(cd "$1" && pwd); PAIRS=${2:-30}; N=${3:-60000}
P0=${PORT_BASE:-7961}
. "$(dirname "$0")/_cpu_rounds.sh"
cpu_setup # redis-server on $P0 with 100,000 keys, $TMP, and cleanup of $PIDS on exit

POFF=$(cpu_start "$HEAD" $((P0 + 1))); PIDS+=("$POFF")
PON=$(cpu_start "$HEAD" $((P0 + 2)) ", cache: true"); PIDS+=("$PON")
for port in $((P0 + 1)) $((P0 + 2)); do
  until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.2; done
  load "$port" GET 100000 >/dev/null # warm up
done
ratios=()
for r in $(seq "$PAIRS"); do
  order="off on"; [ $((r % 2)) = 0 ] && order="on off"
  for who in $order; do
    if [ "$who" = off ]; then pid=$POFF port=$((P0 + 1)); else pid=$PON port=$((P0 + 2)); fi
    t0=$(cpu "$pid"); rps=$(load "$port" "${CMD:-GET}" "$N"); t1=$(cpu "$pid")
    eval "c_$who=$((t1 - t0)); r_$who=$rps"
  done
  line=$(awk -v a="$c_on" -v b="$c_off" -v x="$r_on" -v y="$r_off" -v r="$r" \
    'BEGIN { printf "pair=%d cpu_on_off=%.3f rps_on_off=%.3f", r, a / b, x / y }')
  echo "$line"
  ratios+=("$line")
done
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
cpu_med=$(printf '%s\n' "${ratios[@]}" | sed 's/.*cpu_on_off=\([0-9.]*\).*/\1/' | median)
rps_med=$(printf '%s\n' "${ratios[@]}" | sed 's/.*rps_on_off=\([0-9.]*\).*/\1/' | median)
echo "cmd=${CMD:-GET} pairs=$PAIRS median cpu_on_off=$cpu_med median rps_on_off=$rps_med"
