#!/bin/bash
# GET with 1 client (redis-benchmark -c 1) through base 63cd6c3 (/tmp/zone-before) and head (zone branch, no zone:),
# both running at once on one redis-server, alternating per round; CPU per op from /proc/<pid>/stat.
# Raw output: get_c1_cpu_per_op.txt (8 rounds, 40000 GETs each); get_c1_rps.txt is an earlier 6-round run of rps only.
set -euo pipefail
BASE=/tmp/zone-before; HEAD=/work/wt-zone; P0=7541; PB=7551; PH=7552
TMP=$(mktemp -d); PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; redis-cli -p $P0 shutdown nosave >/dev/null 2>&1 || true; rm -rf "$TMP"; }
trap cleanup EXIT
redis-server --port $P0 --save "" --daemonize yes >/dev/null
until redis-cli -p $P0 ping >/dev/null 2>&1; do sleep 0.1; done
redis-benchmark -p $P0 -n 100000 -r 100000 -q SET key:__rand_int__ xxx >/dev/null 2>&1
start() { printf 'shards:\n  s: { readers: 127.0.0.1:%s, nodes: [127.0.0.1:%s] }\n' $2 $P0 >"$TMP/$2.yaml"
  (cd "$1" && exec node_modules/.bin/deno run -A --v8-flags=--max-semi-space-size=2 main.ts run --config "$TMP/$2.yaml" >"$TMP/$2.log" 2>&1) & echo $!; }
PIDS+=($(start $BASE $PB)); PIDS+=($(start $HEAD $PH))
for port in $PB $PH; do until redis-cli -p $port ping >/dev/null 2>&1; do sleep 0.2; done; done
for port in $PB $PH; do redis-benchmark -p $port -c 1 -n 20000 -r 100000 -q GET key:__rand_int__ >/dev/null 2>&1; done
for r in 1 2 3 4 5 6 7 8; do
  order="base head"; [ $((r % 2)) = 0 ] && order="head base"
  for who in $order; do port=$PB; [ $who = head ] && port=$PH
    pid=${PIDS[0]}; [ $who = head ] && pid=${PIDS[1]}
    t0=$(awk '{print $14 + $15}' /proc/$pid/stat)
    rps=$(redis-benchmark -p $port -c 1 -n 40000 -r 100000 -q GET key:__rand_int__ 2>/dev/null | tr '\r' '\n' | grep -o '[0-9.]* requests per second' | tail -1 | cut -d' ' -f1)
    t1=$(awk '{print $14 + $15}' /proc/$pid/stat)
    awk -v r=$r -v w=$who -v t=$((t1 - t0)) -v rps=$rps 'BEGIN { printf "round=%s cmd=GET_c1 %s cpu_us_per_op=%.1f rps=%s\n", r, w, t * 10000 / 40000, rps }'
  done
done
