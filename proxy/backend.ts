/**
 * A node as the proxy sees it: its pools of multiplexed connections (one
 * per protocol and database in use, each up to `connections_per_node`,
 * opened on first use), its pinned connections, its weight and in-flight
 * count for the balancers, and a short back-off after a failed connect so
 * new commands go elsewhere.
 *
 * @module
 */

import {
  CONNECT_BACKOFF_MS,
  FAULT_LOG_INTERVAL_MS,
  HEDGE_AVOID_MS,
  JOIN_WRITE_LIMIT,
  PINNED_IDLE_PER_NODE,
} from "../config/defaults.ts";
import type { NodeConfig, PassiveErrorKind, ShardSettings } from "../config/types.ts";
import { authCommand, dialNode, isIpLiteral, type NodeSocket, type Resolver } from "../net/mod.ts";
import { boundAsRead, type FailReason, type Slot } from "./_runtime.ts";
import type { BalancerNode } from "./balancer.ts";
import {
  type ConnectionHost,
  type ConnectionSetup,
  DEFAULT_SETUP,
  NodeConnection,
  type PinSink,
} from "./node_connection.ts";
import type { PinnedLink } from "./_runtime.ts";
import type { Logger } from "../telemetry/logger.ts";
import type { NodeStats } from "./stats.ts";
import type { Credential } from "./_credential.ts";
import { FAULT_KINDS, type FaultRule } from "./faults.ts";
import type { CommandStats, NodeCommandCounters } from "../telemetry/mod.ts";
import { Route } from "../resp/mod.ts";
import { Locality, LocalityCounter, type PlacedNode } from "./zones.ts";

const READ = Route.READ;

/** What a backend needs from its shard. */
export interface BackendShard {
  /** Current settings (replaced in place on reload). */
  readonly settings: ShardSettings;
  /** Shard logger. */
  readonly logger: Logger;
  /** Per-command counters (metrics), or null. */
  readonly commandStats: CommandStats | null;
  /** Milliseconds on the data path's monotonic clock. */
  now(): number;
  /** Reports a passive error for a node to the health checker. */
  nodeError(nodeId: string, kind: PassiveErrorKind): void;
  /** A retired backend has nothing in flight any more. */
  backendIdle(backend: Backend): void;
  /** A read's latency (ms), for the hedge delay. */
  recordLatency(ms: number): void;
}

/** One Redis node of a shard. */
export class Backend implements BalancerNode, ConnectionHost, PlacedNode {
  /** Node id (`host:port`). */
  readonly id: string;
  /** The node's config entry (replaced on reload). */
  config: NodeConfig;
  /** Commands in flight on its multiplexed connections. */
  pending = 0;
  /** The AUTH frame sent first on every connection, or null. */
  auth: Uint8Array | null;
  /** True once removed by a reload: no new commands, closes when idle. */
  retired = false;
  /** Fault rules that can hit this node (config `faults:`), or null: the data path's one check. */
  faults: FaultRule[] | null = null;
  /** Commands hit by injected faults, by kind index (`FAULT_KINDS`); kept across reloads. */
  readonly faultCounts: Float64Array = new Float64Array(FAULT_KINDS.length);
  /**
   * Its shard's counter for its zone relative to the sidecar's (same, cross,
   * unknown), set whenever routes are applied (`zones.ts`); its reads count there.
   */
  locality: LocalityCounter = new LocalityCounter(Locality.unknown);
  #faultLogAt = -Infinity;
  #rt: BackendShard;
  /** The RESP2, database 0 pool: what most commands use. */
  #mux: (NodeConnection | null)[];
  /** Every pool by {@link poolKey}, the default one included. */
  #pools = new Map<number | string, (NodeConnection | null)[]>();
  /** When each client user's pool was last used (they close when idle). */
  #userPoolUsed = new Map<string, number>();
  #pinned = new Set<NodeConnection>();
  /** Dedicated connections between two pinned sessions, by {@link setupKey}. */
  #idlePinned = new Map<string, NodeConnection[]>();
  #idleSince = new Map<NodeConnection, number>();
  #retryAt = 0;
  #avoidUntil = 0;
  #avoidSince = 0;
  /** The node's reply counters for the status page (metrics), or null. */
  #counts: NodeCommandCounters | null;
  #resolving = false;
  #leaving = new Set<NodeConnection>();

