/**
 * The validated, normalised shape of a shardgate config. Durations are in
 * milliseconds, addresses are split into host and port, defaults are applied
 * and `${ENV}` references are expanded. Everything downstream (proxy, health,
 * admin) reads only this shape, never the YAML.
 *
 * @module
 */

/** A `host:port` pair as written in the config. */
export interface Address {
  /** Host name or IP literal (IPv6 without brackets). */
  readonly host: string;
  /** TCP port, 0..65535 (0 only in tests: bind any free port). */
  readonly port: number;
  /** The address as written, normalised to `host:port` (`[::1]:6379` for IPv6). */
  readonly text: string;
}

/** One Redis/Valkey node of a shard. */
export interface NodeConfig {
  /** Stable identity within its shard: the normalised `host:port`. */
  readonly id: string;
  /** Where to connect. */
  readonly address: Address;
  /** Relative share of reads; 0 drains the node. */
  readonly weight: number;
  /** The node's zone as configured (`{ address, zone }`), or null/absent: learned if it reports one. */
  readonly zone?: string | null;
}

/** Read balancing algorithm. */
export type BalanceMode = "round-robin" | "least-pending";

/**
 * Which writes a read through this shard must see (read-your-writes):
 * `eventual` none in particular; `session` the session's own acknowledged
 * writes (split port); `host` every write acknowledged through this
 * sidecar before the read arrived, any port, any client.
 */
export type ConsistencyMode = "eventual" | "session" | "host";

/** What readers do when no replica serves. */
export type FallbackMode = "primary" | "none";

/** Timeouts of the data path, in milliseconds; 0 means never. */
export interface TimeoutsConfig {
  readonly connectMs: number;
  /** A read's wait for its reply (then retried elsewhere, or failed). */
  readonly serverMs: number;
  /**
   * A write's (any command but a read) and a pinned command's wait for its
   * reply: no other node could answer it, so by default (0) it waits as it
   * would directly, failing only when its connection breaks.
   */
  readonly writerMs: number;
  /**
   * How long writes wait for a new primary: refused `-READONLY` by a
   * demoted one, sent while none is known, or to one that cannot be reached.
   */
  readonly failoverMs: number;
  readonly clientIdleMs: number;
  /** How long a removed listener or node may drain before it is closed. */
  readonly drainMs: number;
}

/** Active health check settings. */
export interface CheckConfig {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly rise: number;
  readonly fall: number;
  readonly maxLagMs: number;
  /** Keep reading from a replica whose link to its primary is down (stale beats failing). */
  readonly serveWhenLinkDown: boolean;
}

/** Passive (traffic-observed) health settings. */
export interface PassiveConfig {
  readonly errors: number;
  readonly windowMs: number;
  readonly cooldownMs: number;
  /** Cap for the cooldown, which doubles on each repeated ejection. */
  readonly maxCooldownMs: number;
  readonly maxEjectedPercent: number;
}

/** Hedged reads: a read with no reply after an adaptive delay is also sent to another node. */
export interface HedgeConfig {
  /** False with `hedge: false`. */
  readonly enabled: boolean;
  /** The delay is this percentile of the shard's recent read latencies (50..99.9). */
  readonly percentile: number;
  /** Lower bound of the delay. */
  readonly minDelayMs: number;
  /** Upper bound of the delay. */
  readonly maxDelayMs: number;
  /** Hedges allowed per 100 reads over the budget window. */
  readonly budgetPercent: number;
}

/**
 * The near cache (`cache:`): hot reads answered by shardgate itself, filled
 * only from a node connection with `CLIENT TRACKING` on and evicted by that
 * node's invalidations (see `cache/`).
 */
export interface CacheConfig {
  /** False unless the shard (or `defaults`) says `cache: true` or gives a map. */
  readonly enabled: boolean;
  /** At most this many keys are cached. */
  readonly maxKeys: number;
  /** At most this many bytes (keys, replies and a per-entry overhead) are cached. */
  readonly maxBytes: number;
  /** Admission: a key gets in once it is read about this many times a second (`cache/admission.ts`). */
  readonly minReads: number;
  /** An entry is never served longer than this after it was filled (a safety net). */
  readonly maxAgeMs: number;
}

