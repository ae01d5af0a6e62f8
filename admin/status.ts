/**
 * The `/status` document: version, uptime, config file and last reload,
 * readiness, and every shard with its listeners, sessions, command totals
 * and nodes (state, role, reason, weight, lag, in-flight, connections, last
 * check). Built from snapshots per request; the status page renders it.
 * Never holds a secret: passwords, AUTH settings and TLS files are left out.
 *
 * @module
 */

import type { CacheStats } from "../cache/mod.ts";
import { publicRole } from "../health/mod.ts";
import { readiness, shardProblems } from "./readiness.ts";
import type { AdminSource, ShardSource } from "./source.ts";
import type { NodeZone } from "../proxy/mod.ts";

/** Session counts by protocol. */
export interface SessionCounts {
  readonly resp2: number;
  readonly resp3: number;
  /** Pinned to a dedicated node connection (counted in resp2/resp3 too). */
  readonly pinned: number;
}

/** One node in `/status`. */
export interface NodeStatusDoc {
  /** `host:port`. */
  readonly id: string;
  /** As configured. */
  readonly address: string;
  /** primary, replica or unknown (as last reported by the node). */
  readonly role: "primary" | "replica" | "unknown";
  /** up, down, ejected or draining. */
  readonly state: string;
  /** In the readers now. */
  readonly servesReads: boolean;
  /** Why it is in this state. */
  readonly reason: string;
  /** Since when (ISO time). */
  readonly since: string;
  readonly weight: number;
  /** Replication lag in ms (replicas), else null. */
  readonly lagMs: number | null;
  /** Commands in flight on its multiplexed connections. */
  readonly inflight: number;
  /** Open multiplexed connections by protocol. */
  readonly connections: { readonly resp2: number; readonly resp3: number };
  /** Open dedicated connections of pinned sessions. */
  readonly pinnedConnections: number;
  /** Duration of the last active check in ms. */
  readonly checkLatencyMs: number | null;
  /** When the last check finished (ISO time), or null. */
  readonly lastCheckAt: string | null;
  /** Passive ejections since start. */
  readonly ejections: number;
  /** Replies it gave (a counter: rates come from two polls). */
  readonly commands: number;
  /** Commands it failed (a counter). */
  readonly errors: number;
  /** Its zone (configured, else the `availability_zone` it reports), or null. */
  readonly zone: string | null;
  /** Where the zone comes from: `config`, `learned`, or null. */
  readonly zoneSource: "config" | "learned" | null;
  /** Relative to the sidecar's zone: same, cross, or unknown. */
  readonly locality: "same" | "cross" | "unknown";
}

/** One shard in `/status`. */
export interface ShardStatusDoc {
  readonly name: string;
  readonly balance: string;
  readonly fallback: string;
  /** Bound listeners: role and `host:port`. */
  readonly listeners: readonly { readonly role: string; readonly address: string }[];
  /** The node writes go to, or null. */
  readonly primary: string | null;
  /** Why there is no primary, or null. */
  readonly primaryProblem: string | null;
  /** Nodes serving reads now. */
  readonly readers: readonly string[];
  /** What keeps this shard from being ready (empty when ready). */
  readonly problems: readonly string[];
  /** Client sessions now. */
  readonly sessions: SessionCounts;
  /** Commands answered so far (counters). */
  readonly commands: {
    readonly total: number;
    readonly errors: number;
    readonly failed: number;
    readonly retries: number;
  };
  readonly nodes: readonly NodeStatusDoc[];
  /** The sidecar's zone (`zone:`), or null: reads ignore zones. */
  readonly zone: string | null;
  /** Replies to reads, and their bytes, by the answering node's locality (counters). */
  readonly zoneReads: ZoneCounts;
  readonly zoneBytes: ZoneCounts;
  /** The near cache's figures (`cache:` on), or null. */
  readonly cache: CacheStats | null;
}

/** Counters by locality. */
export interface ZoneCounts {
  readonly same: number;
  readonly cross: number;
  readonly unknown: number;
}

/** The whole `/status` document. */
export interface StatusDoc {
  readonly version: string;
  readonly deno: string;
  readonly pid: number;
  /** When the process started (ISO time). */
  readonly startedAt: string;
  readonly uptimeSeconds: number;
  /** When this document was made (ISO time). */
  readonly now: string;
  /** As /readyz. */
  readonly ready: boolean;
  readonly notReady: readonly string[];
  readonly config: {
    readonly file: string;
    readonly reloads: { readonly applied: number; readonly rejected: number };
    /** When the running config was loaded (ISO time). */
    readonly loadedAt: string;
    /** The last reload, or null. */
    readonly lastReload: {
      readonly at: string;
      readonly ok: boolean;
      readonly summary: string | null;
      readonly errors: readonly string[];
    } | null;
  };
  /** Client sessions over every shard (and router port). */
  readonly sessions: SessionCounts;
  readonly shards: readonly ShardStatusDoc[];
  /** Router ports: listener, ring and sessions (their commands count on the shards). */
  readonly routers: readonly RouterStatusDoc[];
}