  /** Creates the backend for `config` in the shard runtime `rt`. */
  constructor(config: NodeConfig, rt: BackendShard) {
    this.id = config.id;
    this.config = config;
    this.#rt = rt;
    this.auth = authCommand(rt.settings.auth);
    this.#counts = rt.commandStats?.node(config.id) ?? null;
    this.#mux = new Array(rt.settings.connectionsPerNode).fill(null);
    this.#pools.set(0, this.#mux);
  }

  /** Relative read share (from config). */
  get weight(): number {
    return this.config.weight;
  }

  /** False while retired or backing off after a failed connect. */
  get available(): boolean {
    if (this.retired) return false;
    if (this.#retryAt === 0 && this.#avoidUntil === 0) return true;
    const now = this.#rt.now();
    return now >= this.#retryAt && now >= this.#avoidUntil;
  }

  /** Like {@link available}, but a node avoided only for a slow read counts as reachable. */
  get reachable(): boolean {
    return !this.retired && (this.#retryAt === 0 || this.#rt.now() >= this.#retryAt);
  }

  /**
   * The multiplexed connection for the next command of a session speaking
   * `proto` on database `db`. A connection that already has bytes waiting
   * for this turn's write is joined, so one turn costs the node one read and
   * one write whatever the pool size (on loopback every write is a wake-up
   * of the node). Otherwise the one with the fewest commands in flight,
   * opening connections lazily.
   */
  connection(proto: 2 | 3 = 2, db = 0, user: Credential | null = null): NodeConnection {
    const key = poolKey(proto, db, user);
    let mux = key === 0 ? this.#mux : this.#pools.get(key);
    if (mux === undefined) {
      mux = new Array(this.#rt.settings.connectionsPerNode).fill(null);
      this.#pools.set(key, mux);
    }
    if (user !== null) this.#userPoolUsed.set(key as string, this.#rt.now());
    let best: NodeConnection | null = null;
    for (let i = 0; i < mux.length; i++) {
      let c = mux[i];
      if (c === null || c.closed) {
        if (best !== null && best.inflight === 0) return best;
        c = mux[i] = new NodeConnection(
          this,
          key === 0 ? DEFAULT_SETUP : { proto, db, name: null, user },
        );
        return c;
      }
      const waiting = c.writePending;
      if (waiting > 0 && waiting < JOIN_WRITE_LIMIT) return c;
      if (best === null || c.inflight < best.inflight) best = c;
    }
    return best!;
  }

  /**
   * A dedicated connection for a pinned session, set up as the session is:
   * an idle one a session before it released (same protocol, database and
   * name), else a new one.
   */
  openPinned(sink: PinSink, setup: ConnectionSetup): PinnedConnection {
    const idle = this.#idlePinned.get(setupKey(setup));
    let c: NodeConnection | undefined;
    while (idle !== undefined && (c = idle.pop()) !== undefined && c.closed);
    if (c === undefined || c.closed) c = new NodeConnection(this, setup, sink);
    else c.adopt(sink);
    this.#pinned.add(c);
    return new PinnedConnection(c, this);
  }

  /**
   * A pinned session is done with `c`, which holds nothing of its: kept idle
   * for the next session set up as `setup` (at most PINNED_IDLE_PER_NODE,
   * for PINNED_IDLE_MS), else closed.
   */
  releasePinned(c: NodeConnection, setup: ConnectionSetup): void {
    this.#pinned.delete(c);
    let count = 0;
    for (const list of this.#idlePinned.values()) count += list.length;
    if (c.closed || this.retired || count >= PINNED_IDLE_PER_NODE) {
      c.close(null);
      return;
    }
    c.detach();
    this.#idleSince.set(c, this.#rt.now());
    const key = setupKey(setup);
    const list = this.#idlePinned.get(key);
    if (list === undefined) this.#idlePinned.set(key, [c]);
    else list.push(c);
  }

  /** The local ports of every connection of ours to the node. */
  ownPorts(): Set<number> {
    const out = new Set<number>();
    const add = (c: NodeConnection | null) => {
      if (c !== null && c.localPort !== null) out.add(c.localPort);
    };
    for (const mux of this.#pools.values()) mux.forEach(add);
    this.#pinned.forEach(add);
    this.#leaving.forEach(add);
    for (const list of this.#idlePinned.values()) list.forEach(add);
    return out;
  }

  /** Closes the pools of client users unused for `ms` with nothing in flight. */
  closeIdleUserPools(now: number, ms: number): void {
    for (const [key, used] of this.#userPoolUsed) {
      if (now - used < ms) continue;
      const mux = this.#pools.get(key);
      if (mux !== undefined && mux.some((c) => c !== null && !c.closed && c.inflight > 0)) continue;
      this.#userPoolUsed.delete(key);
      this.#pools.delete(key);
      for (const c of mux ?? []) c?.close(null);
    }
  }

  /** Closes dedicated connections idle longer than `ms`. */
  closeIdlePinned(now: number, ms: number): void {
    for (const [key, list] of this.#idlePinned) {
      const keep = list.filter((c) => {
        if (!c.closed && now - (this.#idleSince.get(c) ?? 0) < ms) return true;
        this.#idleSince.delete(c);
        c.close(null);
        return false;
      });
      if (keep.length > 0) this.#idlePinned.set(key, keep);
      else this.#idlePinned.delete(key);
    }
  }

  /** Applies new connection settings (reload): the pool size and AUTH. */
  resize(): void {
    const size = this.#rt.settings.connectionsPerNode;
    this.auth = authCommand(this.#rt.settings.auth);
    for (const mux of this.#pools.values()) {
      while (mux.length > size) {
        const c = mux.pop();
        if (c) this.#closeWhenIdle(c);
      }
      while (mux.length < size) mux.push(null);
    }
  }

  /** Dials the node (host name or the refreshed IP). */
  dial(): Promise<NodeSocket> {
    const s = this.#rt.settings;
    return dialNode(this.config.address, {
      tls: s.tls,
      connectMs: s.timeouts.connectMs,
    });
  }

  /** Bookkeeping when one of its connections ends. */
  connectionClosed(conn: NodeConnection, reason: FailReason | null): void {
    if (!this.#pinned.delete(conn)) {
      const mux = this.#pools.get(
        poolKey(conn.setup.proto, conn.setup.db, conn.setup.user ?? null),
      );
      const i = mux === undefined ? -1 : mux.indexOf(conn);
      if (i >= 0) mux![i] = null;
    }
    // After a failed connect, new commands avoid the node for a moment
    // (CONNECT_BACKOFF_MS); any connection that did connect clears that,
    // unless it broke with commands in flight (see reportError).
    if (reason === "connect failed") this.#retryAt = this.#rt.now() + CONNECT_BACKOFF_MS;
    else if (reason !== "connection lost") this.#retryAt = 0;
    if (this.retired && this.idle) this.#rt.backendIdle(this);
  }

  /**
   * A reply arrived: one fewer in flight; a read's latency feeds the shard's
   * hedge delay; the node answers, so it is avoided no more.
   */
  replied(slot: Slot, at: number, error: boolean, bytes: number): void {
    this.pending--;
    const ms = at - slot.sentAt;
    if (slot.route === READ) {
      this.#rt.recordLatency(ms);
      const z = this.locality;
      z.reads++;
      z.bytes += bytes;
    }
    this.#avoidUntil = 0;
    const n = this.#counts;
    if (n !== null) {
      if (error) n.errors++;
      else n.ok++;
      n.observe(ms);
    }
  }

  /** `n` in-flight commands failed with their connection. */
  failed(n: number): void {
    this.pending -= n;
    if (this.#counts !== null) this.#counts.errors += n;
  }

  /**
   * A read of this node waits past the hedge delay: new commands avoid the
   * node until it answers something (at most HEDGE_AVOID_MS), so a stalled
   * node stops getting first tries at once, long before health ejects it.
   */
  avoid(now: number): void {
    if (this.#avoidUntil === 0 || now >= this.#avoidUntil) this.#avoidSince = now;
    this.#avoidUntil = now + HEDGE_AVOID_MS;
  }

  /** How long the node has been avoided for a slow read without answering anything (ms). */
  silentFor(now: number): number {
    return this.#avoidUntil > now ? now - this.#avoidSince : 0;
  }

  /** Calls `fn` with each in-flight slot of each multiplexed connection, oldest first per connection. */
  scanInflight(fn: (slot: Slot) => boolean): void {
    if (this.pending === 0) return;
    for (const mux of this.#pools.values()) {
      for (const c of mux) if (c !== null && !c.closed && c.inflight > 0) c.scanInflight(fn);
    }
  }

  /** Reports a passive error to the health checker. */
  reportError(kind: PassiveErrorKind): void {
    // A connection that broke with commands in flight means the node died or
    // restarted: avoid it like after a failed connect, so the retries of its
    // reads do not bounce between dead replicas (before the health checker
    // notices) until they run out, while the primary could serve them.
    if (kind === "closed") this.#retryAt = this.#rt.now() + CONNECT_BACKOFF_MS;
    this.#rt.nodeError(this.id, kind);
  }

  /**
   * An injected fault hit a command of this node: counted, and logged (at
   * most once per FAULT_LOG_INTERVAL_MS per node) so a rehearsal is never
   * taken for an outage.
   */
  faultInjected(rule: FaultRule): void {
    this.faultCounts[rule.kind]++;
    const now = this.#rt.now();
    if (now - this.#faultLogAt < FAULT_LOG_INTERVAL_MS) return;
    this.#faultLogAt = now;
    const c = rule.config;
    this.#rt.logger.warn("fault injected (config faults: a rehearsal, not an outage)", {
      node: this.id,
      kind: c.kind,
      percent: c.percent,
      role: c.role ?? "any",
      commands: c.commands?.join(",") ?? "any",
      injected: this.faultCounts[rule.kind],
    });
  }

  /** A snapshot for the admin port. */
  stats(): NodeStats {
    let resp2 = 0, resp3 = 0;
    for (const mux of this.#pools.values()) {
      for (const c of mux) {
        if (c === null || c.closed) continue;
        if (c.setup.proto === 3) resp3++;
        else resp2++;
      }
    }
    let idle = 0;
    for (const list of this.#idlePinned.values()) idle += list.length;
    let oldest = Infinity;
    for (const mux of this.#pools.values()) {
      for (const c of mux) {
        const t = c === null || c.closed ? -1 : c.oldestSentAt();
        if (t >= 0 && t < oldest) oldest = t;
      }
    }
    return {
      id: this.id,
      inflight: this.pending,
      connections: { resp2, resp3 },
      pinnedConnections: this.#pinned.size + idle,
      oldestMs: oldest === Infinity ? 0 : Math.max(0, this.#rt.now() - oldest),
      faults: this.faultCounts,
    };
  }

  /** True when nothing is in flight and no pinned session is open. */
  get idle(): boolean {
    return this.pending === 0 && this.#pinned.size === 0;
  }

  /**
   * Fails connections whose oldest command waited too long: a read past
   * `serverMs` (it is retried elsewhere), anything else, pinned commands
   * included, past `writerMs` (0: never; a busy or paused node is waited
   * for, as directly).
   */
  checkTimeouts(now: number, serverMs: number, writerMs = 0): void {
    for (const c of this.#leaving) {
      if (c.closed || c.inflight === 0) {
        this.#leaving.delete(c);
        c.close(null);
      } else {
        this.#timeOut(c, now, serverMs, writerMs);
      }
    }
    for (const mux of this.#pools.values()) {
      for (const c of mux) if (c !== null && !c.closed) this.#timeOut(c, now, serverMs, writerMs);
    }
    for (const c of this.#pinned) this.#timeOut(c, now, writerMs, writerMs);
  }

  #timeOut(c: NodeConnection, now: number, serverMs: number, writerMs: number): void {
    if (serverMs > 0) c.expireHeld(now, serverMs);
    const oldest = c.oldest();
    const limit = oldest === undefined || boundAsRead(oldest) ? serverMs : writerMs;
    if (limit <= 0) return;
    const t = c.oldestSentAt();
    if (t >= 0 && now - t > limit) {
      this.reportError("timeout");
      c.close("timeout");
    }
  }

  /** Closes pinned sessions (their node lost its role or left the config). */
  closePinned(reason: FailReason): void {
    for (const c of [...this.#pinned]) c.close(reason);
  }

  /** Closes every connection now; in-flight commands fail over with `reason`. */
  close(reason: FailReason | null): void {
    for (const mux of this.#pools.values()) {
      for (const c of mux) c?.close(reason);
      mux.fill(null);
    }
    for (const c of this.#leaving) c.close(reason);
    this.#leaving.clear();
    this.closeIdlePinned(Infinity, 0);
    this.closePinned(reason ?? "removed");
  }

  /**
   * Re-resolves the node's host name. Connections to an address the name no
   * longer resolves to take no new commands and close once idle; new ones
   * dial the name afresh, so they reach the new address.
   */
  async refreshDns(resolve: Resolver): Promise<void> {
    const host = this.config.address.host;
    if (this.#resolving || isIpLiteral(host)) return;
    this.#resolving = true;
    try {
      const addrs = new Set(await resolve(host));
      for (const mux of this.#pools.values()) {
        for (let i = 0; i < mux.length; i++) {
          const c = mux[i];
          if (c === null || c.closed || c.remoteIp === null || addrs.has(c.remoteIp)) continue;
          this.#rt.logger.info("node address changed; draining old connection", {
            node: this.id,
            old: c.remoteIp,
            new: [...addrs].join(","),
          });
          mux[i] = null;
          this.#closeWhenIdle(c);
        }
      }
    } catch (err) {
      this.#rt.logger.warn("node name did not resolve", { node: this.id, error: String(err) });
    } finally {
      this.#resolving = false;
    }
  }

  /**
   * Takes connection `c` out of service: it gets no new commands and closes
   * once its last reply is in (the shard's ticker looks, see checkTimeouts).
   */
  #closeWhenIdle(c: NodeConnection): void {
    if (c.inflight === 0) c.close(null);
    else this.#leaving.add(c);
  }
}

/** The pool of a protocol and database (0 for RESP2 on database 0), and a client's own user. */
function poolKey(proto: 2 | 3, db: number, user: Credential | null): number | string {
  const n = db * 2 + (proto - 2);
  return user === null ? n : `${user.key}/${n}`;
}

/** The idle pool of dedicated connections set up as `setup`. */
function setupKey(setup: ConnectionSetup): string {
  return `${setup.proto}/${setup.db}/${setup.user?.key ?? ""}/${setup.name ?? ""}`;
}

/**
 * A pinned session's handle on its dedicated connection: everything goes
 * to the connection, and `release()` gives it back to its node's idle pool.
 */
class PinnedConnection implements PinnedLink {
  #c: NodeConnection;
  #node: Backend;

  constructor(c: NodeConnection, node: Backend) {
    this.#c = c;
    this.#node = node;
  }
  get writePending(): number {
    return this.#c.writePending;
  }
  sendRaw(src: Uint8Array, start: number, end: number): void {
    this.#c.sendRaw(src, start, end);
  }
  toRaw(): void {
    this.#c.toRaw();
  }
  pauseReading(): void {
    this.#c.pauseReading();
  }
  resumeReading(): void {
    this.#c.resumeReading();
  }
  whenDrained(fn: () => void): void {
    this.#c.whenDrained(fn);
  }
  close(reason: null): void {
    this.#c.close(reason);
  }
  reauth(): boolean {
    const auth = this.#node.auth;
    if (auth === null) return false;
    this.#c.sendRaw(auth, 0, auth.length);
    return true;
  }
  release(setup: ConnectionSetup): void {
    this.#node.releasePinned(this.#c, setup);
  }
}
