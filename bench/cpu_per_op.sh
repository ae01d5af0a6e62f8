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
set -euo pipefail
BASE=$(cd "$1" && pwd); HEAD=$(cd "$2" && pwd); ROUNDS=${3:-5}; N=${4:-200000}
P0=${PORT_BASE:-7501}; PB_PORT=$((P0 + 10)); PH_PORT=$((P0 + 11))
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  redis-cli -p "$P0" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

redis-server --port "$P0" --save "" --daemonize yes >/dev/null
until redis-cli -p "$P0" ping >/dev/null 2>&1; do sleep 0.1; done
redis-benchmark -p "$P0" -n 100000 -r 100000 -q SET key:__rand_int__ xxx >/dev/null 2>&1

start() { # checkout port -> pid
  cat >"$TMP/$2.yaml" <<EOT
shards:
  s: { readers: 127.0.0.1:$2, nodes: [127.0.0.1:$P0] }
EOT
  (cd "$1" && exec node_modules/.bin/deno run -A --v8-flags=--max-semi-space-size=2 \
    main.ts run --config "$TMP/$2.yaml" >"$TMP/$2.log" 2>&1) &
  echo $!
}
PB=$(start "$BASE" "$PB_PORT"); PIDS+=("$PB")
PH=$(start "$HEAD" "$PH_PORT"); PIDS+=("$PH")
for port in "$PB_PORT" "$PH_PORT"; do
  until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.2; done
done
# The pid of the deno process itself (the subshell execs it).
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; } # clock ticks (1/100 s)

MGET="MGET"; for _ in 1 2 3 4 5 6 7 8 9 10; do MGET="$MGET key:__rand_int__"; done
load() { # port cmd
  if [ "$2" = GET ]; then set -- "$1" GET key:__rand_int__; else set -- "$1" $MGET; fi
  local port=$1; shift
  redis-benchmark -p "$port" -c 50 -n "$N" -r 100000 -q "$@" 2>/dev/null | tr '\r' '\n' |
    grep -o '[0-9.]* requests per second' | tail -1 | cut -d' ' -f1
}
for port in "$PB_PORT" "$PH_PORT"; do load "$port" GET >/dev/null; done # warm up
for r in $(seq "$ROUNDS"); do
  for cmd in GET MGET10; do
    order="base head"; [ $((r % 2)) = 0 ] && order="head base" # who goes first alternates
    for who in $order; do
      if [ "$who" = base ]; then pid=$PB port=$PB_PORT; else pid=$PH port=$PH_PORT; fi
      a=$(cpu "$pid"); rps=$(load "$port" "$cmd"); b=$(cpu "$pid")
      awk -v r="$r" -v c="$cmd" -v w="$who" -v t=$((b - a)) -v n="$N" -v rps="$rps" \
        'BEGIN { printf "round=%s cmd=%s %s cpu_us_per_op=%.1f rps=%s\n", r, c, w, t * 10000 / n, rps }'
    done
  done
done
