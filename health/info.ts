/**
 * `INFO` parsing and the replication rules built on it: which node is a
 * primary, and whether a replica may serve reads (answers, not loading, not
 * in a full sync, has completed a sync since its process started, lag under
 * `max_lag`). Pure functions; the checker feeds them the text of
 * `INFO server`, `INFO replication` and `INFO persistence`.
 *
 * @module
 */

import type { CheckConfig } from "../config/types.ts";
import { MAX_ZONE_LENGTH } from "../config/defaults.ts";

/** A node's role as the routing table sees it. */
export type NodeRole = "master" | "replica" | "unknown";

/** A role in shardgate's own words (status, metrics, spans): `master` is `primary`. */
export function publicRole(role: NodeRole): "primary" | "replica" | "unknown" {
  return role === "master" ? "primary" : role;
}

/** One `slaveN:ip=..,port=..,state=..,offset=..,lag=..` line of a primary. */
export interface ReplicaLine {
  /** Replica address as the primary sees it. */
  readonly ip: string;
  /** The port the replica listens on (as announced by it). */
  readonly port: number;
  /** `online`, `wait_bgsave`, `send_bulk`, ... */
  readonly state: string;
  /** Replication offset the replica acknowledged last. */
  readonly offset: number;
  /** Seconds since the replica's last acknowledgement (replicas ack every second). */
  readonly lagSeconds: number;
}

/** The facts of one node's `INFO` that health decisions need. */
export interface NodeInfo {
  /** `redis` or `valkey` (Valkey's `server_name`), as HELLO reports it. */
  readonly server: string;
  /** `redis_version` (Valkey: `valkey_version`), or null. */
  readonly version: string | null;
  /** `redis_mode`: `standalone`, `cluster` or `sentinel`. */
  readonly mode: string;
  /** `master`, `replica` (Redis says `slave`), or `unknown` when absent. */
  readonly role: NodeRole;
  /** Process identity; changes when the process restarts. */
  readonly runId: string | null;
  /** Seconds since the process started. */
  readonly uptimeSeconds: number | null;
  /** The port the node listens on (`tcp_port`). */
  readonly tcpPort: number | null;
  /** True while the node loads a dataset (`loading:1` or `async_loading:1`). */
  readonly loading: boolean;
  /** Replicas only: the primary they follow. */
  readonly masterHost: string | null;
  /** Replicas only: the primary's port. */
  readonly masterPort: number | null;
  /** Replicas only: `master_link_status:up`; null on a primary. */
  readonly linkUp: boolean | null;
  /** Replicas only: `master_sync_in_progress:1` (a full sync is being received). */
  readonly syncInProgress: boolean;
  /** Replicas only: `master_last_io_seconds_ago` (-1 when never). */
  readonly lastIoSeconds: number | null;
  /** Replicas only, link down: `master_link_down_since_seconds` (-1: the link was never up). */
  readonly linkDownSinceSeconds: number | null;
  /** `connected_slaves`. */
  readonly connectedReplicas: number;
  /** Primaries only: the replica lines. */
  readonly replicas: readonly ReplicaLine[];
  /** `availability_zone` (Valkey 8.1+), or null/absent when the node reports none. */
  readonly availabilityZone?: string | null;
}

/** Splits INFO text into its `key:value` fields (section headers and blank lines skipped). */
export function parseInfoFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line === "" || line.startsWith("#")) continue;
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

function int(fields: Map<string, string>, key: string): number | null {
  const v = fields.get(key);
  if (v === undefined || !/^-?\d+$/.test(v)) return null;
  return Number(v);
}

