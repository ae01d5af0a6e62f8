#!/bin/bash
# CPU per GET of shardgate untraced and traced at sample_ratio 0.01, side by side on one
# redis-server, with the traced one from two checkouts (e.g. before and after a tracing change).
#
#   bash bench/trace_cpu_per_op.sh <checkout-a> <checkout-b> [rounds=8] [commands=200000]
#
# Each checkout needs `npm ci`. Three proxies run at once: `untraced` (checkout b, no OTEL_DENO),
# `traced_a` and `traced_b` (OTEL_DENO=true, sample_ratio 0.01, exporting OTLP/HTTP to a local
# sink). Every round runs the same GET load (redis-benchmark, 50 clients) through each, in an
# order that rotates per round, and prints the proxy's user+system CPU per command (all threads,
# from /proc/<pid>/stat, the exporter's included) and its ops/s. Take the medians.
# Ports: $PORT_BASE (default 7601) for Redis, +1 for the sink, +10..+12 for the proxies.
set -euo pipefail
A=$(cd "$1" && pwd); B=$(cd "$2" && pwd); ROUNDS=${3:-8}; N=${4:-200000}
P0=${PORT_BASE:-7601}; SINK=$((P0 + 1))
. "$(dirname "$0")/_cpu_rounds.sh"
cpu_setup # redis-server on $P0 with 100,000 keys, $TMP, and cleanup of $PIDS on exit

cat >"$TMP/sink.ts" <<EOT
Deno.serve({ hostname: "127.0.0.1", port: $SINK, onListen: () => {} }, async (req) => {
  await req.arrayBuffer();
  return new Response(new Uint8Array(0), { headers: { "content-type": "application/x-protobuf" } });
});
EOT
"$B/node_modules/.bin/deno" run -A "$TMP/sink.ts" >/dev/null 2>&1 &
PIDS+=($!)

start() { # name checkout port ratio env... -> pid
  local name=$1 dir=$2 port=$3 ratio=$4
  shift 4
  cat >"$TMP/$name.yaml" <<EOT
telemetry: { sample_ratio: $ratio }
shards:
  s: { readers: 127.0.0.1:$port, nodes: [127.0.0.1:$P0] }
EOT
  (cd "$dir" && exec env "$@" node_modules/.bin/deno run -A --v8-flags=--max-semi-space-size=2 \
    main.ts run --config "$TMP/$name.yaml" >"$TMP/$name.log" 2>&1) &
  echo $!
}
OTEL=(OTEL_DENO=true "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$SINK")
NAMES=(untraced traced_a traced_b)
PORTS=($((P0 + 10)) $((P0 + 11)) $((P0 + 12)))
P1=$(start untraced "$B" "${PORTS[0]}" 0.01 OTEL_DENO=false); PIDS+=("$P1")
P2=$(start traced_a "$A" "${PORTS[1]}" 0.01 "${OTEL[@]}"); PIDS+=("$P2")
P3=$(start traced_b "$B" "${PORTS[2]}" 0.01 "${OTEL[@]}"); PIDS+=("$P3")
PROCS=("$P1" "$P2" "$P3")
for port in "${PORTS[@]}"; do
  for _ in $(seq 100); do
    grep -q "\"listening\".*127.0.0.1:$port" "$TMP"/*.log 2>/dev/null && break
    sleep 0.2
  done
  grep -q "\"listening\".*127.0.0.1:$port" "$TMP"/*.log || { echo "no proxy on $port" >&2; exit 1; }
done

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; } # clock ticks (1/100 s)
load() { # port n -> ops/s
  redis-benchmark -p "$1" -c 50 -n "$2" -r 100000 -q GET key:__rand_int__ 2>/dev/null |
    tr '\r' '\n' | grep -o '[0-9.]* requests per second' | tail -1 | cut -d' ' -f1
}
for port in "${PORTS[@]}"; do load "$port" 50000 >/dev/null; done # warm up
for r in $(seq "$ROUNDS"); do
  for k in 0 1 2; do
    i=$(((k + r) % 3))
    t0=$(cpu "${PROCS[$i]}"); rps=$(load "${PORTS[$i]}" "$N"); t1=$(cpu "${PROCS[$i]}")
    awk -v r="$r" -v w="${NAMES[$i]}" -v t=$((t1 - t0)) -v n="$N" -v rps="$rps" \
      'BEGIN { printf "round=%s %s cpu_us_per_op=%.1f rps=%s\n", r, w, t * 10000 / n, rps }'
  done
done
