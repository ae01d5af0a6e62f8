# Shared by the bench/*cpu_per_op.sh and cache_cold_ab.sh scripts (sourced, not run).
#
#   cpu_rounds ROUNDS N NAME_A PID_A PORT_A NAME_B PID_B PORT_B
#
# Warms both proxies up, then each round runs GET and MGET of 10 keys
# (redis-benchmark, 50 clients, N commands, keys drawn from the first $RANGE
# of the 100,000, default all) through each (which one first
# alternates by round) and prints the proxy's user+system CPU per command
# (from /proc/<pid>/stat; the pid of the process itself) and its ops/s.

# The redis-server every checkout's proxy reads from: port $P0, no persistence, 100,000 keys
# (`key:…`). Makes $TMP; on exit kills the caller's $PIDS, shuts the server down, removes $TMP.
cpu_setup() {
  TMP=$(mktemp -d)
  PIDS=()
  trap cpu_cleanup EXIT
  redis-server --port "$P0" --save "" --daemonize yes >/dev/null
  until redis-cli -p "$P0" ping >/dev/null 2>&1; do sleep 0.1; done
  redis-benchmark -p "$P0" -n 100000 -r 100000 -q SET key:__rand_int__ xxx >/dev/null 2>&1
}

# Starts `main.ts run` of checkout $1 with one shard reading $P0 on port $2, the shard's extra
# settings $3 (", cache: true"), logs in $TMP; prints its pid.
cpu_start() {
  cat >"$TMP/$2.yaml" <<EOT
shards:
  s: { readers: 127.0.0.1:$2, nodes: [127.0.0.1:$P0]${3:-} }
EOT
  (cd "$1" && exec node_modules/.bin/deno run -A --v8-flags=--max-semi-space-size=2 \
    main.ts run --config "$TMP/$2.yaml" >"$TMP/$2.log" 2>&1) &
  echo $!
}

# Starts checkout $1 with `cache: true` on $P0+1, checkout $2 with it on $P0+2 and without on
# $P0+3 (each reading $P0), adds them to $PIDS, sets $PA, $PB, $PO to their pids and waits until
# each answers.
cpu_start_cache_pair() {
  PA=$(cpu_start "$1" $((P0 + 1)) ", cache: true"); PIDS+=("$PA")
  PB=$(cpu_start "$2" $((P0 + 2)) ", cache: true"); PIDS+=("$PB")
  PO=$(cpu_start "$2" $((P0 + 3))); PIDS+=("$PO")
  local port
  for port in $((P0 + 1)) $((P0 + 2)) $((P0 + 3)); do
    until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.2; done
  done
}

cpu_cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  redis-cli -p "$P0" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$TMP"
}

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; } # clock ticks (1/100 s)

MGET="MGET"; for _ in 1 2 3 4 5 6 7 8 9 10; do MGET="$MGET key:__rand_int__"; done
load() { # port cmd n
  local port=$1 n=$3
  if [ "$2" = GET ]; then set -- GET key:__rand_int__; else set -- $MGET; fi
  redis-benchmark -p "$port" -c 50 -n "$n" -r "${RANGE:-100000}" -q "$@" 2>/dev/null | tr '\r' '\n' |
    grep -o '[0-9.]* requests per second' | tail -1 | cut -d' ' -f1
}

cpu_rounds() {
  local rounds=$1 n=$2 a_name=$3 a_pid=$4 a_port=$5 b_name=$6 b_pid=$7 b_port=$8
  local r cmd order who pid port t0 t1 rps
  for port in "$a_port" "$b_port"; do load "$port" GET "$n" >/dev/null; done # warm up
  for r in $(seq "$rounds"); do
    for cmd in GET MGET10; do
      order="$a_name $b_name"; [ $((r % 2)) = 0 ] && order="$b_name $a_name"
      for who in $order; do
        if [ "$who" = "$a_name" ]; then pid=$a_pid port=$a_port; else pid=$b_pid port=$b_port; fi
        t0=$(cpu "$pid"); rps=$(load "$port" "$cmd" "$n"); t1=$(cpu "$pid")
        awk -v r="$r" -v c="$cmd" -v w="$who" -v t=$((t1 - t0)) -v n="$n" -v rps="$rps" \
          'BEGIN { printf "round=%s cmd=%s %s cpu_us_per_op=%.1f rps=%s\n", r, c, w, t * 10000 / n, rps }'
      done
    done
  done
}
