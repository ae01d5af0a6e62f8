/**
 * Every default and every limit of shardgate, as named constants in one
 * place (twemproxy style). Config validation, proxy and health read them
 * from here; nothing else hard-codes a number.
 *
 * @module
 */

// ---- config defaults (DESIGN.md "Config") ----

/** Default read balancing algorithm. */
export const DEFAULT_BALANCE = "round-robin" as const;
/** Default behaviour when no replica serves reads. */
export const DEFAULT_FALLBACK = "primary" as const;
/** Default read-your-writes mode: reads see whatever their replica has. */
export const DEFAULT_CONSISTENCY = "eventual" as const;
/**
 * `consistency_wait`: how long a gated read waits for a replica to reach
 * the offset it needs before it goes to the primary.
 */
export const DEFAULT_CONSISTENCY_WAIT_MS = 20;
/** How often replicas' applied offsets are polled while gated reads wait. */
export const CONSISTENCY_POLL_MS = 1;
/** Multiplexed backend connections per node. */
export const DEFAULT_CONNECTIONS_PER_NODE = 2;
/** Client connections per listener before new ones are refused. */
export const DEFAULT_MAX_CLIENTS = 10_000;
/** How many other nodes a failed connect or a broken read-only command tries. */
export const DEFAULT_RETRIES = 2;
/** Backend connect timeout. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 1_000;
/** Per-command server timeout (blocking and pinned commands excepted). */
export const DEFAULT_SERVER_TIMEOUT_MS = 2_000;
/** `timeouts.writer`: writes and pinned commands wait as long as the node takes (0 = never). */
export const DEFAULT_WRITER_TIMEOUT_MS = 0;
/** `timeouts.failover`: how long writes are held for a new primary. */
export const DEFAULT_FAILOVER_HOLD_MS = 10_000;
/** Idle client timeout; 0 = never. */
export const DEFAULT_CLIENT_IDLE_MS = 0;
/** How long a removed listener or node drains before it is closed. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;
/** Active check interval. */
export const DEFAULT_CHECK_INTERVAL_MS = 1_000;
/** Active check timeout. */
export const DEFAULT_CHECK_TIMEOUT_MS = 1_000;
/** Consecutive passing checks before a node serves. */
export const DEFAULT_CHECK_RISE = 2;
/** Consecutive failing checks before a node stops serving. */
export const DEFAULT_CHECK_FALL = 2;
/** Replica lag beyond which it stops serving reads. */
export const DEFAULT_MAX_LAG_MS = 10_000;
/** Whether a replica with a down master link keeps serving reads. */
export const DEFAULT_SERVE_WHEN_LINK_DOWN = true;
/** Passive errors within the window that eject a node. */
export const DEFAULT_PASSIVE_ERRORS = 5;
/** Passive error sliding window. */
export const DEFAULT_PASSIVE_WINDOW_MS = 10_000;
/** First ejection cooldown; doubles on repeated ejections. */
export const DEFAULT_PASSIVE_COOLDOWN_MS = 10_000;
/** Cap of the growing ejection cooldown. */
export const DEFAULT_PASSIVE_MAX_COOLDOWN_MS = 300_000;
/** Never eject more than this share of a shard's replicas. */
export const DEFAULT_MAX_EJECTED_PERCENT = 50;
/** Hedged reads are on unless a shard says `hedge: false`. */
export const DEFAULT_HEDGE_ENABLED = true;
/** A read with no reply after this percentile of the shard's recent read latencies is hedged. */
export const DEFAULT_HEDGE_PERCENTILE = 99;
/** The hedge delay never goes below this (a fast shard's p99 is far below what is worth a hedge). */
export const DEFAULT_HEDGE_MIN_DELAY_MS = 5;
/** The hedge delay never goes above this (a shard-wide slowdown is not a reason to wait longer). */
export const DEFAULT_HEDGE_MAX_DELAY_MS = 50;
/** Hedges allowed per 100 reads over the budget window (gRPC-style throttling). */
export const DEFAULT_HEDGE_BUDGET_PERCENT = 5;
/** The near cache is off unless a shard (or `defaults`) turns it on. */
export const DEFAULT_CACHE_ENABLED = false;
/** Near cache bound in keys. */
export const DEFAULT_CACHE_MAX_KEYS = 10_000;
/** Near cache bound in bytes (keys, replies and a per-entry overhead). */
export const DEFAULT_CACHE_MAX_BYTES = 64 * 1024 * 1024;
/** Near cache admission: reads of a key within one second before it is cached. */
export const DEFAULT_CACHE_MIN_READS = 3;
/** Near cache safety net: no entry is served longer than this after its fill (or refresh). */
export const DEFAULT_CACHE_MAX_AGE_MS = 60_000;
/**
 * Share of the max age, at its end, in which a hit fetches its entry again
 * ahead of the deadline (refresh-ahead): a key read steadily never expires
 * into a miss, and costs the node one GET per refresh instead of two.
 */