/** One router port in `/status`. */
export interface RouterStatusDoc {
  readonly name: string;
  readonly address: string | null;
  readonly distribution: string;
  readonly hash: string;
  readonly shards: readonly string[];
  readonly sessions: SessionCounts;
}

const NO_COUNTS: ZoneCounts = { same: 0, cross: 0, unknown: 0 };

const iso = (ms: number): string => new Date(ms).toISOString();

const NO_ZONE = { zone: null, source: null, locality: "unknown" } as const;

function nodeDocs(s: ShardSource): NodeStatusDoc[] {
  const weights = new Map(s.config.nodes.map((n) => [n.id, n.weight]));
  const zones = new Map(s.zones?.nodes.map((z) => [z.id, z]));
  const stats = new Map(s.stats.nodes.map((n) => [n.id, n]));
  return s.nodes.map((n) => {
    const st = stats.get(n.id);
    const counted = s.commands.peekNode(n.id);
    return {
      id: n.id,
      address: n.address,
      role: publicRole(n.role),
      state: n.status,
      servesReads: n.servesReads,
      reason: n.reason,
      since: iso(n.since),
      weight: weights.get(n.id) ?? 0,
      lagMs: n.lagMs,
      inflight: st?.inflight ?? 0,
      connections: { resp2: st?.connections.resp2 ?? 0, resp3: st?.connections.resp3 ?? 0 },
      pinnedConnections: st?.pinnedConnections ?? 0,
      checkLatencyMs: n.lastCheckMs,
      lastCheckAt: n.lastCheckAt === null ? null : iso(n.lastCheckAt),
      ejections: n.ejections,
      commands: counted?.ok ?? 0,
      errors: counted?.errors ?? 0,
      ...zoneDoc(zones.get(n.id) ?? NO_ZONE),
    };
  });
}

function zoneDoc(z: Pick<NodeZone, "zone" | "source" | "locality">): {
  zone: string | null;
  zoneSource: NodeZone["source"];
  locality: NodeZone["locality"];
} {
  return { zone: z.zone, zoneSource: z.source, locality: z.locality };
}

/** The `/status` document of `src` now (`shards` as `src.shards()` returned them). */
export function buildStatus(
  src: AdminSource,
  shards: readonly ShardSource[],
  now: number = Date.now(),
): StatusDoc {
  const ready = readiness(src.stopping(), shards);
  const reloads = src.reloads();
  const total = { resp2: 0, resp3: 0, pinned: 0 };
  const shardDocs = shards.map((s): ShardStatusDoc => {
    const sessions = { ...s.stats.clients, pinned: s.stats.pinned };
    total.resp2 += sessions.resp2;
    total.resp3 += sessions.resp3;
    total.pinned += sessions.pinned;
    return {
      name: s.name,
      balance: s.config.balance,
      fallback: s.config.fallback,
      listeners: s.listeners.map((l) => ({
        role: l.role,
        address: l.host.includes(":") ? `[${l.host}]:${l.port}` : `${l.host}:${l.port}`,
      })),
      primary: s.routes.primary,
      primaryProblem: s.routes.primaryProblem,
      readers: [...s.routes.readers],
      problems: shardProblems(s),
      sessions,
      commands: { ...s.commands.totals(), retries: s.counters.retries },
      nodes: nodeDocs(s),
      zone: s.zones?.zone ?? null,
      zoneReads: { ...(s.zones?.reads ?? NO_COUNTS) },
      zoneBytes: { ...(s.zones?.bytes ?? NO_COUNTS) },
      cache: s.cache ?? null,
    };
  });
  const routers = (src.routers?.() ?? []).map((r): RouterStatusDoc => {
    total.resp2 += r.sessions.resp2;
    total.resp3 += r.sessions.resp3;
    total.pinned += r.sessions.pinned;
    const l = r.listener;
    return {
      name: r.name,
      address: l === null
        ? null
        : l.host.includes(":")
        ? `[${l.host}]:${l.port}`
        : `${l.host}:${l.port}`,
      distribution: r.distribution,
      hash: r.hash,
      shards: [...r.shards],
      sessions: { ...r.sessions },
    };
  });
  const last = reloads.last;
  return {
    version: src.version,
    deno: Deno.version.deno,
    pid: Deno.pid,
    startedAt: iso(src.startedAt),
    uptimeSeconds: Math.max(0, Math.round((now - src.startedAt) / 1000)),
    now: iso(now),
    ready: ready.ready,
    notReady: ready.reasons,
    config: {
      file: src.configFile(),
      reloads: { applied: reloads.applied, rejected: reloads.rejected },
      loadedAt: iso(reloads.lastSuccessAt),
      lastReload: last === null
        ? null
        : { at: iso(last.at), ok: last.ok, summary: last.summary, errors: [...last.errors] },
    },
    sessions: total,
    shards: shardDocs,
    routers,
  };
}
