#!/bin/bash
# CPU per operation of shardgate with `cache: true` against without, one checkout, side by side on
# one redis-server, over a cold uniform keyspace (redis-benchmark -r 100000): what the near cache's
# lookup and admission cost when they find nothing hot (issue 19's "cold keyspace" cell).
#
#   bash bench/cache_cpu_per_op.sh <checkout> [rounds=5] [commands=200000]
#
# Prints the same lines as cpu_per_op.sh, `off` and `on` in place of base and head.
# Ports: $PORT_BASE (default 7521) for Redis, +10 and +11 for the two proxies.
set -euo pipefail
HEAD=$(cd "$1" && pwd); ROUNDS=${2:-5}; N=${3:-200000}
P0=${PORT_BASE:-7521}; POFF_PORT=$((P0 + 10)); PON_PORT=$((P0 + 11))
. "$(dirname "$0")/_cpu_rounds.sh"
cpu_setup # redis-server on $P0 with 100,000 keys, $TMP, and cleanup of $PIDS on exit

POFF=$(cpu_start "$HEAD" "$POFF_PORT"); PIDS+=("$POFF")
PON=$(cpu_start "$HEAD" "$PON_PORT" ", cache: true"); PIDS+=("$PON")
for port in "$POFF_PORT" "$PON_PORT"; do
  until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.2; done
done
cpu_rounds "$ROUNDS" "$N" off "$POFF" "$POFF_PORT" on "$PON" "$PON_PORT"
