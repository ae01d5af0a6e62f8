/**
 * The node state machine of one shard and the routes derived from it. Pure:
 * no sockets, no timers; time comes from an injected clock, so every rule is
 * unit-testable with a fake one.
 *
 * Each node has a health (`up`/`down`, debounced by `rise`/`fall` passing or
 * failing active checks; the first check after start decides directly), a
 * role and a read verdict from its last INFO, and a passive ejection (errors
 * reported from traffic). Its public status is, in order of precedence:
 * `ejected`, `down`, `draining` (weight 0), `up`.
 *
 * A replica serves reads when its status is `up`, the last INFO verdict says
 * so for `rise` consecutive checks (a negative verdict applies at once: it
 * is the node's own word that its data is incomplete), and its check
 * connection has not broken since the last passing check. That last rule
 * closes the gap of a replica restarted quickly: the process that answers
 * after the break may be empty, and reads must wait for a check of it.
 *
 * Passive ejection: `passive.errors` errors within `passive.window` eject a
 * replica for a cooldown that doubles on each repeated ejection up to
 * `passive.maxCooldownMs`. The doubling streak resets when the node, after
 * rejoining, stays un-ejected for as long as its next cooldown would last.
 * An ejected node rejoins at the first passing check that completes after
 * its cooldown. At most `maxEjectedPercent` of the shard's replicas are
 * ejected at once (rounded down); past that, the ejection is skipped and
 * logged once. The primary is never ejected: the writer has nowhere else to
 * go, and the active checks govern it.
 *
 * @module
 */

import type {
  NodeConfig,
  PassiveConfig,
  PassiveErrorKind,
  Routes,
  ShardConfig,
} from "../config/types.ts";

export type { PassiveErrorKind } from "../config/types.ts";
import type { Logger } from "../telemetry/logger.ts";
import { assessReplica, findReplicaLine, type NodeInfo, type NodeRole } from "./info.ts";
import { ejectionCooldownMs, ErrorWindow } from "./passive.ts";

export type { NodeRole } from "./info.ts";

/** A node's public status. */
export type NodeStatus = "up" | "down" | "ejected" | "draining";

/** The routing facts the proxy needs, recomputed on every relevant change (config's {@link Routes}). */
export type RouteUpdate = Routes;

/** What admin, telemetry and the proxy read about one node. */
export interface NodeSnapshot {
  /** Node id (normalised `host:port`). */
  id: string;
  /** The address as configured. */
  address: string;
  /** Role from the last answered INFO (kept while the node is down). */
  role: NodeRole;
  /** Public status: ejected, down, draining (weight 0) or up. */
  status: NodeStatus;
  /** True when the node is in the readers now. */
  servesReads: boolean;
  /** Why the node is in this state, e.g. `lag 12000ms > max_lag 10000ms`. */
  reason: string;
  /** Epoch ms of the last status change. */
  since: number;
  /** Replication lag estimate in ms (replicas), or null. */
  lagMs: number | null;
  /** Replicas: `master_link_status:up`; null for a primary or an unchecked node. */
  linkUp: boolean | null;
  /** The node is loading its dataset. */
  loading: boolean;
  /** A full sync is in progress (`master_sync_in_progress:1`). */
  syncing: boolean;
  /** `connected_slaves` of the node. */
  connectedReplicas: number;
  /** Passive ejections since start. */
  ejections: number;
  /** Latency of the last check in ms. */
  lastCheckMs: number | null;
  /** Epoch ms when the last check finished, or null before the first. */
  lastCheckAt: number | null;
}

/** A check that got answers: PING then INFO. */
export interface CheckPass {
  /** Discriminant: the check passed. */
  readonly ok: true;
  /** The parsed INFO. */
  readonly info: NodeInfo;
  /** Duration of the check in ms. */
  readonly latencyMs: number;
  /** The IP the check connection reached, for matching the primary's replica lines. */
  readonly remoteIp: string | null;
}

/**
 * A check that failed: no connection, timeout, or a wrong answer; or, with
 * `busy`, one the node answered `-BUSY` (a long script or function): alive,
 * so not a failure, but its reads go elsewhere until it answers again.
 */
