#!/bin/bash
# The near cache's cost over a cold uniform keyspace, measured side by side *at the same time*:
# two shardgates of one checkout read one redis-server (100,000 keys), one with `cache: true` and
# one without, and two copies of the C load generator (bench/zipf_get.c, uniform keys, 50 clients
# each, the same key sequence) drive them over the same seconds. Whatever else the shared machine
# does in a round slows both alike, so the ratio of the two's ops/s in one round is paired far more
# tightly than runs one after the other (bench/cache_cold_ab.sh). Both proxies are CPU-bound and
# share the cores fairly, so a proxy that costs more CPU per GET serves fewer of them.
#
# Every other round is a control: the same, with the cache off in both (two identical proxies).
# Its ratios show the method's own bias and spread; the on/off figure means something only where
# it falls outside the control's spread.
#
#   bash bench/cache_cold_concurrent.sh <checkout> [rounds=20] [seconds=4]    # WARM=15 s of warm-up
#
# The two sides can be other checkouts or settings (a before/after of the cache's own code):
# A_DIR and A_EXTRA (default <checkout>, ", cache: true") against B_DIR and B_EXTRA (<checkout>,
# none); the control is B against a second B.
#
# KEYS and ZIPF (default 100000 and 0: uniform) set the generators' keyspace and skew, for the
# same side-by-side comparison of a hit-heavy load (KEYS=1000: every read a hit once warm).
#
# Ports: $PORT_BASE (default 7971) for Redis, +1..+3 for the proxies. Prints one line per round,
# then the medians and quartiles of both kinds of round.
set -euo pipefail
HEAD=$(cd "$1" && pwd); ROUNDS=${2:-20}; SECS=${3:-4}
P0=${PORT_BASE:-7971}
. "$(dirname "$0")/_cpu_rounds.sh"
cpu_setup # redis-server on $P0 with 100,000 keys, $TMP, and cleanup of $PIDS on exit
cc -O2 -o "$TMP/zipf_get" "$(dirname "$0")/zipf_get.c" -lm

A_DIR=$(cd "${A_DIR:-$HEAD}" && pwd); B_DIR=$(cd "${B_DIR:-$HEAD}" && pwd)
A_EXTRA=${A_EXTRA-", cache: true"}; B_EXTRA=${B_EXTRA-}
echo "keys ${KEYS:-100000}, zipf ${ZIPF:-0}"
echo "A: $A_DIR$A_EXTRA ($(git -C "$A_DIR" rev-parse --short HEAD)); B: $B_DIR$B_EXTRA ($(git -C "$B_DIR" rev-parse --short HEAD))"
OFF=$(cpu_start "$B_DIR" $((P0 + 1)) "$B_EXTRA"); PIDS+=("$OFF")
ON=$(cpu_start "$A_DIR" $((P0 + 2)) "$A_EXTRA"); PIDS+=("$ON")
OFF2=$(cpu_start "$B_DIR" $((P0 + 3)) "$B_EXTRA"); PIDS+=("$OFF2")
gen() { # port [seconds] -> ops/s
  "$TMP/zipf_get" --port "$1" --clients 50 --seconds "${2:-$SECS}" --keys "${KEYS:-100000}" --zipf "${ZIPF:-0}" \
    --warmup 0.5 | sed 's/.*"opsPerSec":\([0-9]*\).*/\1/'
}
# Warm up, all three at once, long enough for the cache to fill (10,000 keys read 3 times within
# a second among 100,000 read uniformly: its first ~10 s). The cost measured is the steady one of a
# cache that stays on over such a keyspace, not the one-time cost of its filling.
for port in $((P0 + 1)) $((P0 + 2)) $((P0 + 3)); do
  until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.2; done
  gen "$port" "${WARM:-15}" >/dev/null &
done
wait
# One round: both generators at once against ports $1 (the tested) and $2 (off), with pids $3 $4.
round() {
  local a0 b0 a1 b1
  a0=$(cpu "$3"); b0=$(cpu "$4")
  gen "$1" >"$TMP/a" & local ga=$!
  gen "$2" >"$TMP/b" & local gb=$!
  wait "$ga" "$gb"
  a1=$(cpu "$3"); b1=$(cpu "$4")
  awk -v x="$(cat "$TMP/a")" -v y="$(cat "$TMP/b")" -v ca=$((a1 - a0)) -v cb=$((b1 - b0)) \
    'BEGIN { printf "ops %d/%d rps_ratio=%.4f cpu_ratio=%.4f cpu_per_op_ratio=%.4f", x, y, x / y, ca / cb, (ca / x) / (cb / y) }'
}
on_lines=(); ctl_lines=()
for r in $(seq "$ROUNDS"); do
  line=$(round $((P0 + 2)) $((P0 + 1)) "$ON" "$OFF")
  echo "round=$r A/B $line"; on_lines+=("$line")
  line=$(round $((P0 + 3)) $((P0 + 1)) "$OFF2" "$OFF")
  echo "round=$r B/B $line"; ctl_lines+=("$line")
done
quartiles() { # stdin numbers -> "q1 median q3"
  sort -n | awk '{ v[NR] = $1 } END { printf "%s %s %s", v[int((NR + 3) / 4)], v[int((NR + 1) / 2)], v[int((3 * NR + 1) / 4)] }'
}
for kind in on ctl; do
  if [ "$kind" = on ]; then lines=("${on_lines[@]}"); name="A/B"; else lines=("${ctl_lines[@]}"); name="B/B"; fi
  for m in rps_ratio cpu_per_op_ratio; do
    q=$(printf '%s\n' "${lines[@]}" | sed "s/.*$m=\([0-9.]*\).*/\1/" | quartiles)
    echo "$name rounds=$ROUNDS seconds=$SECS $m q1/median/q3 = $q"
  done
done
