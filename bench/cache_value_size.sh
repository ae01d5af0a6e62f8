#!/bin/bash
# A hot key's GET by value size, through the near cache of two checkouts side by side: one
# redis-server with keys of 3 B, 10 KB and 150 KB, checkout A with `cache: true`, checkout B with
# `cache: true`, B without a cache, and the server directly; redis-benchmark, 50 clients, the
# targets' order rotating per round. Prints each run's ops/s and the proxy's CPU per GET (user +
# system, /proc/<pid>/stat). A before/after of how hits are written (large replies go out as the
# entry's own bytes, `WRITE_SHARED_MIN`).
#
#   bash bench/cache_value_size.sh <checkout A> <checkout B> [rounds=5]
#
# Ports: $PORT_BASE (default 7991) for Redis, +1..+3 for the proxies.
set -euo pipefail
A=$(cd "$1" && pwd); B=$(cd "$2" && pwd); ROUNDS=${3:-5}
P0=${PORT_BASE:-7991}
. "$(dirname "$0")/_cpu_rounds.sh"
cpu_setup # redis-server on $P0, $TMP, and cleanup of $PIDS on exit
redis-cli -p "$P0" set v3 abc >/dev/null
head -c 10000 /dev/zero | tr '\0' 'y' | redis-cli -p "$P0" -x set v10k >/dev/null
head -c 150000 /dev/zero | tr '\0' 'x' | redis-cli -p "$P0" -x set v150k >/dev/null

cpu_start_cache_pair "$A" "$B" # $PA, $PB (caches), $PO (no cache)
echo "a=$A ($(git -C "$A" rev-parse --short HEAD)) b=$B ($(git -C "$B" rev-parse --short HEAD), plus its uncommitted changes)"
names=(direct a_cache_on b_cache_on b_cache_off)
ports=("$P0" $((P0 + 1)) $((P0 + 2)) $((P0 + 3)))
pids=("" "$PA" "$PB" "$PO")
rps_of() { # port key n
  redis-benchmark -p "$1" -c 50 -n "$3" -q GET "$2" 2>/dev/null | tr '\r' '\n' |
    grep -o '[0-9.]* requests per second' | tail -1 | cut -d' ' -f1
}
for key_n in v3:200000 v10k:50000 v150k:20000; do
  key=${key_n%%:*} n=${key_n##*:}
  for i in 1 2 3; do rps_of "${ports[$i]}" "$key" 2000 >/dev/null; done # admitted, cached
  for r in $(seq "$ROUNDS"); do
    for k in 0 1 2 3; do
      i=$(((k + r) % 4))
      port=${ports[$i]} pid=${pids[$i]}
      t0=0; [ -n "$pid" ] && t0=$(cpu "$pid")
      rps=$(rps_of "$port" "$key" "$n")
      us=-; [ -n "$pid" ] && us=$(awk -v t=$(($(cpu "$pid") - t0)) -v n="$n" 'BEGIN { printf "%.1f", t * 10000 / n }')
      echo "key=$key round=$r ${names[$i]} rps=$rps cpu_us_per_get=$us"
    done
  done
done