export interface CheckFail {
  /** Discriminant: the check failed. */
  readonly ok: false;
  /** The node answered, `-BUSY`: it is alive and keeps its role. */
  readonly busy?: boolean;
  /** Duration of the check in ms. */
  readonly latencyMs: number;
  /** What went wrong, e.g. `timeout after 1000ms` (never contains secrets). */
  readonly error: string;
}

/** The outcome of one active check. */
export type CheckResult = CheckPass | CheckFail;

/** Routes before any check finished. */
const NOT_CHECKED = "health checks have not finished yet";

class NodeState {
  readonly id: string;
  address: string;
  host: string;
  port: number;
  weight: number;
  /** The first check result decides directly (nodes present at start). */
  decidesOnFirst: boolean;
  checks = 0;
  health: "up" | "down" = "down";
  passes = 0;
  fails = 0;
  lastError: string | null = null;
  role: NodeRole = "unknown";
  info: NodeInfo | null = null;
  remoteIp: string | null = null;
  ready = false;
  readyStreak = 0;
  verdictReason = "not checked yet";
  lagMs: number | null = null;
  held = false;
  /** The last check was answered `-BUSY`: alive, no new reads. */
  busy = false;
  lastCheckMs: number | null = null;
  lastCheckAt: number | null = null;
  // passive
  window: ErrorWindow;
  ejectedUntil: number | null = null;
  ejectReason = "";
  ejections = 0;
  streak = 0;
  rejoinedAt: number | null = null;
  capLogged = false;
  // last published values (for logging transitions once)
  status: NodeStatus = "down";
  servesReads = false;
  loggedRole: NodeRole = "unknown";
  reason = "not checked yet";
  since: number;

  constructor(cfg: NodeConfig, passive: PassiveConfig, decidesOnFirst: boolean, now: number) {
    this.id = cfg.id;
    this.address = cfg.address.text;
    this.host = cfg.address.host;
    this.port = cfg.address.port;
    this.weight = cfg.weight;
    this.decidesOnFirst = decidesOnFirst;
    this.window = new ErrorWindow(passive.errors, passive.windowMs);
    this.since = now;
  }
}

/** Options of {@linkcode ShardState}. */
export interface ShardStateOptions {
  /** Where transitions are logged. */
  readonly logger: Logger;
  /** Clock in epoch ms. */
  readonly now: () => number;
}

/** The nodes of one shard: their state machines and the routes they imply. */
export class ShardState {
  #shard: ShardConfig;
  #nodes: NodeState[] = [];
  #byId = new Map<string, NodeState>();
  #log: Logger;
  #now: () => number;

  /** Starts with every node of `shard` down and unchecked; each node's first check decides. */
  constructor(shard: ShardConfig, opts: ShardStateOptions) {
    this.#shard = shard;
    this.#log = opts.logger;
    this.#now = opts.now;
    const now = this.#now();
    for (const cfg of shard.nodes) this.#add(cfg, true, now);
  }

  /** The config currently applied. */
  get shard(): ShardConfig {
    return this.#shard;
  }

  /** True when `id` is a node of the shard. */
  has(id: string): boolean {
    return this.#byId.has(id);
  }

  #add(cfg: NodeConfig, decidesOnFirst: boolean, now: number): NodeState {
    const n = new NodeState(cfg, this.#shard.passive, decidesOnFirst, now);
    n.reason = decidesOnFirst
      ? "not checked yet"
      : `new node: waiting for ${this.#shard.check.rise} passing checks`;
    this.#nodes.push(n);
    this.#byId.set(n.id, n);
    return n;
  }