export const CACHE_REFRESH_AHEAD_SHARE = 0.25;
/**
 * The near cache judges its own worth over windows this long: the share of
 * its cacheable reads it answered. Below {@link CACHE_LEAN_BELOW} it goes
 * lean (drops its entries and lets in only keys hot by the threshold, not
 * warm keys into free space); at {@link CACHE_LEAN_ABOVE} it fills free
 * space again. A uniform keyspace larger than the cache otherwise fills it
 * with keys each read a few times a minute: a tenth of reads answered for
 * 10–20% more CPU per read (`bench/cache_cold_concurrent.sh`).
 */
export const CACHE_LEAN_WINDOW_MS = 10_000;
/** A window with fewer cacheable reads than this is not judged (too few to tell). */
export const CACHE_LEAN_MIN_READS = 2_000;
/** Share of a window's cacheable reads answered below which the near cache goes lean. */
export const CACHE_LEAN_BELOW = 0.15;
/** Share of a window's cacheable reads answered at which a lean near cache fills free space again. */
export const CACHE_LEAN_ABOVE = 0.3;
/**
 * A lean near cache judges shorter windows (with fewer reads), so that once
 * a hot set is back it fills free space again within seconds. Safe: a lean
 * cache answers no more than a full one would, so leaving lean on a share
 * of {@link CACHE_LEAN_ABOVE} cannot lead straight back into it.
 */
export const CACHE_LEAN_RECHECK_MS = 1_000;
/** The fewest cacheable reads a lean near cache's window needs to be judged. */
export const CACHE_LEAN_RECHECK_MIN_READS = 200;
/**
 * Bytes counted per near cache entry besides its key and reply: its heap
 * cost beyond those (entry, key string and reply headers, two to four index
 * buckets). `bench/cache_entry_cost.ts` measured 394 B with a `Map` for the
 * index, 357 B with the bucket array that replaced it, 365 B once an entry
 * said whether its key's TTL caps it (refresh ahead), and 344 B since a
 * ring replaced the `Map` by key string; kept at 400, so the byte bound
 * errs on the safe side.
 */
export const CACHE_ENTRY_OVERHEAD = 400;
/** Near cache fills in flight on the tracking connection at most (more wait for the next read). */
export const CACHE_MAX_PENDING_FILLS = 256;
/**
 * A key whose fill the node answered with an error (a `WRONGTYPE`: a hash
 * read with GET; a `NOPERM`) is not fetched again for this long: its reads
 * are forwarded as misses, and a hot one costs the node one refused fill a
 * second instead of a fill (two commands) on every read.
 */
export const CACHE_REFUSED_RETRY_MS = 1_000;
/** Keys remembered as refused at most (past it the list starts afresh). */
export const CACHE_REFUSED_MAX = 1_024;
/**
 * Delay before a broken near cache tracking connection is opened again. It
 * doubles after each connection in a row that ends before its setup is
 * answered (a node that refuses `HELLO 3` or `CLIENT TRACKING`: Redis 5, a
 * user without the command), up to {@link CACHE_RECONNECT_MAX_MS}.
 */
export const CACHE_RECONNECT_MS = 100;
/** The longest delay between the tracking connection's attempts in a row. */
export const CACHE_RECONNECT_MAX_MS = 10_000;
/**
 * A near cache hit with nothing in flight on the tracking connection sent
 * for this long sends a PING on it: while hits are answered, the tracked
 * node is asked at least this often whether it is still answering (a
 * replica stalled by a fork, a slow script or a starved CPU sends no
 * invalidations, and its cache would go on answering what it held).
 */
export const CACHE_PROBE_MS = 10;
/**
 * The oldest request on the tracking connection (a fill or a
 * {@link CACHE_PROBE_MS} probe) unanswered for longer than this: the
 * tracked node is stalled, and reads go to the nodes instead of the cache
 * until it answers. A stall is noticed within the sum of the two.
 */
