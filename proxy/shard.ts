/**
 * A shard: its listeners, its backends and its routing table.
 *
 * The routing table (which nodes serve reads, which node is the primary) is
 * owned by whoever calls {@link Shard.setRoutes}: the health checker in
 * production. Until it speaks, readers use every node and the writer the
 * first one.
 *
 * @module
 */

import { PINNED_IDLE_MS, TIMEOUT_TICK_MS, USER_POOL_IDLE_MS } from "../config/defaults.ts";
import type {
  Address,
  FaultConfig,
  PassiveErrorKind,
  Routes,
  ShardConfig,
  ShardSettings,
} from "../config/types.ts";
import { type Resolver, systemResolver } from "../net/mod.ts";
import { COMMAND_TABLE_VERSION } from "../resp/mod.ts";
import type { Logger } from "../telemetry/logger.ts";
import type { CommandStats, CommandTracer } from "../telemetry/mod.ts";
import type { ServerIdentity } from "./_local.ts";
import {
  type CursorNode,
  type ListenerRole,
  type ShardRoutes,
  type WriterWaiter,
} from "./_runtime.ts";
import { HedgePolicy } from "./_hedge.ts";
import { type ClientView, rewriteClientList } from "./_clients.ts";
import { turn } from "./_io.ts";
import { SCAN_TAGS } from "./_scan.ts";
import { Backend, type BackendShard } from "./backend.ts";
import { faultsForNode } from "./faults.ts";
import type { Balancer } from "./balancer.ts";
import { ShardZones, ZonedBalancer } from "./zones.ts";
import { ErrorText } from "./errors.ts";
import type { ClientSession } from "./client_session.ts";
import type { PortListener } from "./listener.ts";
import { bindAll, type ReleasedSockets, sameAddress } from "./_bind.ts";
import { ReadGate } from "./consistency.ts";
import { ShardCounters } from "./metrics.ts";
import { type CacheEvents, type NearCache, updateCache } from "../cache/mod.ts";
import type { ShardStats } from "./stats.ts";

/** What a shard needs from the rest of the program. */
export interface ShardOptions {
  /** Logger (a child with the shard name is made). */
  readonly logger: Logger;
  /** Receives passive errors seen on traffic (the health checker). */
  readonly onNodeError?: (nodeId: string, kind: PassiveErrorKind) => void;
  /** Resolves node host names (tests inject one); default the system resolver. */
  readonly resolver?: Resolver;
  /** What HELLO reports about the servers (the health checker's INFO); default {@link DEFAULT_SERVER}. */
  readonly server?: () => ServerIdentity | null;
  /** Per-command counters and latencies of this shard (metrics). */
  readonly commandStats?: CommandStats;
  /** Sampled command spans. */
  readonly tracer?: CommandTracer;
}

/** What HELLO reports before any node was checked: the command table's Redis. */
export const DEFAULT_SERVER: ServerIdentity = {
  server: "redis",
  version: COMMAND_TABLE_VERSION,
  mode: "standalone",
};

/** Routes every node serves before the health checker reports (reads: all; writes: first). */
export function staticRoutes(config: ShardConfig): Routes {
  return {
    readers: config.nodes.map((n) => n.id),
    primary: config.nodes[0]?.id ?? null,
    primaryProblem: null,
  };
}