  /** Applies the result of one active check of node `id`. */
  applyCheck(id: string, result: CheckResult): void {
    const n = this.#byId.get(id);
    if (n === undefined) return;
    const now = this.#now();
    const { rise, fall } = this.#shard.check;
    const first = n.decidesOnFirst && n.checks === 0;
    n.checks++;
    n.lastCheckMs = result.latencyMs;
    n.lastCheckAt = now;
    if (result.ok) {
      const info = result.info;
      if (
        n.info !== null && n.info.runId !== null && info.runId !== null &&
        n.info.runId !== info.runId
      ) {
        this.#log.info("node process restarted", { node: n.id, shard: this.#shard.name });
        n.ready = false;
        n.readyStreak = 0;
      }
      n.fails = 0;
      n.passes++;
      n.lastError = null;
      n.busy = false;
      n.info = info;
      n.role = info.role;
      n.remoteIp = result.remoteIp;
      n.held = false;
      if (n.health === "down" && (first || n.passes >= rise)) n.health = "up";
      if (info.role === "replica") {
        const verdict = assessReplica(info, this.#primaryLineFor(n), this.#shard.check);
        n.lagMs = verdict.lagMs;
        n.verdictReason = verdict.reason;
        if (!verdict.serves) {
          n.ready = false;
          n.readyStreak = 0;
        } else {
          n.readyStreak++;
          if (first || n.ready || n.readyStreak >= rise) n.ready = true;
        }
      } else {
        n.lagMs = null;
        n.ready = false;
        n.readyStreak = 0;
        n.verdictReason = info.role === "master"
          ? (info.loading ? "role master, loading the dataset" : "role master")
          : "INFO has no role";
      }
      if (n.ejectedUntil !== null && now >= n.ejectedUntil) {
        n.ejectedUntil = null;
        n.rejoinedAt = now;
        for (const other of this.#nodes) other.capLogged = false;
        this.#log.info("node rejoins after its ejection cooldown", {
          node: n.id,
          shard: this.#shard.name,
        });
      }
    } else if (result.busy === true) {
      // Busy is not down: the node keeps its role (a busy primary stays the
      // writer, whose clients get the node's own -BUSY while the script runs).
      n.busy = true;
      n.fails = 0;
      n.lastError = result.error;
    } else {
      n.passes = 0;
      n.fails++;
      n.readyStreak = 0;
      n.busy = false;
      n.lastError = result.error;
      if (n.health === "up" && n.fails >= fall) n.health = "down";
      if (n.health === "down") n.ready = false;
    }
    n.decidesOnFirst = false;
    this.#settle(n, now);
  }

  /**
   * The check connection of node `id` broke (closed by the peer or reset):
   * the node stops serving reads until a check of whatever answers now passes.
   */
  connectionLost(id: string): void {
    const n = this.#byId.get(id);
    if (n === undefined || n.health !== "up" || n.held) return;
    n.held = true;
    this.#settle(n, this.#now());
  }

