#!/bin/bash
# CPU per operation of a shardgate router port and twemproxy, side by side on the same 3 redis-servers.
#
#   bash bench/router_cpu_per_op.sh [checkout=.] [rounds=5] [commands=200000]
#
# Both route with ketama and fnv1a_64 over the same servers. Every round runs
# GET and MGET of 10 keys (redis-benchmark, 50 clients) through each (which
# one first alternates by round) and prints the proxy's user+system CPU (from
# /proc/<pid>/stat) per command and the throughput. On a shared, noisy machine
# CPU per op is steadier than ops/s. Ports: $PORT_BASE (default 7601) .. +2
# for Redis, +10 twemproxy, +11 the router, +20..+22 the shards' own ports.
set -euo pipefail
SG=$(cd "${1:-.}" && pwd); ROUNDS=${2:-5}; N=${3:-200000}
P0=${PORT_BASE:-7601}; NC_PORT=$((P0 + 10)); SG_PORT=$((P0 + 11))
NUTCRACKER=${NUTCRACKER:-$(command -v nutcracker || echo /usr/sbin/nutcracker)}
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for i in 0 1 2; do redis-cli -p $((P0 + i)) shutdown nosave >/dev/null 2>&1 || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

for i in 0 1 2; do redis-server --port $((P0 + i)) --save "" --daemonize yes >/dev/null; done
cat >"$TMP/nc.yml" <<EOT
pool:
  listen: 127.0.0.1:$NC_PORT
  redis: true
  distribution: ketama
  hash: fnv1a_64
  servers:
    - 127.0.0.1:$P0:1
    - 127.0.0.1:$((P0 + 1)):1
    - 127.0.0.1:$((P0 + 2)):1
EOT
cat >"$TMP/sg.yaml" <<EOT
shards:
  a: { readers: 127.0.0.1:$((P0 + 20)), nodes: ["127.0.0.1:$P0"] }
  b: { readers: 127.0.0.1:$((P0 + 21)), nodes: ["127.0.0.1:$((P0 + 1))"] }
  c: { readers: 127.0.0.1:$((P0 + 22)), nodes: ["127.0.0.1:$((P0 + 2))"] }
routers:
  r: { listen: 127.0.0.1:$SG_PORT, shards: [a, b, c] }
EOT
"$NUTCRACKER" -c "$TMP/nc.yml" -o "$TMP/nc.log" -s $((P0 + 30)) &
PNC=$!; PIDS+=("$PNC")
(cd "$SG" && exec node_modules/.bin/deno run -A --v8-flags=--max-semi-space-size=2 \
  main.ts run --config "$TMP/sg.yaml" >"$TMP/sg.log" 2>&1) &
PSG=$!; PIDS+=("$PSG")
for port in "$NC_PORT" "$SG_PORT"; do
  until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.2; done
done
redis-benchmark -p "$NC_PORT" -n 100000 -r 100000 -q SET key:__rand_int__ xxx >/dev/null 2>&1
. "$(dirname "$0")/_cpu_rounds.sh"
cpu_rounds "$ROUNDS" "$N" twemproxy "$PNC" "$NC_PORT" shardgate "$PSG" "$SG_PORT"
