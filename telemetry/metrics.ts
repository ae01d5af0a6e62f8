/**
 * The one table of shardgate's metrics (Envoy style): every metric is
 * defined here once, with its name, type, labels and help text. The
 * Prometheus exposition (`prometheus.ts`) and the OpenTelemetry export
 * (`otel_metrics.ts`) are both built from this table, and whatever collects
 * the values (the admin port's collector) writes them by table key through
 * a {@link MetricWriter}, so a name or a label set cannot drift between the
 * two exports.
 *
 * Values are not kept here: the data path counts in plain fields and typed
 * arrays (`ShardCounters`, {@link CommandStats}) and the collector reads
 * them when a scrape or an OpenTelemetry collection asks.
 *
 * Label values are bounded: shard and node names come from the config,
 * command names from the Redis command table (never keys or arguments;
 * unknown commands count as `other`).
 *
 * @module
 */

/** Prometheus metric types used by shardgate. */
export type MetricType = "counter" | "gauge" | "histogram";

/** One row of the table. */
export interface MetricDef {
  /** Prometheus name (counters end in `_total`); the OpenTelemetry name drops `_total`. */
  readonly name: string;
  /** Counter (only goes up), gauge (a current value) or histogram. */
  readonly type: MetricType;
  /** Label names, in exposition order. */
  readonly labels: readonly string[];
  /** One line of help text. */
  readonly help: string;
  /** Histograms: upper bounds of the buckets (seconds), ascending; `+Inf` is implied. */
  readonly buckets?: readonly number[];
}

/**
 * Upper bounds (seconds) of the command latency histogram: 50 µs to 5 s.
 * A proxied GET on loopback takes 50–300 µs; a timeout is seconds.
 */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.00005,
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
];