  /**
   * Counts a passive error against node `id`; returns true when it ejected
   * the node (the routes changed). O(1) unless the limit is reached.
   */
  reportError(id: string, kind: PassiveErrorKind): boolean {
    const n = this.#byId.get(id);
    if (n === undefined || n.ejectedUntil !== null || n.role === "master") return false;
    const now = this.#now();
    if (!n.window.record(now)) return false;
    // A node that is already out of service is the active checker's business.
    if (n.health !== "up") return false;
    const passive = this.#shard.passive;
    const replicas = this.#nodes.filter((x) => x.role === "replica").length;
    const ejected = this.#nodes.filter((x) => x.ejectedUntil !== null).length;
    const allowed = Math.floor((replicas * passive.maxEjectedPercent) / 100);
    if (ejected + 1 > allowed) {
      if (!n.capLogged) {
        n.capLogged = true;
        this.#log.warn("node not ejected: max_ejected_percent reached", {
          node: n.id,
          shard: this.#shard.name,
          kind,
          ejected,
          replicas,
          maxEjectedPercent: passive.maxEjectedPercent,
        });
      }
      return false;
    }
    if (n.rejoinedAt !== null) {
      const probation = ejectionCooldownMs(passive.cooldownMs, passive.maxCooldownMs, n.streak);
      if (now - n.rejoinedAt >= probation) n.streak = 0;
    }
    const cooldown = ejectionCooldownMs(passive.cooldownMs, passive.maxCooldownMs, n.streak);
    n.streak++;
    n.ejections++;
    n.ejectedUntil = now + cooldown;
    n.rejoinedAt = null;
    n.window.clear();
    n.capLogged = false;
    n.ejectReason = `ejected: ${passive.errors} errors in ${passive.windowMs}ms (last: ${kind}); ` +
      `cooldown ${cooldown}ms`;
    this.#settle(n, now);
    return true;
  }

  /**
   * Applies a new config of the same shard: removed nodes leave at once,
   * added nodes start down and join after `rise` passing checks, weights and
   * check/passive settings change in place. Returns the added and removed nodes.
   */
  update(shard: ShardConfig): { added: NodeConfig[]; removed: string[] } {
    const now = this.#now();
    const passiveChanged = JSON.stringify(shard.passive) !== JSON.stringify(this.#shard.passive);
    this.#shard = shard;
    const wanted = new Set(shard.nodes.map((c) => c.id));
    const removed: string[] = [];
    for (const n of this.#nodes) {
      if (!wanted.has(n.id)) {
        removed.push(n.id);
        this.#byId.delete(n.id);
        this.#log.info("node removed from the shard", { node: n.id, shard: shard.name });
      }
    }
    const added: NodeConfig[] = [];
    const order: NodeState[] = [];
    for (const cfg of shard.nodes) {
      let n = this.#byId.get(cfg.id);
      if (n === undefined) {
        n = new NodeState(cfg, shard.passive, false, now);
        n.reason = `new node: waiting for ${shard.check.rise} passing checks`;
        this.#byId.set(n.id, n);
        added.push(cfg);
        this.#log.info("node added to the shard", { node: n.id, shard: shard.name });
      } else {
        n.weight = cfg.weight;
        n.address = cfg.address.text;
        n.host = cfg.address.host;
        n.port = cfg.address.port;
        if (passiveChanged) {
          n.window = new ErrorWindow(shard.passive.errors, shard.passive.windowMs);
        }
      }
      order.push(n);
    }
    this.#nodes = order;
    for (const n of this.#nodes) this.#settle(n, now);
    return { added, removed };
  }

  /**
   * What the servers say they are (server, version, mode): the primary's
   * last INFO, else any node's; null before any node answered.
   */
  serverIdentity(): { server: string; version: string; mode: string } | null {
    const { primary } = this.#pickPrimary();
    const ordered = [...this.#nodes].sort((a, b) =>
      (a.id === primary ? 0 : 1) - (b.id === primary ? 0 : 1)
    );
    for (const n of ordered) {
      const i = n.info;
      if (i !== null && i.version !== null) {
        return { server: i.server, version: i.version, mode: i.mode };
      }
    }
    return null;
  }

  /** The current routes. */
  routes(): RouteUpdate {
    const readers: string[] = [];
    for (const n of this.#nodes) if (n.servesReads) readers.push(n.id);
    const { primary, problem, claimants } = this.#pickPrimary();
    return claimants === undefined
      ? { readers, primary, primaryProblem: problem }
      : { readers, primary, primaryProblem: problem, claimants };
  }

  /** One snapshot per node, in config order. */
  snapshot(): NodeSnapshot[] {
    return this.#nodes.map((n) => ({
      id: n.id,
      address: n.address,
      role: n.role,
      status: n.status,
      servesReads: n.servesReads,
      reason: n.reason,
      since: n.since,
      lagMs: n.lagMs,
      linkUp: n.info?.linkUp ?? null,
      loading: n.info?.loading ?? false,
      syncing: n.info?.syncInProgress ?? false,
      connectedReplicas: n.info?.connectedReplicas ?? 0,
      ejections: n.ejections,
      lastCheckMs: n.lastCheckMs,
      lastCheckAt: n.lastCheckAt,
    }));
  }

  #pickPrimary(): { primary: string | null; problem: string | null; claimants?: string[] } {
    // Two entries with one run_id are one server under two names (e.g. a
    // cloud "primary endpoint" listed beside the node endpoints): keep the first.
    const seen = new Set<string>();
    const claims = this.#nodes.filter((n) => {
      if (n.health !== "up" || n.role !== "master") return false;
      const runId = n.info?.runId ?? null;
      if (runId === null) return true;
      if (seen.has(runId)) return false;
      seen.add(runId);
      return true;
    });
    if (claims.length === 1) return { primary: claims[0].id, problem: null };
    if (claims.length > 1) {
      const withReplicas = claims.filter((n) => (n.info?.connectedReplicas ?? 0) > 0);
      if (withReplicas.length === 1) return { primary: withReplicas[0].id, problem: null };
      return {
        primary: null,
        problem: `${claims.length} nodes claim role:master (${claims.map((n) => n.id).join(", ")})`,
        claimants: claims.map((n) => n.id),
      };
    }
    if (this.#nodes.length === 0) return { primary: null, problem: "the shard has no nodes" };
    if (this.#nodes.every((n) => n.checks === 0)) return { primary: null, problem: NOT_CHECKED };
    const lost = this.#nodes.filter((n) => n.role === "master");
    if (lost.length > 0) {
      return {
        primary: null,
        problem: `no answering node reports role:master (${
          lost.map((n) => n.id).join(", ")
        } last reported it and is down)`,
      };
    }
    return { primary: null, problem: "no node reports role:master" };
  }

  #primaryLineFor(n: NodeState) {
    if (n.info === null) return null;
    const ips = n.remoteIp !== null ? [n.remoteIp, n.host] : [n.host];
    const ports = n.info.tcpPort !== null && n.info.tcpPort !== n.port
      ? [n.port, n.info.tcpPort]
      : [n.port];
    for (const p of this.#nodes) {
      if (p === n || p.health !== "up" || p.role !== "master" || p.info === null) continue;
      for (const port of ports) {
        const line = findReplicaLine(p.info, ips, port);
        if (line !== null) return line;
      }
    }
    return null;
  }

  /** Recomputes a node's public status, serving flag and reason; logs each transition once. */
  #settle(n: NodeState, now: number): void {
    const shard = this.#shard.name;
    let status: NodeStatus;
    let reason: string;
    if (n.ejectedUntil !== null) {
      status = "ejected";
      reason = now >= n.ejectedUntil
        ? `${n.ejectReason}; cooldown over, waiting for a passing check`
        : n.ejectReason;
    } else if (n.health === "down") {
      status = "down";
      if (n.checks === 0) reason = n.reason;
      else if (n.lastError !== null) {
        reason = n.fails > 1 ? `${n.fails} failed checks; last: ${n.lastError}` : n.lastError;
      } else reason = `passing checks ${n.passes}/${this.#shard.check.rise}`;
    } else if (n.weight === 0) {
      status = "draining";
      reason = "weight 0";
    } else {
      status = "up";
      if (n.held) reason = "check connection lost; re-checking";
      else if (n.busy) reason = `${n.verdictReason}; ${n.lastError}; alive, no new reads`;
      else if (n.role === "replica" && !n.ready && n.readyStreak > 0) {
        reason = `${n.verdictReason}; passing ${n.readyStreak}/${this.#shard.check.rise}`;
      } else reason = n.verdictReason;
      if (n.lastError !== null && !n.busy) reason += `; last check failed: ${n.lastError}`;
    }
    const serves = status === "up" && n.role === "replica" && n.ready && !n.held && !n.busy;
    if (status !== n.status) {
      const fields = { node: n.id, shard, from: n.status, to: status, reason };
      if (status === "down" || status === "ejected") this.#log.warn("node status changed", fields);
      else this.#log.info("node status changed", fields);
      n.status = status;
      n.since = now;
    }
    if (n.role !== n.loggedRole) {
      if (n.role !== "unknown") {
        this.#log.info("node role changed", { node: n.id, shard, from: n.loggedRole, to: n.role });
      }
      n.loggedRole = n.role;
    }
    if (serves !== n.servesReads) {
      if (serves) this.#log.info("node serves reads", { node: n.id, shard, reason });
      else this.#log.info("node stops serving reads", { node: n.id, shard, reason });
      n.servesReads = serves;
    }
    n.reason = reason;
  }
}

/** True when two route updates are the same. */
export function sameRoutes(a: RouteUpdate, b: RouteUpdate): boolean {
  if (a.primary !== b.primary || a.primaryProblem !== b.primaryProblem) return false;
  if ((a.claimants ?? []).join(",") !== (b.claimants ?? []).join(",")) return false;
  if (a.readers.length !== b.readers.length) return false;
  for (let i = 0; i < a.readers.length; i++) if (a.readers[i] !== b.readers[i]) return false;
  return true;
}