export const CACHE_STALL_MS = 10;
/** Node host name re-resolution interval. */
export const DEFAULT_DNS_REFRESH_MS = 30_000;
/** Default node weight. */
export const DEFAULT_WEIGHT = 1;
/** Longest zone name accepted (`zone:`, a node's `zone`, a learned `availability_zone`). */
export const MAX_ZONE_LENGTH = 64;
/** Default telemetry sample ratio. */
export const DEFAULT_SAMPLE_RATIO = 0.01;
/** Share of matching commands a fault rule hits when it gives no `percent`. */
export const DEFAULT_FAULT_PERCENT = 100;
/** A node logs injected faults at most this often (each line counts all since start). */
export const FAULT_LOG_INTERVAL_MS = 1_000;
/** The error text of an `error` fault rule that gives none. */
export const DEFAULT_FAULT_ERROR = "ERR shardgate injected fault";
/** The status page's history (`/history`): one sample of every shard and node this often. */
export const HISTORY_SAMPLE_MS = 2_000;
/** The history's window: the charts show the last 15 minutes. */
export const HISTORY_WINDOW_MS = 15 * 60_000;
/** Node state changes and writer switches the history keeps (the newest). */
export const HISTORY_EVENTS = 100;
/**
 * Sampled command spans are made in batches this often (ms), not one by one
 * in the command's turn: Deno's exporter thread is then woken per batch,
 * not per span (see README, Observability: tracing's cost).
 */
export const SPAN_BATCH_MS = 200;
/** Longest duration the config accepts (timers overflow past 2^31-1 ms, about 24.8 days). */
export const MAX_DURATION_MS = 2_147_483_647;
/** Debounce of config file change events before a reload. */
export const CONFIG_RELOAD_DEBOUNCE_MS = 200;
/**
 * Longest a burst of events in the config file's directory delays the
 * comparison of the file (at least 4 debounces): another file there that
 * changes all the time (a log) must not keep a reload from ever happening.
 */
export const CONFIG_RELOAD_MAX_WAIT_MS = 1_000;
/** Retry interval when the config file's directory cannot be watched (e.g. it vanished). */
export const CONFIG_WATCH_RETRY_MS = 1_000;

// ---- routers (key hashing over shards) ----

/** Default key distribution of a router. */
export const DEFAULT_ROUTER_DISTRIBUTION = "ketama" as const;
/** Default key hash of a ketama router: twemproxy's default. */
export const DEFAULT_ROUTER_HASH = "fnv1a_64" as const;
/** Where a router sends keyed reads by default. */
export const DEFAULT_ROUTER_READS = "readers" as const;
/** Default weight of a shard on a ketama ring. */
export const DEFAULT_ROUTER_WEIGHT = 1;
/** twemproxy's default server port, left out of a default ring name (libmemcached's rule). */
export const KETAMA_DEFAULT_PORT = 11_211;
/** Points per server on twemproxy's ketama continuum, before weighting (KETAMA_POINTS_PER_SERVER). */
export const KETAMA_POINTS_PER_SERVER = 160;
/**
 * twemproxy writes each ketama point name, `<name>-<i>`, into a buffer of this
 * many bytes (KETAMA_MAX_HOSTLEN) and hashes past its end when it is longer,
 * so a ring name must leave room for "-" and the point index in 85 bytes.
 */
export const KETAMA_MAX_HOSTLEN = 86;

/**
 * Longest ring name (UTF-8 bytes) twemproxy hashes correctly when point
 * indexes go up to `maxIndex`: `<name>-<i>` and its NUL fit in
 * {@link KETAMA_MAX_HOSTLEN}.
 */
export function ketamaNameLimit(maxIndex: number): number {
  return KETAMA_MAX_HOSTLEN - 1 - 1 - String(maxIndex).length;
}
/** Redis Cluster's number of hash slots (`distribution: slots`). */
export const CLUSTER_SLOTS = 16_384;
/** Sample keys hashed on a reload to report how many keys a ring change moves. */
export const RING_MOVE_SAMPLE_KEYS = 10_000;

// ---- data path sizing ----

/** Node connections' read buffer, and the most any read buffer keeps after growing for a big frame. */
export const READ_BUFFER_SIZE = 64 * 1024;
/** A client's first read buffer: small, so idle clients cost little; grows with its pipelines. */
export const CLIENT_READ_BUFFER_SIZE = 2 * 1024;
// SLAB_BYTES (the slabs split frames and merged replies are cut from) is
// resp's own: resp/limits.ts. config imports nothing of ours.
/** Size of the pooled output chunks writers borrow while they have bytes to send. */
export const WRITE_CHUNK_SIZE = 16 * 1024;
/** Most idle output chunks kept in the pool (4 MB). */
export const WRITE_CHUNK_POOL = 256;
/**
 * Bytes nobody changes afterwards (a near-cache hit's reply) this large or
 * larger go to the socket as they are, not copied into output chunks: a
 * 150 KB value read hot would otherwise cost a copy and a fresh chunk per
 * hit.
 */