/** Every metric shardgate exports, keyed by the name collectors write them under. */
export const METRICS = {
  // ---- commands (data path) ----
  commands: {
    name: "shardgate_commands_total",
    type: "counter",
    labels: ["shard", "role", "outcome"],
    help:
      "Commands answered, by shard, port role (readers, writer, router) and outcome (ok; error: the node's error reply; failed: a shardgate error).",
  },
  commandCalls: {
    name: "shardgate_command_calls_total",
    type: "counter",
    labels: ["shard", "command", "outcome"],
    help:
      "Commands answered, by command name from the Redis command table (unknown: other) and outcome.",
  },
  commandDuration: {
    name: "shardgate_command_duration_seconds",
    type: "histogram",
    labels: ["shard", "command"],
    help: "Time from a command's arrival to its reply being ready, by command name.",
    buckets: LATENCY_BUCKETS_SECONDS,
  },
  readsSent: {
    name: "shardgate_reads_sent_total",
    type: "counter",
    labels: ["shard"],
    help:
      "Commands sent to the shard's readers (replicas) on shared connections; hedges are budgeted against them.",
  },
  retries: {
    name: "shardgate_retries_total",
    type: "counter",
    labels: ["shard"],
    help: "Read-only commands re-sent to another node after a failure.",
  },
  hedges: {
    name: "shardgate_hedges_total",
    type: "counter",
    labels: ["shard"],
    help: "Reads also sent to a second node because the first was slow (hedged reads).",
  },
  hedgeWins: {
    name: "shardgate_hedge_wins_total",
    type: "counter",
    labels: ["shard"],
    help: "Hedged reads whose second node answered first.",
  },
  cacheHits: {
    name: "shardgate_cache_hits_total",
    type: "counter",
    labels: ["shard"],
    help: "Reads answered by the near cache (GET, MGET with every key cached).",
  },
  cacheMisses: {
    name: "shardgate_cache_misses_total",
    type: "counter",
    labels: ["shard"],
    help: "Cacheable reads the near cache could not answer (forwarded to a node).",
  },
  cacheAdmissions: {
    name: "shardgate_cache_admissions_total",
    type: "counter",
    labels: ["shard"],
    help: "Keys filled into the near cache (read often enough to be admitted).",
  },
  cacheRefreshes: {
    name: "shardgate_cache_refreshes_total",
    type: "counter",
    labels: ["shard"],
    help: "Near cache entries read near their max age and fetched again ahead of it (kept).",
  },
  cacheRefusedFills: {
    name: "shardgate_cache_refused_fills_total",
    type: "counter",
    labels: ["shard"],
    help:
      "Near cache fills the node answered with an error (another type, a permission); such a key waits a second before the next.",
  },
  cacheStalledReads: {
    name: "shardgate_cache_stalled_reads_total",
    type: "counter",
    labels: ["shard"],
    help:
      "Cacheable reads forwarded because the tracked node left a request unanswered too long (stalled).",
  },
  cacheInvalidations: {
    name: "shardgate_cache_invalidations_total",
    type: "counter",
    labels: ["shard"],
    help: "Keys the tracked node invalidated (CLIENT TRACKING pushes; a flush counts once).",
  },
  cacheEvictions: {
    name: "shardgate_cache_evictions_total",
    type: "counter",
    labels: ["shard", "reason"],
    help:
      "Near cache entries evicted, by reason (invalidated, write, expired, size, flush, connection, node, config, lean).",
  },
  cacheKeys: {
    name: "shardgate_cache_keys",
    type: "gauge",
    labels: ["shard"],
    help: "Keys held by the near cache.",
  },
  cacheBytes: {
    name: "shardgate_cache_bytes",
    type: "gauge",
    labels: ["shard"],
    help: "Bytes held by the near cache (keys, replies and a per-entry overhead).",
  },
  cacheLean: {
    name: "shardgate_cache_lean",
    type: "gauge",
    labels: ["shard"],
    help:
      "1 while the near cache is lean: it answered too few reads, so it holds only keys hot by the admission threshold.",
  },
  bytesReceived: {
    name: "shardgate_client_bytes_received_total",
    type: "counter",
    labels: ["shard", "role"],
    help: "Bytes read from clients.",
  },
  bytesSent: {
    name: "shardgate_client_bytes_sent_total",
    type: "counter",
    labels: ["shard", "role"],
    help: "Bytes written to clients.",
  },
  gatedReads: {
    name: "shardgate_gated_reads_total",
    type: "counter",
    labels: ["shard"],
    help: "Reads that had to see earlier writes (consistency: session or host).",
  },
  gatedReadsReplica: {
    name: "shardgate_gated_reads_replica_total",
    type: "counter",
    labels: ["shard"],
    help:
      "Gated reads a replica served (its offset had reached the writes); the rest went to the primary.",
  },
  gatedReadProbes: {
    name: "shardgate_gated_read_probes_total",
    type: "counter",
    labels: ["shard"],
    help: "ROLE probes pipelined before gated reads to replicas not known to be caught up.",
  },
  gatedReadWaits: {
    name: "shardgate_gated_read_waits_total",
    type: "counter",
    labels: ["shard"],
    help: "Gated reads held for a replica to catch up.",
  },
  gatedReadFallbacks: {
    name: "shardgate_gated_read_fallbacks_total",
    type: "counter",
    labels: ["shard"],
    help: "Gated reads sent to the primary after consistency_wait without a caught-up replica.",
  },
  heldWrites: {
    name: "shardgate_held_writes_total",
    type: "counter",
    labels: ["shard"],
    help:
      "Times a session's writes were held for the shard's next primary (a failover, or no primary known).",
  },
  backpressurePauses: {
    name: "shardgate_backpressure_pauses_total",
    type: "counter",
    labels: ["shard"],
    help: "Times a client stopped being read because its replies or its node connection backed up.",
  },
  protocolErrors: {
    name: "shardgate_client_protocol_errors_total",
    type: "counter",
    labels: ["shard"],
    help: "Clients closed for malformed input.",
  },
  // ---- clients ----
  clientConnections: {
    name: "shardgate_client_connections",
    type: "gauge",
    labels: ["shard", "protocol"],
    help: "Open client connections, by protocol (resp2, resp3).",
  },
  clientsAccepted: {
    name: "shardgate_client_connections_accepted_total",
    type: "counter",
    labels: ["shard"],
    help: "Client connections accepted.",
  },
  clientsRejected: {
    name: "shardgate_client_connections_rejected_total",
    type: "counter",
    labels: ["shard"],
    help: "Client connections refused past max_clients.",
  },
  clientsIdleClosed: {
    name: "shardgate_client_idle_closed_total",
    type: "counter",
    labels: ["shard"],
    help: "Clients closed by timeouts.client_idle.",
  },
  pinnedSessions: {
    name: "shardgate_pinned_sessions",
    type: "gauge",
    labels: ["shard"],
    help: "Client sessions pinned to a dedicated node connection now.",
  },
  // ---- nodes ----
  nodeState: {
    name: "shardgate_node_state",
    type: "gauge",
    labels: ["shard", "node", "state"],
    help: "1 for the node's current state (up, down, ejected, draining), 0 for the others.",
  },
  nodeRole: {
    name: "shardgate_node_role",
    type: "gauge",
    labels: ["shard", "node", "role"],
    help: "1 for the role the node last reported (primary, replica, unknown), 0 for the others.",
  },
  zoneReads: {
    name: "shardgate_zone_reads_total",
    type: "counter",
    labels: ["shard", "locality"],
    help:
      "Replies to read-only commands by where the answering node is: in the sidecar's zone (same), another (cross), or unknown.",
  },
  zoneReadBytes: {
    name: "shardgate_zone_read_bytes_total",
    type: "counter",
    labels: ["shard", "locality"],
    help: "Bytes of those replies, by locality (same, cross, unknown).",
  },
  nodeZone: {
    name: "shardgate_node_zone",
    type: "gauge",
    labels: ["shard", "node", "zone", "locality"],
    help:
      "1, labelled with the node's zone (configured, else reported availability_zone; none) and its locality.",
  },
  nodeServesReads: {
    name: "shardgate_node_serves_reads",
    type: "gauge",
    labels: ["shard", "node"],
    help: "1 when the node is in the shard's readers now.",
  },
  replicationLag: {
    name: "shardgate_node_replication_lag_seconds",
    type: "gauge",
    labels: ["shard", "node"],
    help: "Replication lag of a replica as last checked (absent for primaries).",
  },
  checkDuration: {
    name: "shardgate_node_check_duration_seconds",
    type: "gauge",
    labels: ["shard", "node"],
    help: "Duration of the node's last active check.",
  },
  ejections: {
    name: "shardgate_node_ejections_total",
    type: "counter",
    labels: ["shard", "node"],
    help: "Passive ejections of the node since start.",
  },
  nodeCommands: {
    name: "shardgate_node_commands_total",
    type: "counter",
    labels: ["shard", "node", "outcome"],
    help: "Commands a node answered (ok) or failed (error: connection lost, timeout, error reply).",
  },
  nodeInflight: {
    name: "shardgate_node_inflight_commands",
    type: "gauge",
    labels: ["shard", "node"],
    help: "Commands in flight on the node's multiplexed connections.",
  },
  backendConnections: {
    name: "shardgate_backend_connections",
    type: "gauge",
    labels: ["shard", "node", "protocol"],
    help: "Open multiplexed connections to the node, by protocol (resp2, resp3).",
  },
  backendPinnedConnections: {
    name: "shardgate_backend_pinned_connections",
    type: "gauge",
    labels: ["shard", "node"],
    help: "Open dedicated connections of pinned sessions to the node.",
  },
  nodeReplyDuration: {
    name: "shardgate_node_reply_duration_seconds",
    type: "histogram",
    labels: ["shard", "node"],
    help:
      "Time from sending a multiplexed command to the node to its reply (each copy of a hedged or retried read counts).",
    buckets: LATENCY_BUCKETS_SECONDS,
  },
  // ---- fault injection (config faults:) ----
  faultsInjected: {
    name: "shardgate_faults_injected_total",
    type: "counter",
    labels: ["shard", "node", "kind"],
    help:
      "Commands hit by an injected fault (config faults:; kind delay, error, drop, blackhole): a rehearsal, not an outage.",
  },
  faultRules: {
    name: "shardgate_fault_rules",
    type: "gauge",
    labels: ["shard"],
    help:
      "Fault injection rules configured that can hit a node of the shard (0 in normal operation).",
  },
  // ---- process ----
  reloads: {
    name: "shardgate_config_reloads_total",
    type: "counter",
    labels: ["result"],
    help: "Config reloads, by result (applied, rejected).",
  },
  lastReload: {
    name: "shardgate_config_last_reload_success_timestamp_seconds",
    type: "gauge",
    labels: [],
    help: "When the config was last loaded successfully (start or reload), Unix time.",
  },
  ready: {
    name: "shardgate_ready",
    type: "gauge",
    labels: [],
    help: "1 when every readers port has a serving node and every writer port a primary (/readyz).",
  },
  buildInfo: {
    name: "shardgate_build_info",
    type: "gauge",
    labels: ["version", "deno"],
    help: "Always 1; the labels name the running build.",
  },
  startTime: {
    name: "process_start_time_seconds",
    type: "gauge",
    labels: [],
    help: "Start time of the process, Unix time.",
  },
  residentMemory: {
    name: "process_resident_memory_bytes",
    type: "gauge",
    labels: [],
    help: "Resident memory size of the process.",
  },
} as const satisfies Record<string, MetricDef>;