/** One shard of the proxy. */
export class Shard implements ShardRoutes, BackendShard {
  /** Shard name. */
  readonly name: string;
  /** Counters for /metrics. */
  readonly counters: ShardCounters = new ShardCounters();
  /** Nodes' zones and reads by locality (zone affinity, see `zones.ts`). */
  readonly zones: ShardZones = new ShardZones();
  /** Shard logger. */
  readonly logger: Logger;
  /** Per-command counters and latencies (metrics), or null. */
  readonly commandStats: CommandStats | null;
  /** Sampled command spans, or null. */
  readonly tracer: CommandTracer | null;
  /** Read-your-writes gate (`consistency:`). */
  readonly gate: ReadGate;
  #config: ShardConfig;
  #opts: ShardOptions;
  #backends = new Map<string, Backend>();
  #readers: Backend[] = [];
  #primary: Backend | null = null;
  /**
   * While no primary is known because several answering nodes claim it (a
   * failover under way), the first of them: reads fall back to it for up
   * to `timeouts.failover` from {@link #claimedSince}.
   */
  #claimant: Backend | null = null;
  #claimedSince = 0;
  #routes: Routes;
  #balancer: Balancer<Backend>;
  #listeners: PortListener[] = [];
  #ticker: ReturnType<typeof setInterval> | null = null;
  /** Removed by a reload, closing once idle (a re-added node may replace one in #backends). */
  #retired = new Set<Backend>();
  #nextDnsAt = 0;
  #nextIdleAt = 0;
  /** SCAN cursor tags by node id, and back (see `_scan.ts`). */
  #tags = new Map<string, number>();
  #tagged = new Map<number, string>();
  #lastTag = 0;
  /** Sessions whose pinned node left while a reply was owed (closed if it is late). */
  #leaving = new Set<ClientSession>();
  #hedge: HedgePolicy;
  #hedgeTimer: ReturnType<typeof setTimeout> | null = null;
  #hedgeScanFn = (): void => this.#hedgeScan();
  #exclude = "";
  #skip = (b: Backend): boolean => !b.available || b.id === this.#exclude;
  #skipUnreachable = (b: Backend): boolean => !b.reachable || b.id === this.#exclude;
  /** The config's fault injection rules (every shard's; each node keeps those that hit it). */
  #faults: readonly FaultConfig[] = [];
  /** The near cache (`cache:` on), or null. */
  cache: NearCache | null = null;

  /** Creates a shard (nothing is bound until {@link start}). */
  constructor(config: ShardConfig, opts: ShardOptions) {
    this.name = config.name;
    this.#config = config;
    this.#opts = opts;
    this.logger = opts.logger.child({ shard: config.name });
    this.commandStats = opts.commandStats ?? null;
    this.tracer = opts.tracer ?? null;
    this.#balancer = new ZonedBalancer<Backend>(config.balance);
    this.#hedge = new HedgePolicy(config.hedge);
    this.gate = new ReadGate(this);
    for (const n of config.nodes) this.#backends.set(n.id, new Backend(n, this));
    this.cache = updateCache(null, config.cache, this.#cacheEvents());
    this.#routes = staticRoutes(config);
    this.#applyRoutes();
  }

  /** The current config of this shard. */
  get config(): ShardConfig {
    return this.#config;
  }

  /** Current settings (read per command, so a reload applies at once). */
  get settings(): ShardSettings {
    return this.#config;
  }

  /** Current routes. */
  get routes(): Routes {
    return this.#routes;
  }

  /**
   * Binds the readers and writer addresses (taking over sockets a reload
   * releases, see {@link ReleasedSockets}) and starts the timeout ticker.
   */
  start(released?: ReleasedSockets): void {
    const c = this.#config;
    this.#listeners = bindAll(
      [["readers", c.readers], ["writer", c.writer], ["split", c.split]],
      this,
      released,
    );
    this.#ticker = setInterval(() => this.#tick(), TIMEOUT_TICK_MS);
  }

