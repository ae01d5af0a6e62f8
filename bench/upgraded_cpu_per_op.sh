#!/bin/bash
# CPU per operation of a process started by an upgrade (its inherited
# listeners served with node:net) against a freshly started one (Deno.listen),
# side by side on one redis-server, same checkout.
#
#   bash bench/upgraded_cpu_per_op.sh [rounds=5] [commands=200000]
#
# Starts two shardgates, sends SIGUSR2 to the second and waits until its
# successor serves, then alternates the same GET and MGET10 loads
# (redis-benchmark, 50 clients) between "fresh" and "upgraded" and prints
# each one's user+system CPU per command (from /proc/<pid>/stat) and ops/s.
# Ports: $PORT_BASE (default 7541) for Redis, +10 and +11 for the two proxies.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}; N=${2:-200000}
P0=${PORT_BASE:-7541}; PF_PORT=$((P0 + 10)); PU_PORT=$((P0 + 11))
. "$(dirname "$0")/_cpu_rounds.sh"
cpu_setup # redis-server on $P0 with 100,000 keys, $TMP, and cleanup of $PIDS on exit
start() { # port -> pid
  cat >"$TMP/$1.yaml" <<EOT
shards:
  s: { readers: 127.0.0.1:$1, nodes: [127.0.0.1:$P0] }
EOT
  node_modules/.bin/deno run -A --v8-flags=--max-semi-space-size=2 \
    main.ts run --config "$TMP/$1.yaml" --log-format json >"$TMP/$1.log" 2>&1 &
  echo $!
}
PF=$(start "$PF_PORT"); PIDS+=("$PF")
PO=$(start "$PU_PORT"); PIDS+=("$PO")
for port in "$PF_PORT" "$PU_PORT"; do
  until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.2; done
done
kill -USR2 "$PO"
until grep -q '"upgrade: handed over"' "$TMP/$PU_PORT.log"; do
  grep -q 'upgrade rolled back' "$TMP/$PU_PORT.log" && { cat "$TMP/$PU_PORT.log"; exit 1; }
  sleep 0.2
done
PU=$(grep '"upgrade: handed over"' "$TMP/$PU_PORT.log" | sed 's/.*"pid":\([0-9]*\).*/\1/')
PIDS+=("$PU")
while kill -0 "$PO" 2>/dev/null; do sleep 0.1; done
cpu_rounds "$ROUNDS" "$N" fresh "$PF" "$PF_PORT" upgraded "$PU" "$PU_PORT"
