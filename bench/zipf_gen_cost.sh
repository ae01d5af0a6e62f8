#!/bin/bash
# CPU per GET of the two Zipf load generators and of the targets they load. One redis-server
# (100,000 keys), a shardgate with `cache: true` and one without in front of it, and the
# do-nothing Deno responder (bench/get_responder.ts: the floor of any Deno server here); each
# round runs bench/zipf_get.c and bench/zipf_get.ts (50 clients, Zipf 0.99 over the first $KEYS
# keys, default all 100,000; 1 s warm-up, 4 s counted) against Redis directly, then zipf_get.c
# through both shardgates and against the responder, and prints each generator's CPU per GET,
# each target's CPU per GET split into user and system (kernel) time (warm-up included), and the
# ops/s. KEYS=1000 makes every cached read a hit once the cache is warm.
#
#   bash bench/zipf_gen_cost.sh <checkout> [rounds=3]
#
# Ports: $PORT_BASE (default 7981) for Redis, +1 and +2 for the two shardgates, +3 the responder.
set -euo pipefail
HEAD=$(cd "$1" && pwd); ROUNDS=${2:-3}
P0=${PORT_BASE:-7981}
. "$(dirname "$0")/_cpu_rounds.sh"
cpu_setup # redis-server on $P0 with 100,000 keys, $TMP, and cleanup of $PIDS on exit
cc -O2 -o "$TMP/zipf_get" "$HEAD/bench/zipf_get.c" -lm

PON=$(cpu_start "$HEAD" $((P0 + 1)) ", cache: true"); PIDS+=("$PON")
POFF=$(cpu_start "$HEAD" $((P0 + 2))); PIDS+=("$POFF")
"$HEAD/node_modules/.bin/deno" run -A "$HEAD/bench/get_responder.ts" --port $((P0 + 3)) \
  >"$TMP/floor.log" 2>&1 &
PFLOOR=$!; PIDS+=("$PFLOOR")
for port in $((P0 + 1)) $((P0 + 2)) $((P0 + 3)); do until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.2; done; done
REDIS=$(redis-cli -p "$P0" info server | tr -d '\r' | grep '^process_id:' | cut -d: -f2)

KEYS=${KEYS:-100000}
ticks() { awk '{print $14, $15}' "/proc/$1/stat"; } # user and system clock ticks (1/100 s)

run() { # name generator target-pid port
  local name=$1 gen=$2 pid=$3 port=$4 t0 t1 out times cmd=("$TMP/zipf_get")
  [ "$gen" = c ] || cmd=("$HEAD/node_modules/.bin/deno" run -A "$HEAD/bench/zipf_get.ts")
  t0=$(ticks "$pid")
  # bash's `time` gives the generator's own user and system seconds.
  times=$( { TIMEFORMAT='%U %S'; time "${cmd[@]}" --port "$port" --clients 50 --seconds 4 \
    --keys "$KEYS" --zipf 0.99 >"$TMP/out"; } 2>&1)
  t1=$(ticks "$pid")
  out=$(cat "$TMP/out")
  python3 -c '
import json, sys
d = json.loads(sys.argv[1]); n = d["ops"] + d["warmupOps"]
u, s = map(float, sys.argv[2].split())
tu0, ts0, tu1, ts1 = map(int, sys.argv[6].split())
tu, ts = (tu1 - tu0) * 1e4 / n, (ts1 - ts0) * 1e4 / n
print("round=%s keys=%s gen=%s target=%s gen_cpu_us_per_op=%.1f target_cpu_us_per_op=%.1f "
  "target_user_us=%.1f target_sys_us=%.1f rps=%d p50_ms=%.4f" % (sys.argv[3], sys.argv[7],
  sys.argv[4], sys.argv[5], (u + s) * 1e6 / n, tu + ts, tu, ts, d["opsPerSec"], d["p50Ms"]))
' "$out" "$times" "$r" "$gen" "$name" "$t0 $t1" "$KEYS"
}

for r in $(seq "$ROUNDS"); do
  run direct c "$REDIS" "$P0"
  run direct deno "$REDIS" "$P0"
  run cache_on c "$PON" $((P0 + 1))
  run cache_off c "$POFF" $((P0 + 2))
  run deno_floor c "$PFLOOR" $((P0 + 3))
done
