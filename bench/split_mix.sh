#!/bin/bash
# The split port under a mixed load (issue 17): 10% SET / 90% GET, 50 clients,
# through shardgate's one split port (consistency: eventual, then host) against
# HAProxy's two ports (a writer listen on the primary, a readers listen on the
# replica: the application splits its traffic itself).
#
#   bash bench/split_mix.sh [rounds=5] [commands=100000]
#
# One primary and one replica (redis-server, no persistence), 100,000 keys of
# 3 B. Each run starts two redis-benchmark processes at once: SET with 5
# clients and N/10 commands, GET with 45 clients and 9N/10 commands; the run's
# ops/s is N over the wall time of both. Targets alternate their order per
# round. "replica share" is the share of the run's GETs the replica executed
# (INFO commandstats on both nodes, before and after). Prints one line per
# run and the medians. Ports: $PORT_BASE (default 7601) and up.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}; N=${2:-100000}
P0=${PORT_BASE:-7601}; PRIMARY=$P0; REPLICA=$((P0 + 1))
HA_R=$((P0 + 10)); HA_W=$((P0 + 11)); SG_E=$((P0 + 20)); SG_H=$((P0 + 21))
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "$PRIMARY" "$REPLICA"; do redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

redis-server --port "$PRIMARY" --save "" --daemonize yes --dir "$TMP" --dbfilename p.rdb >/dev/null
redis-server --port "$REPLICA" --save "" --daemonize yes --dir "$TMP" --dbfilename r.rdb \
  --replicaof 127.0.0.1 "$PRIMARY" >/dev/null
until redis-cli -p "$PRIMARY" ping >/dev/null 2>&1 && redis-cli -p "$REPLICA" ping >/dev/null 2>&1; do sleep 0.1; done
redis-benchmark -p "$PRIMARY" -n 200000 -r 100000 -q SET key:__rand_int__ xxx >/dev/null 2>&1
until [ "$(redis-cli -p "$REPLICA" info replication | tr -d '\r' | grep -c 'master_link_status:up')" = 1 ] &&
  [ "$(redis-cli -p "$REPLICA" dbsize)" = "$(redis-cli -p "$PRIMARY" dbsize)" ]; do sleep 0.2; done

cat >"$TMP/haproxy.cfg" <<EOT
global
    maxconn 4096
defaults
    mode tcp
    maxconn 4096
    timeout connect 2s
    timeout client 300s
    timeout server 300s
listen readers
    bind 127.0.0.1:$HA_R
    balance leastconn
    option redis-check
    server replica 127.0.0.1:$REPLICA check inter 2s
listen writer
    bind 127.0.0.1:$HA_W
    balance leastconn
    option redis-check
    server primary 127.0.0.1:$PRIMARY check inter 2s
EOT
haproxy -db -f "$TMP/haproxy.cfg" >"$TMP/haproxy.log" 2>&1 &
PIDS+=($!)

start_sg() { # port consistency
  cat >"$TMP/sg-$1.yaml" <<EOT
shards:
  s:
    split: 127.0.0.1:$1
    consistency: $2
    nodes: [127.0.0.1:$PRIMARY, 127.0.0.1:$REPLICA]
EOT
  node_modules/.bin/deno run -A --v8-flags=--max-semi-space-size=2 main.ts run \
    --config "$TMP/sg-$1.yaml" >"$TMP/sg-$1.log" 2>&1 &
  PIDS+=($!)
}
start_sg "$SG_E" eventual
start_sg "$SG_H" host
for port in "$HA_R" "$HA_W" "$SG_E" "$SG_H"; do
  until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.2; done
done

gets() { redis-cli -p "$1" info commandstats | tr -d '\r' | sed -n 's/^cmdstat_get:calls=\([0-9]*\),.*/\1/p' | grep . || echo 0; }

run() { # name write-port read-port -> prints "name ops/s share"
  local g0p g0r g1p g1r t0 t1
  g0p=$(gets "$PRIMARY"); g0r=$(gets "$REPLICA")
  t0=$(date +%s.%N)
  redis-benchmark -p "$2" -c 5 -n $((N / 10)) -r 100000 -q SET key:__rand_int__ xxx >/dev/null 2>&1 &
  local w=$!
  redis-benchmark -p "$3" -c 45 -n $((N * 9 / 10)) -r 100000 -q GET key:__rand_int__ >/dev/null 2>&1
  wait "$w"
  t1=$(date +%s.%N)
  g1p=$(gets "$PRIMARY"); g1r=$(gets "$REPLICA")
  awk -v n="$N" -v t0="$t0" -v t1="$t1" -v dp=$((g1p - g0p)) -v dr=$((g1r - g0r)) -v name="$1" \
    'BEGIN { share = dp + dr > 0 ? dr / (dp + dr) : 0; printf "%s %.0f %.4f\n", name, n / (t1 - t0), share }'
}

echo "# split_mix: $ROUNDS rounds, $N commands per run (10% SET c5 + 90% GET c45), $(nproc) CPUs, $(git rev-parse --short HEAD)"
RESULTS="$TMP/results"
: >"$RESULTS"
for r in $(seq 1 "$ROUNDS"); do
  order=("haproxy-2-ports $HA_W $HA_R" "shardgate-split-eventual $SG_E $SG_E" "shardgate-split-host $SG_H $SG_H")
  shift_by=$(( (r - 1) % 3 ))
  for i in 0 1 2; do
    # shellcheck disable=SC2086
    line=$(run ${order[$(( (i + shift_by) % 3 ))]})
    echo "round $r: $line"
    echo "$line" >>"$RESULTS"
  done
done
echo "# medians (ops/s, replica share of GETs)"
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
for name in haproxy-2-ports shardgate-split-eventual shardgate-split-host; do
  ops=$(awk -v name="$name" '$1 == name { print $2 }' "$RESULTS" | median)
  share=$(awk -v name="$name" '$1 == name { print $3 }' "$RESULTS" | median)
  awk -v name="$name" -v o="$ops" -v s="$share" 'BEGIN { printf "%s: %d ops/s, replica share %.1f%%\n", name, o, s * 100 }'
done