/** Key of a metric in {@link METRICS}. */
export type MetricId = keyof typeof METRICS;

/** Every metric id, in table order. */
export const METRIC_IDS: readonly MetricId[] = Object.keys(METRICS) as MetricId[];

/** Label values of one series, by label name. */
export type Labels = Readonly<Record<string, string>>;

/** Observations of one histogram series. */
export interface HistogramValue {
  /**
   * Count per bucket, NOT cumulative, one per bound of the metric's
   * `buckets` plus a last one for `+Inf`.
   */
  readonly counts: ArrayLike<number>;
  /** Sum of the observed values (seconds). */
  readonly sum: number;
}

/**
 * Calls `f` with each bucket's upper bound (`+Inf` last) and its cumulative
 * count, the way both exports write histograms; returns the total count.
 */
export function eachBucket(
  def: MetricDef,
  h: HistogramValue,
  f: (le: number | "+Inf", cumulative: number) => void,
): number {
  const bounds = def.buckets ?? [];
  let cumulative = 0;
  for (let i = 0; i <= bounds.length; i++) {
    cumulative += h.counts[i] ?? 0;
    f(i < bounds.length ? bounds[i] : "+Inf", cumulative);
  }
  return cumulative;
}

/**
 * Where a collector writes the current values, by table key. Counters are
 * written as their running total (both exports are cumulative).
 */
export interface MetricWriter {
  /** The value of a counter or gauge series. */
  value(id: MetricId, labels: Labels, value: number): void;
  /** The observations of a histogram series. */
  histogram(id: MetricId, labels: Labels, value: HistogramValue): void;
}

/** Collects every metric's current values into `w` (called per scrape or OTel collection). */
export type MetricCollector = (w: MetricWriter) => void;

/** The OpenTelemetry instrument name of a metric: its Prometheus name without `_total`. */
export function otelName(def: MetricDef): string {
  return def.name.endsWith("_total") ? def.name.slice(0, -"_total".length) : def.name;
}

/** The UCUM unit of a metric, from its name's suffix (`_seconds` → `s`, `_bytes` → `By`). */
export function metricUnit(def: MetricDef): string {
  const base = otelName(def);
  if (base.endsWith("_seconds")) return "s";
  if (base.endsWith("_bytes")) return "By";
  return "";
}