/** Parses `ip=127.0.0.1,port=6380,state=online,offset=14,lag=0`; null when malformed. */
export function parseReplicaLine(value: string): ReplicaLine | null {
  const kv = new Map<string, string>();
  for (const part of value.split(",")) {
    const eq = part.indexOf("=");
    if (eq > 0) kv.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const ip = kv.get("ip");
  const port = Number(kv.get("port"));
  if (ip === undefined || !Number.isInteger(port)) return null;
  const offset = Number(kv.get("offset") ?? "0");
  const lag = Number(kv.get("lag") ?? "0");
  return {
    ip,
    port,
    state: kv.get("state") ?? "unknown",
    offset: Number.isFinite(offset) ? offset : 0,
    lagSeconds: Number.isFinite(lag) ? lag : 0,
  };
}

/** Parses the concatenated text of INFO server, replication and persistence. */
export function parseNodeInfo(text: string): NodeInfo {
  const f = parseInfoFields(text);
  const roleText = f.get("role");
  const role: NodeRole = roleText === "master"
    ? "master"
    : roleText === "slave" || roleText === "replica"
    ? "replica"
    : "unknown";
  const replicas: ReplicaLine[] = [];
  for (const [key, value] of f) {
    if (/^slave\d+$/.test(key)) {
      const line = parseReplicaLine(value);
      if (line !== null) replicas.push(line);
    }
  }
  const isReplica = role === "replica";
  const link = f.get("master_link_status");
  const server = f.get("server_name") ?? "redis";
  return {
    server,
    version: f.get(`${server}_version`) ?? f.get("redis_version") ?? null,
    mode: f.get("redis_mode") ?? f.get("server_mode") ?? "standalone",
    role,
    runId: f.get("run_id") ?? null,
    uptimeSeconds: int(f, "uptime_in_seconds"),
    tcpPort: int(f, "tcp_port"),
    loading: f.get("loading") === "1" || f.get("async_loading") === "1",
    masterHost: isReplica ? f.get("master_host") ?? null : null,
    masterPort: isReplica ? int(f, "master_port") : null,
    linkUp: isReplica ? link === "up" : null,
    syncInProgress: isReplica && f.get("master_sync_in_progress") === "1",
    lastIoSeconds: isReplica ? int(f, "master_last_io_seconds_ago") : null,
    linkDownSinceSeconds: isReplica ? int(f, "master_link_down_since_seconds") : null,
    connectedReplicas: int(f, "connected_slaves") ?? 0,
    replicas,
    availabilityZone: reportedZone(f.get("availability_zone")),
  };
}

/** A reported `availability_zone`: trimmed, null when empty or longer than a zone name may be. */
function reportedZone(value: string | undefined): string | null {
  const z = value?.trim() ?? "";
  return z === "" || z.length > MAX_ZONE_LENGTH ? null : z;
}

/**
 * True when a replica has completed a sync with a primary since its process
 * started: its link is up, or it went down `master_link_down_since_seconds`
 * ago and that is within the process uptime. Redis reports -1 (older
 * versions: seconds since the epoch) when the link was never up in this
 * process — the state of a replica restarted empty, or of a former primary
 * just turned replica, while it waits for its first sync.
 */
export function syncedSinceStart(info: NodeInfo): boolean {
  if (info.role !== "replica") return false;
  if (info.linkUp === true) return true;
  const down = info.linkDownSinceSeconds;
  if (down === null || down < 0) return false;
  // Without an uptime we cannot tell an epoch-sized value from a real one.
  if (info.uptimeSeconds === null) return false;
  return down <= info.uptimeSeconds;
}

/** The verdict on whether a replica serves reads. */
export interface ReplicaVerdict {
  /** True when the replica may serve reads. */
  readonly serves: boolean;
  /** Why (human readable; shown in snapshots and logs). */
  readonly reason: string;
  /** Replication lag estimate in ms, or null when unknown. */
  readonly lagMs: number | null;
}

/**
 * Decides whether a replica serves reads from its own INFO and, when
 * available, its primary's line for it (the primary's `lag=` is the time
 * since the replica's last acknowledgement, sent every second, so it is the
 * better lag estimate; without it the replica's `master_last_io_seconds_ago`
 * is used, which on an idle shard can reach `repl-ping-replica-period`).
 *
 * The primary's line is used only while its state is `online`.
 *
 * A replica whose link is down serves only if `serveWhenLinkDown` is set and
 * it has completed a sync since it started; `max_lag` does not apply then
 * (stale beats failing while a failover is pending).
 */
export function assessReplica(
  info: NodeInfo,
  primaryLine: ReplicaLine | null,
  check: CheckConfig,
): ReplicaVerdict {
  if (info.role !== "replica") {
    return { serves: false, reason: `role ${info.role}`, lagMs: null };
  }
  if (info.loading) return { serves: false, reason: "loading the dataset", lagMs: null };
  if (info.syncInProgress) {
    return {
      serves: false,
      reason: "full sync in progress (master_sync_in_progress:1)",
      lagMs: null,
    };
  }
  if (info.linkUp !== true) {
    if (!syncedSinceStart(info)) {
      return {
        serves: false,
        reason: "master link down and no sync completed since the process started",
        lagMs: null,
      };
    }
    const lagMs = (info.linkDownSinceSeconds ?? 0) * 1000;
    if (!check.serveWhenLinkDown) {
      return { serves: false, reason: "master link down", lagMs };
    }
    return { serves: true, reason: "master link down; serving stale data", lagMs };
  }
  // The primary's state for a replica lags the replica's own (it turns
  // "online" at the replica's first ack, up to a second after the sync, or
  // before the replica finished loading), so it only supplies the lag.
  const line = primaryLine !== null && primaryLine.state === "online" ? primaryLine : null;
  const lagMs = line !== null
    ? line.lagSeconds * 1000
    : info.lastIoSeconds !== null && info.lastIoSeconds >= 0
    ? info.lastIoSeconds * 1000
    : null;
  if (lagMs !== null && lagMs > check.maxLagMs) {
    return { serves: false, reason: `lag ${lagMs}ms > max_lag ${check.maxLagMs}ms`, lagMs };
  }
  return { serves: true, reason: "replica in sync", lagMs };
}

/**
 * Finds a primary's line for a replica: same listening port and one of the
 * replica's IPs (the address the checker reached it at, or the configured
 * host). Null when none matches: the primary's view is then not used.
 */
export function findReplicaLine(
  primary: NodeInfo,
  replicaIps: readonly string[],
  replicaPort: number,
): ReplicaLine | null {
  for (const line of primary.replicas) {
    if (line.port === replicaPort && replicaIps.includes(line.ip)) return line;
  }
  return null;
}