  /** Undoes {@link start} of a reload that is not applied: taken-over sockets go back. */
  abandonListeners(): void {
    for (const l of this.#listeners) void l.abandon();
    this.#listeners = [];
  }

  /** The bound listener of `role`, if any (reload hand-overs). */
  listener(role: ListenerRole): PortListener | undefined {
    return this.#listeners.find((l) => l.role === role);
  }

  /**
   * First half of a reload: binds the listen addresses that `next` moves or
   * adds, so a port that cannot be bound rejects the reload before anything
   * changed. Returns the commit step, which applies `next` in place.
   */
  prepareUpdate(
    next: ShardConfig,
    released?: ReleasedSockets,
  ): { commit: () => void; abort: () => void } {
    const prev = this.#config;
    const moves: [ListenerRole, Address | null][] = [];
    if (!sameAddress(prev.readers, next.readers)) moves.push(["readers", next.readers]);
    if (!sameAddress(prev.writer, next.writer)) moves.push(["writer", next.writer]);
    if (!sameAddress(prev.split, next.split)) moves.push(["split", next.split]);
    const opened = bindAll(moves, this, released);
    return {
      commit: () => this.#commit(next, moves.map(([role]) => role), opened),
      abort: () => opened.forEach((l) => void l.abandon()),
    };
  }

  #commit(next: ShardConfig, moved: ListenerRole[], opened: PortListener[]): void {
    const prev = this.#config;
    this.#config = next;
    this.gate.reconfigured();
    if (prev.balance !== next.balance) this.#balancer = new ZonedBalancer<Backend>(next.balance);
    // Listeners: the new ones serve at once; the old ones drain.
    const drainMs = next.timeouts.drainMs;
    this.#listeners = this.#listeners.filter((l) => {
      if (!moved.includes(l.role)) return true;
      void l.drain(drainMs);
      return false;
    });
    this.#listeners.push(...opened);
    // Nodes: removed ones retire (no new commands, close when idle).
    const ids = new Set(next.nodes.map((n) => n.id));
    for (const b of [...this.#backends.values()]) {
      if (ids.has(b.id) || b.retired) continue;
      b.retired = true;
      this.#retired.add(b);
      if (b.idle) this.backendIdle(b);
    }
    for (const n of next.nodes) {
      const b = this.#backends.get(n.id);
      if (b === undefined || b.retired) {
        const added = new Backend(n, this);
        added.faults = faultsForNode(this.#faults, this.name, n.id);
        this.#backends.set(n.id, added);
      } else {
        b.config = n;
        b.resize();
      }
    }
    this.cache = updateCache(this.cache, next.cache, this.#cacheEvents());
    this.#applyRoutes();
  }

  /** The log lines of the cache's tracking connection. */
  #cacheEvents(): CacheEvents {
    const log = this.logger;
    return {
      tracking: (node) => log.info("cache tracks node", { node }),
      trackingEnded: (node, reason, dropped, streak) => {
        // A node that cannot be reached is retried (and logged by the checks): debug only. So is
        // every end after the first in a row (a node that refuses tracking), retried with backoff.
        const fields = { node, reason, dropped, streak };
        if (reason === "connect failed" || streak > 1) log.debug("cache tracking ended", fields);
        else log.info("cache tracking ended", fields);
      },
    };
  }

  /**
   * Opens one multiplexed connection per protocol (RESP2, RESP3) to every
   * node now rather than on first use: a process started by an upgrade
   * does this before it takes over, so the clients that move to it all at
   * once do not all wait for connects.
   */
  warm(): void {
    for (const b of this.#backends.values()) {
      b.connection(2, 0);
      b.connection(3, 0);
    }
  }

  /**
   * Applies the config's fault injection rules (start and every reload):
   * each node keeps the rules that can hit it, or none (null).
   */
  setFaults(faults: readonly FaultConfig[]): void {
    this.#faults = faults;
    for (const b of this.#backends.values()) {
      b.faults = faultsForNode(faults, this.name, b.id);
      for (const r of b.faults ?? []) {
        if (r.unknownCommands.length === 0) continue;
        this.logger.warn("fault rule names commands the command table lacks; they never match", {
          node: b.id,
          commands: r.unknownCommands.join(","),
        });
      }
    }
  }

  /** Fault injection rules that can hit some node of this shard now. */
  faultRules(): number {
    let n = 0;
    for (const f of this.#faults) {
      if (f.shard !== null && f.shard !== this.name) continue;
      if (f.node !== null && !this.#backends.has(f.node)) continue;
      if (f.percent > 0) n++;
    }
    return n;
  }

  /** Bound addresses by role (real ports). */
  bound(): { role: ListenerRole; host: string; port: number }[] {
    return this.#listeners.map((l) => ({ role: l.role, ...l.bound }));
  }

  /** A snapshot of sessions and node connections (admin port, metrics). */
  stats(): ShardStats {
    let resp2 = 0, resp3 = 0, pinned = 0;
    for (const l of this.#listeners) {
      for (const s of l.sessions) {
        if (s.proto === 3) resp3++;
        else resp2++;
        if (s.pinned) pinned++;
      }
    }
    const nodes = [...this.#backends.values(), ...this.#retired].map((b) => b.stats());
    return { clients: { resp2, resp3 }, pinned, nodes };
  }

  /** Replaces the routing table (health checker). */
  setRoutes(routes: Routes): void {
    this.#routes = routes;
    this.#applyRoutes();
  }

  #applyRoutes(): void {
    const r = this.#routes;
    this.#readers = [];
    for (const id of r.readers) {
      const b = this.#backends.get(id);
      if (b !== undefined && !b.retired) this.#readers.push(b);
    }
    this.zones.place(this.#backends.values(), this.#config.zone); // before the zoned split
    this.#balancer.reset(this.#readers);
    const p = r.primary === null ? undefined : this.#backends.get(r.primary);
    this.#primary = p !== undefined && !p.retired ? p : null;
    let claimant: Backend | null = null;
    for (const id of this.#primary === null ? r.claimants ?? [] : []) {
      const b = this.#backends.get(id);
      if (b !== undefined && !b.retired) {
        claimant = b;
        break;
      }
    }
    if (claimant !== null && this.#claimant === null) this.#claimedSince = this.now();
    this.#claimant = claimant;
    this.cache?.serving(
      this.#readers.length > 0 ? this.#readers : this.#primary ? [this.#primary] : [],
    );
    this.#followHealth();
    this.#wakeWriterWaiters();
  }

  /**
   * Pinned sessions follow health: a session pinned to a node that no longer
   * serves its port (a replica out of the readers, an old primary) leaves
   * it, at once if idle, else after its owed reply, so the client
   * reconnects to a node that serves.
   */
  #followHealth(): void {
    for (const l of this.#listeners) {
      for (const s of l.sessions) {
        const id = s.pinnedNode;
        if (id === null) continue;
        const serves = l.role === "readers" ? this.#servesReads(id) : this.#primary?.id === id;
        if (serves) continue;
        s.leaveNode();
        if (!s.closed) this.#leaving.add(s);
      }
    }
  }

  /**
   * True while the readers port has a node for reads now: a serving
   * replica, or the node they fall back to (a failover's claimant only
   * within `timeouts.failover`, as {@link #fallback} sends them).
   */
  get hasReadTarget(): boolean {
    return this.#readers.length > 0 || this.#fallback() !== null;
  }

  /** True when reads may go to node `id`: a serving replica, or the primary they fall back to. */
  #servesReads(id: string): boolean {
    if (this.#readers.some((b) => b.id === id)) return true;
    return this.#readers.length > 0 ? this.#primary?.id === id : this.#fallback()?.id === id;
  }

  /**
   * The node reads fall back to when no replica serves (`fallback:
   * primary`): the primary; while a failover leaves several nodes claiming
   * it, the first of them, for up to `timeouts.failover` (each has every
   * write acknowledged before the switch; writes wait for one primary).
   */
  #fallback(): Backend | null {
    if (this.#config.fallback !== "primary") return null;
    if (this.#primary !== null || this.#claimant === null) return this.#primary;
    return this.now() - this.#claimedSince <= this.#config.timeouts.failoverMs
      ? this.#claimant
      : null;
  }

  // ---- ShardRoutes, BackendShard ----

  /** Milliseconds on the data path's monotonic clock (`performance.now()`; only differences are used). */
  now(): number {
    return performance.now();
  }

  /** A node for a read, avoiding `excludeId`; falls back to the primary. */
  pickReader(excludeId: string): Backend | null {
    this.#exclude = excludeId;
    const b = this.#balancer.pick(this.#skip);
    if (b !== undefined) return b;
    // Replicas only avoided for a slow read (hedging) still beat the primary:
    // an avoided replica is back once it answers, so it must get reads to
    // answer. A stalled one's reads are hedged at once (see #hedgeScan).
    const slow = this.#balancer.pick(this.#skipUnreachable);
    if (slow !== undefined) return slow;
    const p = this.#fallback();
    if (p !== null && p.id !== excludeId && p.reachable) return p;
    // Everything is backing off: better to try a reader than to fail outright.
    if (excludeId === "") {
      const any = this.#balancer.pick();
      if (any !== undefined) return any;
      return p;
    }
    return null;
  }

  /**
   * A node with reads in flight that has answered nothing for longer than a
   * hedged read may take: stalled, not slow.
   */
  #stalled(b: Backend, now: number): boolean {
    return b.pending > 0 && b.silentFor(now) >= this.#hedge.slowAfterMs;
  }

  /** The node writes go to, or null. */
  writer(): Backend | null {
    return this.#primary;
  }

  /** Serving replicas and the primary, in config order (SCRIPT LOAD goes to each). */
  broadcastNodes(): Backend[] {
    const out: Backend[] = [];
    for (const b of this.#backends.values()) {
      if (b.retired) continue;
      if (b === this.#primary || this.#readers.includes(b)) out.push(b);
    }
    return out;
  }

  /** The tag SCAN cursors from `nodeId` carry (assigned on first use, 1..SCAN_TAGS-1). */
  scanTag(nodeId: string): number {
    let tag = this.#tags.get(nodeId);
    if (tag !== undefined) return tag;
    do {
      this.#lastTag = this.#lastTag % (SCAN_TAGS - 1) + 1;
    } while (this.#tagged.has(this.#lastTag) && this.#tagged.size < SCAN_TAGS - 1);
    tag = this.#lastTag;
    const old = this.#tagged.get(tag);
    if (old !== undefined) this.#tags.delete(old);
    this.#tags.set(nodeId, tag);
    this.#tagged.set(tag, nodeId);
    return tag;
  }

  /** The node a cursor tag names, and whether it may still continue a scan. */
  cursorNode(tag: number): CursorNode | null {
    const id = this.#tagged.get(tag);
    if (id === undefined) return null;
    const b = this.#backends.get(id);
    const serves = b !== undefined && !b.retired && this.#servesReads(id) && b.available;
    return { id, node: serves ? b : null };
  }

  /** What HELLO reports about the servers behind this shard. */
  server(): ServerIdentity {
    return this.#opts.server?.() ?? DEFAULT_SERVER;
  }

  /** The replicas that serve reads now (read-your-writes polls them). */
  servingReplicas(): readonly Backend[] {
    return this.#readers;
  }

  /** True when some replica serves reads now. */
  hasReplicas(): boolean {
    return this.#readers.length > 0;
  }

  /** A read's latency (ms), for the hedge delay. */
  recordLatency(ms: number): void {
    this.#hedge.record(ms);
  }

  /** The node's CLIENT LIST as this shard's clients see it (see `_clients.ts`). */
  clientList(nodeId: string, text: string): string {
    const own = this.#backends.get(nodeId)?.ownPorts() ?? new Set<number>();
    return rewriteClientList(text, own, this.clientSessions(), this.now());
  }

  /** The client sessions of this shard's ports. */
  *clientSessions(): Iterable<ClientView> {
    for (const l of this.#listeners) for (const s of l.sessions) yield s.core;
  }

  /** Sessions holding writes until checks name a primary (see {@link awaitWriter}). */
  #writerWaiters = new Set<WriterWaiter>();

  /** Calls `waiter` back at the next routes update with a primary, or when its hold expires. */
  awaitWriter(waiter: WriterWaiter): void {
    this.#writerWaiters.add(waiter);
  }

  /** A primary is known: every waiting session sends what it held (or waits again). */
  #wakeWriterWaiters(): void {
    if (this.#primary === null || this.#writerWaiters.size === 0) return;
    const waiters = [...this.#writerWaiters];
    this.#writerWaiters.clear();
    for (const w of waiters) w.writerChanged();
  }

  /** Holds past `timeouts.failover` end with an error for their writes. */
  #expireWriterWaiters(now: number): void {
    const limit = this.#config.timeouts.failoverMs;
    for (const w of this.#writerWaiters) {
      const since = w.heldSince;
      if (since < 0) this.#writerWaiters.delete(w);
      else if (now - since > limit) {
        this.#writerWaiters.delete(w);
        w.holdExpired();
      }
    }
  }

  /** Reads were sent: a hedge check runs after the hedge delay (one timer per shard). */
  armHedge(): void {
    if (this.#hedgeTimer === null && this.#config.hedge.enabled) {
      this.#hedgeTimer = setTimeout(this.#hedgeScanFn, this.#hedge.delayMs);
    }
  }

  /** Takes one hedge from the budget (past it for a read on a stalled node). */
  takeHedge(stalled = false): boolean {
    const h = this.#config.hedge;
    return h.enabled && this.#hedge.take(h, this.counters.readsSent, stalled);
  }

  /**
   * The hedge check: every read in flight longer than the hedge delay is
   * offered to its session for a hedge; a hedged read still unanswered
   * long after counts as a `slow` passive error against its node. Runs
   * again while reads are in flight.
   */
  #hedgeScan(): void {
    this.#hedgeTimer = null;
    const h = this.#config.hedge;
    if (!h.enabled) return;
    const now = turn.now = this.now(); // a timer's turn: replies completed here are timed now
    const policy = this.#hedge;
    policy.tick(now, h, this.counters.readsSent);
    const delay = policy.delayMs;
    const slowAfter = policy.slowAfterMs;
    let pending = false;
    for (const b of this.#backends.values()) {
      if (b.pending === 0) continue;
      pending = true;
      b.scanInflight((slot) => {
        const age = now - slot.sentAt;
        if (age < delay) return false;
        const pair = slot.hedged;
        if (pair === null) {
          // A node silent for longer than a hedged read may take is stalled, not slow:
          // its reads are hedged even when the budget is spent.
          if (slot.owner.hedge?.(slot, now, this.#stalled(b, now))) b.avoid(now);
        } else if (age > slowAfter && pair.reportSlow(slot)) {
          b.reportError("slow");
        }
        return true;
      });
    }
    if (pending) this.#hedgeTimer = setTimeout(this.#hedgeScanFn, Math.max(1, delay / 2));
  }

  /** The error for a client of `role` when no node can take its command. */
  noNodeError(role: ListenerRole): string {
    return role === "readers"
      ? ErrorText.noReaders(this.name)
      : ErrorText.noPrimary(this.name, this.#routes.primaryProblem);
  }

  /** Forwards a passive error to the health checker. */
  nodeError(nodeId: string, kind: PassiveErrorKind): void {
    // READONLY matters only from the node we route writes to (a replica
    // refusing a write sent to the readers port is no news).
    if (kind === "readonly" && this.#primary?.id !== nodeId) return;
    this.#opts.onNodeError?.(nodeId, kind);
  }

  /** A retired backend went idle: close and forget it. */
  backendIdle(backend: Backend): void {
    if (!backend.retired) return;
    backend.close(null);
    this.#retired.delete(backend);
    if (this.#backends.get(backend.id) === backend) this.#backends.delete(backend.id);
  }

  #tick(): void {
    const now = turn.now = this.now(); // timeouts completed here are timed now
    const dnsMs = this.#config.dnsRefreshMs;
    if (dnsMs > 0 && now >= this.#nextDnsAt) {
      this.#nextDnsAt = now + dnsMs;
      const resolve = this.#opts.resolver ?? systemResolver;
      for (const b of this.#backends.values()) void b.refreshDns(resolve);
    }
    const t = this.#config.timeouts;
    for (const b of this.#backends.values()) {
      if (b.retired) continue;
      b.checkTimeouts(now, t.serverMs, t.writerMs);
      b.closeIdlePinned(now, PINNED_IDLE_MS);
      b.closeIdleUserPools(now, USER_POOL_IDLE_MS);
    }
    if (this.#writerWaiters.size > 0) this.#expireWriterWaiters(now);
    // Retired backends close once their last in-flight reply is in (nothing
    // else notices when a reply, not a closing connection, makes them idle).
    for (const b of this.#retired) {
      b.checkTimeouts(now, t.serverMs, t.writerMs);
      if (b.idle) this.backendIdle(b);
    }
    // A pinned session whose node left closes after its owed reply, or now if that is late.
    for (const s of this.#leaving) {
      const since = s.core.leavingSince;
      if (s.closed) this.#leaving.delete(s);
      else if (since !== 0 && t.serverMs > 0 && now - since > t.serverMs) {
        this.#leaving.delete(s);
        s.close();
      }
    }
    // Idle clients are looked for about ten times per client_idle, not every tick.
    if (t.clientIdleMs > 0 && now >= this.#nextIdleAt) {
      this.#nextIdleAt = now + t.clientIdleMs / 10;
      for (const l of this.#listeners) {
        for (const s of l.sessions) {
          if (!s.pinned && s.inflight === 0 && now - s.lastActive > t.clientIdleMs) {
            this.counters.clientsIdleClosed++;
            s.close();
          }
        }
      }
    }
  }

  /**
   * Stops accepting, drains clients (bounded by drainMs), closes backends;
   * with `atBoundary` (an upgrade) a pinned client is closed only once its
   * pin ends (or at drainMs).
   */
  async close(drainMs: number = this.#config.timeouts.drainMs, atBoundary = false): Promise<void> {
    if (this.#ticker !== null) clearInterval(this.#ticker);
    this.#ticker = null;
    if (this.#hedgeTimer !== null) clearTimeout(this.#hedgeTimer);
    this.#hedgeScanFn = () => {}; // no new hedge checks while draining
    this.gate.close();
    await Promise.all(
      this.#listeners.map((l) => atBoundary ? l.drainAtBoundary(drainMs) : l.drain(drainMs)),
    );
    this.#listeners = [];
    for (const b of this.#backends.values()) b.close(null);
    for (const b of this.#retired) b.close(null);
    this.#retired.clear();
    this.cache?.close();
  }
}