/** Credentials sent to backends (AUTH). Secrets come from `${ENV}` only. */
export interface AuthConfig {
  readonly username: string | null;
  readonly password: string;
}

/** TLS to backends; `null` means plain TCP. */
export interface TlsConfig {
  /** SNI / certificate name; defaults to the node host. */
  readonly servername: string | null;
  /** Extra CA certificates (PEM file path), or null for the system store. */
  readonly caFile: string | null;
  /** Skip certificate verification (tests only). */
  readonly insecure: boolean;
}

/** Settings every shard has; each may come from `defaults` or the shard itself. */
export interface ShardSettings {
  readonly balance: BalanceMode;
  readonly fallback: FallbackMode;
  readonly connectionsPerNode: number;
  readonly maxClients: number;
  readonly retries: number;
  readonly timeouts: TimeoutsConfig;
  readonly check: CheckConfig;
  readonly passive: PassiveConfig;
  readonly hedge: HedgeConfig;
  readonly cache: CacheConfig;
  readonly auth: AuthConfig | null;
  readonly tls: TlsConfig | null;
  /** Password clients must send with AUTH on this shard's listeners, or null. */
  readonly clientPassword: string | null;
  /** Allow listen addresses that are not loopback. */
  readonly allowRemote: boolean;
  /** How often node host names are re-resolved, in ms; 0 = only on reconnect. */
  readonly dnsRefreshMs: number;
  /** Read-your-writes mode of reads to replicas. */
  readonly consistency: ConsistencyMode;
  /** How long a gated read waits for a replica to catch up before it goes to the primary (ms). */
  readonly consistencyWaitMs: number;
}

/** One shard: its listeners and its nodes. */
export interface ShardConfig extends ShardSettings {
  readonly name: string;
  /** The readers port (replicas), or null. */
  readonly readers: Address | null;
  /** The writer port (the primary), or null. */
  readonly writer: Address | null;
  /** The split port (reads to replicas, the rest to the primary), or null. */
  readonly split: Address | null;
  readonly nodes: readonly NodeConfig[];
  /** The sidecar's own zone (top-level `zone:`, copied into every shard), or null/absent: none. */
  readonly zone?: string | null;
}

/** Admin HTTP server settings. */
export interface AdminConfig {
  readonly listen: Address;
}

/** Telemetry settings. */
export interface TelemetryConfig {
  /** Share of commands traced when OpenTelemetry is on, 0..1. */
  readonly sampleRatio: number;
}

/** How a router spreads keys over its shards. */
export type RouterDistribution = "ketama" | "slots";

/** twemproxy's key hash names (a ketama router's `hash`), in the order errors list them. */
export const ROUTER_HASHES = [
  "fnv1a_64",
  "md5",
  "one_at_a_time",
  "crc16",
  "crc32",
  "crc32a",
  "fnv1_64",
  "fnv1_32",
  "fnv1a_32",
  "hsieh",
  "murmur",
  "jenkins",
] as const;

/** One of twemproxy's key hash names. */
export type RouterHash = typeof ROUTER_HASHES[number];

/** Where a router sends keyed reads: the shard's readers or its writer. */
export type RouterReads = "readers" | "writer";

/** An inclusive range of Redis Cluster hash slots. */
export interface SlotRange {
  readonly first: number;
  readonly last: number;
}

/** One shard a router spans. */
export interface RouterShardConfig {
  /** Name of a shard in {@link Config.shards}. */
  readonly shard: string;
  /**
   * Ketama ring name: the explicit `name`, else what twemproxy would use for
   * the shard's first node as written (`host:port`, just `host` for port 11211).
   */
  readonly name: string;
  /** Ketama weight, >= 1. */
  readonly weight: number;
  /** With `distribution: slots`, the slots this shard owns (file order); empty for ketama. */
  readonly slots: readonly SlotRange[];
}