export const WRITE_SHARED_MIN = 8 * 1024;
/** Stop reading a client once this many reply bytes wait to be written to it. */
export const CLIENT_OUTPUT_HIGH_WATER = 1024 * 1024;
/**
 * Most commands of one client in flight at once; a longer pipeline is sent
 * on in batches as replies return. With the output limit this bounds the
 * memory one client can make shardgate hold to about this many replies.
 */
export const CLIENT_MAX_INFLIGHT = 128;
/** Stop taking new commands for a node connection past this many unsent bytes. */
export const NODE_OUTPUT_HIGH_WATER = 4 * 1024 * 1024;
/**
 * After a failed connect, or a connection that broke with commands in
 * flight, new commands and retries avoid that node for this long.
 */
export const CONNECT_BACKOFF_MS = 250;
/**
 * After a session's last reply (QUIT, a protocol error, a drain) the
 * connection is half-closed and read to the client's EOF, for at most this
 * long, so that last reply is never lost to a reset.
 */
export const CLOSE_LINGER_MS = 2_000;
/** The sliding window the hedge budget is counted over. */
export const HEDGE_BUDGET_WINDOW_MS = 10_000;
/** Hedges a shard may always send per budget window, however few its reads (a quiet shard can hedge too). */
export const HEDGE_BUDGET_FLOOR = 20;
/** How often the hedge delay is recomputed from the recent latencies. */
export const HEDGE_DELAY_REFRESH_MS = 1_000;
/**
 * A read that lost a hedge race and is still unanswered this many hedge
 * delays after it was sent (and at least HEDGE_SLOW_MIN_MS) counts as a
 * passive `slow` error against its node: a stalled node leaves the readers
 * after a few, while the ordinary losers of steady-state hedging never count.
 */
export const HEDGE_SLOW_FACTOR = 3;
/** See HEDGE_SLOW_FACTOR. */
export const HEDGE_SLOW_MIN_MS = 100;
/**
 * A node with a read waiting past the hedge delay gets no new commands until
 * it answers one, for at most this long (then it is tried again).
 */
export const HEDGE_AVOID_MS = 1_000;
/**
 * A pinned session's dedicated connection, freed when the pin ends (EXEC,
 * a blocking reply, the last UNSUBSCRIBE), waits this long for the next
 * pinned session of its node (same protocol, database and name) before it
 * is closed: a worker's BLPOP loop or a MULTI-heavy client does not open a
 * connection per command.
 */
export const PINNED_IDLE_MS = 2_000;
/** A client user's pool of node connections closes after this long unused (ms). */
export const USER_POOL_IDLE_MS = 30_000;
/** Most idle dedicated connections kept per node. */
export const PINNED_IDLE_PER_NODE = 8;
/** How often the proxy checks server and client-idle timeouts. */
export const TIMEOUT_TICK_MS = 50;
/** Commands join a node connection's pending write until it holds this many bytes. */
export const JOIN_WRITE_LIMIT = 64 * 1024;
/**
 * V8 flags shardgate ships with (baked in by `npm run compile`, passed by
 * `npm start` and the benchmark): a proxy's garbage is small and short-lived,
 * so a small young generation keeps the resident size down (114 -> 93 MB
 * after a benchmark load) at no measured throughput cost. V8 reads them at
 * start only; package.json and deno.json repeat this string.
 */
export const V8_FLAGS = "--max-semi-space-size=2";

/**
 * Unread bytes a client socket accepted by `node:net` (a listener inherited
 * in an upgrade) buffers before it stops reading from the client.
 */
export const NODE_SOCKET_READ_AHEAD = 64 * 1024;

/**
 * Upgrade (SIGUSR2): how long the new process may take to load the config,
 * run its first round of checks, take the listeners and say it is ready;
 * past it the old process stops it and keeps serving.
 */
export const UPGRADE_READY_TIMEOUT_MS = 30_000;

/** Upgrade rollback: a new process that ignores SIGTERM this long is killed. */
export const UPGRADE_KILL_GRACE_MS = 2_000;

/** An admin server on an inherited socket (`node:http`) closes connections still open this long after it stops. */
export const ADMIN_SHUTDOWN_GRACE_MS = 2_000;

/** Upgrade: how often a new process that is not ready yet (no primary...) checks again. */
export const UPGRADE_READY_POLL_MS = 50;
