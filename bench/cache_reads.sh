#!/bin/bash
# The near cache on reads besides GET: GET, HGET, HGETALL (a 10-field hash) and one-key EXISTS of
# one hot key, straight from redis-server and through shardgate with the cache off and on
# (`cache: true`), side by side on one redis-server. Per round (the targets' order rotates) and
# command: ops/s at 50 clients and p50 at one client (redis-benchmark's own figures), plus the
# proxy's CPU per command at 50 clients.
#
#   bash bench/cache_reads.sh [checkout=.] [rounds=5] [commands=100000]
#
# Prints one line per round, command and target. Ports: $PORT_BASE (default 7621) for Redis, +10
# and +11 for the two proxies.
set -euo pipefail
HEAD=$(cd "${1:-.}" && pwd); ROUNDS=${2:-5}; N=${3:-100000}
P0=${PORT_BASE:-7621}; POFF_PORT=$((P0 + 10)); PON_PORT=$((P0 + 11))
. "$(dirname "$0")/_cpu_rounds.sh"
cpu_setup
redis-cli -p "$P0" SET hot "$(printf 'v%.0s' $(seq 1 32))" >/dev/null
redis-cli -p "$P0" HSET h f0 value-0000 f1 value-0001 f2 value-0002 f3 value-0003 f4 value-0004 \
  f5 value-0005 f6 value-0006 f7 value-0007 f8 value-0008 f9 value-0009 >/dev/null

POFF=$(cpu_start "$HEAD" "$POFF_PORT"); PIDS+=("$POFF")
PON=$(cpu_start "$HEAD" "$PON_PORT" ", cache: true"); PIDS+=("$PON")
for port in "$POFF_PORT" "$PON_PORT"; do
  until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.2; done
done

bench() { # port clients n cmd… : "<rps> <p50 ms>"
  local port=$1 c=$2 n=$3; shift 3
  redis-benchmark -p "$port" -c "$c" -n "$n" -q "$@" 2>/dev/null | tr '\r' '\n' | grep 'requests per second' |
    tail -1 | sed -E 's/.*: ([0-9.]+) requests per second, p50=([0-9.]+) msec.*/\1 \2/'
}
cmd_args() {
  case $1 in
    GET) echo "GET hot" ;;
    HGET) echo "HGET h f5" ;;
    HGETALL) echo "HGETALL h" ;;
    EXISTS) echo "EXISTS h" ;;
  esac
}
pid_of() { case $1 in off) echo "$POFF" ;; on) echo "$PON" ;; *) echo "" ;; esac; }
port_of() { case $1 in direct) echo "$P0" ;; off) echo "$POFF_PORT" ;; on) echo "$PON_PORT" ;; esac; }

# Warm up: the cache admits the hot keys (read several times a second) and both proxies are JIT-warm.
for cmd in GET HGET HGETALL EXISTS; do
  for who in off on; do bench "$(port_of $who)" 50 "$N" $(cmd_args $cmd) >/dev/null; done
done
TARGETS=(direct off on)
for r in $(seq "$ROUNDS"); do
  for cmd in GET HGET HGETALL EXISTS; do
    for k in 0 1 2; do
      who=${TARGETS[$(((k + r) % 3))]}
      port=$(port_of "$who"); pid=$(pid_of "$who")
      t0=0; [ -n "$pid" ] && t0=$(cpu "$pid")
      read -r rps _ <<<"$(bench "$port" 50 "$N" $(cmd_args "$cmd"))"
      t1=0; [ -n "$pid" ] && t1=$(cpu "$pid")
      read -r _ p50 <<<"$(bench "$port" 1 $((N / 10)) $(cmd_args "$cmd"))"
      awk -v r="$r" -v c="$cmd" -v w="$who" -v t=$((t1 - t0)) -v n="$N" -v rps="$rps" -v p50="$p50" \
        'BEGIN { printf "round=%s cmd=%s %s rps_c50=%s p50_c1_ms=%s cpu_us_per_op=%.1f\n", r, c, w, rps, p50, t * 10000 / n }'
    done
  done
done