/** A router port: one listener that picks the shard by key. */
export interface RouterConfig {
  readonly name: string;
  readonly listen: Address;
  /** Allow a listen address that is not loopback. */
  readonly allowRemote: boolean;
  readonly distribution: RouterDistribution;
  /** Key hash of a ketama ring (unused by `slots`, which is always Redis Cluster's CRC16). */
  readonly hash: RouterHash;
  /**
   * Two characters: only the part of a key between them is hashed (twemproxy
   * `hash_tag`), or null. Always `{}` with `slots` (Redis Cluster's rule).
   */
  readonly hashTag: string | null;
  readonly reads: RouterReads;
  /** The shards in file order; a shard's index here is its index on the ring. */
  readonly shards: readonly RouterShardConfig[];
}

/** What an injected fault does to a command (see {@link FaultConfig}). */
export type FaultKind = "delay" | "error" | "drop" | "blackhole";

/** The port a faulted command came in on. */
export type FaultRole = "readers" | "writer" | "router";

/**
 * One fault injection rule (top-level `faults:`), for rehearsing failures:
 * commands it matches are, `percent` of the time, delayed, answered with an
 * error, sent into a connection that is then dropped, or never answered
 * (blackholed: they meet the server timeout and hedging). Null scope fields
 * match everything.
 */
export interface FaultConfig {
  /** Shard name, or null for every shard. */
  readonly shard: string | null;
  /** Port role the command came in on, or null for any. */
  readonly role: FaultRole | null;
  /** Node id (`host:port` as in the shard's nodes), or null for every node. */
  readonly node: string | null;
  /** Lower-case command names (`get`, `client|setname`), or null for every command. */
  readonly commands: readonly string[] | null;
  readonly kind: FaultKind;
  /** Share of matching commands it hits, 0..100. */
  readonly percent: number;
  /** `delay`: the shortest and longest delay in ms (equal for a fixed delay); else 0. */
  readonly delayMs: number;
  readonly delayMaxMs: number;
  /** `error`: the error reply's text without the `-` (`ERR injected`); else null. */
  readonly error: string | null;
}

/** A whole validated config. */
export interface Config {
  /** Path of the file it was read from (for messages). */
  readonly file: string;
  readonly admin: AdminConfig | null;
  readonly telemetry: TelemetryConfig;
  /** Shards in file order. */
  readonly shards: readonly ShardConfig[];
  /** Router ports in file order (none when the file has no `routers`). */
  readonly routers: readonly RouterConfig[];
  /** Fault injection rules in file order (none when the file has no `faults`). */
  readonly faults: readonly FaultConfig[];
  /** The sidecar's zone (top-level `zone:`), or null/absent: reads ignore zones. */
  readonly zone?: string | null;
}

// ---- vocabulary shared by the proxy and the health checker ----

/** Kinds of errors the proxy sees on traffic to a node and reports to the health checker. */
export type PassiveErrorKind =
  | "connect"
  | "timeout"
  | "closed"
  | "protocol"
  | "loading"
  | "masterdown"
  | "busy"
  | "readonly"
  | "slow";

/** The routing facts the health checker computes and the proxy follows. */
export interface Routes {
  /**
   * Ids of replica nodes that serve reads now (up, role replica, passing the
   * replication criteria), in config order.
   */
  readonly readers: readonly string[];
  /** Id of the node the writer routes to, or null. */
  readonly primary: string | null;
  /** When primary is null: why (shown in the client error), else null. */
  readonly primaryProblem: string | null;
  /**
   * When primary is null because several answering nodes claim
   * `role:master` (a failover under way): their ids, in config order. Reads
   * may go to them meanwhile; writes wait for one primary.
   */
  readonly claimants?: readonly string[];
}

/** One validation error, positioned in the source file. */
export interface ConfigIssue {
  readonly file: string;
  /** 1-based line and column. */
  readonly line: number;
  readonly col: number;
  /** Dotted key path, e.g. `shards.users.nodes[1].weight`. */
  readonly path: string;
  readonly message: string;
}
