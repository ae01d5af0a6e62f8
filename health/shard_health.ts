/**
 * Health of one shard: one {@linkcode NodeChecker} per node feeding one
 * {@linkcode ShardState}, and the routes pushed to the proxy whenever they
 * change.
 *
 * @module
 */

import type { ShardConfig } from "../config/types.ts";
import type { Logger } from "../telemetry/logger.ts";
import { type ConnectFn, realConnect } from "./_conn.ts";
import { NodeChecker } from "./checker.ts";
import {
  type NodeSnapshot,
  type NodeStatus,
  type PassiveErrorKind,
  type RouteUpdate,
  sameRoutes,
  ShardState,
} from "./state.ts";

/** A change worth a trace span: a node's status, or the node the writer routes to. */
export type HealthEvent =
  | {
    readonly kind: "node";
    /** The node's snapshot after the change. */
    readonly node: NodeSnapshot;
    /** Its previous status. */
    readonly from: NodeStatus;
  }
  | {
    readonly kind: "writer";
    /** Previous and new primary (null: none). */
    readonly from: string | null;
    readonly to: string | null;
    /** Why there is no primary, when `to` is null. */
    readonly reason: string | null;
  };

/** Options of {@linkcode ShardHealth}. */
export interface ShardHealthOptions {
  /** Where transitions are logged. */
  logger: Logger;
  /** Called with the new routes each time they change (after start()'s first round). */
  onChange: (u: RouteUpdate) => void;
  /** Clock in epoch ms (tests). */
  now?: () => number;
  /** How check connections are opened (tests); default real TCP/TLS. */
  connect?: ConnectFn;
  /** Told of node status changes and writer switches after start()'s first round (tracing). */
  onEvent?: (e: HealthEvent) => void;
  /**
   * Told when a node's reported `availability_zone` (INFO server, Valkey
   * 8.1+) changes, first sight included; null when it stops reporting one.
   */
  onZone?: (nodeId: string, zone: string | null) => void;
}

/** Active and passive health of one shard's nodes, and the routes they imply. */
export class ShardHealth {
  #state: ShardState;
  #checkers = new Map<string, NodeChecker>();
  #log: Logger;
  #onChange: (u: RouteUpdate) => void;
  #onEvent: ((e: HealthEvent) => void) | null;
  #onZone: ((nodeId: string, zone: string | null) => void) | null;
  /** The zone each node reported last (absent: none). */
  #zones = new Map<string, string>();
  #statuses = new Map<string, NodeStatus>();
  /** Set after the first publish: events describe changes, not the initial state. */
  #eventsOn = false;
  #connect: ConnectFn;
  #published: RouteUpdate;
  #starting = false;
  #started = false;
  #stopped = false;
  #pending = new Set<Promise<void>>();

  /** Creates the shard's health; no check runs before {@linkcode ShardHealth.start}. */
  constructor(shard: ShardConfig, opts: ShardHealthOptions) {
    this.#log = opts.logger.child({ shard: shard.name });
    this.#onChange = opts.onChange;
    this.#onEvent = opts.onEvent ?? null;
    this.#onZone = opts.onZone ?? null;
    this.#connect = opts.connect ?? realConnect;
    this.#state = new ShardState(shard, { logger: this.#log, now: opts.now ?? Date.now });
    this.#published = this.#state.routes();
  }

  /**
   * Starts checking every node concurrently; resolves after the first round
   * (each check bounded by `check.timeout`), so the routes are real.
   */
  async start(): Promise<void> {
    if (this.#starting || this.#stopped) return;
    this.#starting = true;
    const first = this.#state.shard.nodes.map((cfg) => this.#startChecker(cfg.id).start());
    await Promise.all(first);
    this.#started = true;
    this.#publish();
  }

  /** Stops every timer and closes every check connection. */
  async stop(): Promise<void> {
    this.#stopped = true;
    const all = [...this.#checkers.values()].map((c) => c.stop());
    this.#checkers.clear();
    await Promise.all(all);
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /**
   * Hot reload: added nodes join after `rise` passing checks, removed nodes
   * leave the routes at once, weights and check/passive settings change in
   * place; changed AUTH or TLS settings re-open the check connections.
   */
  update(shard: ShardConfig): void {
    if (this.#stopped) return;
    const old = this.#state.shard;
    const connChanged = JSON.stringify([old.auth, old.tls]) !==
      JSON.stringify([shard.auth, shard.tls]);
    const { added, removed } = this.#state.update(shard);
    for (const id of removed) {
      const c = this.#checkers.get(id);
      this.#checkers.delete(id);
      if (c !== undefined) this.#track(c.stop());
    }
    if (connChanged) { for (const c of this.#checkers.values()) c.resetConnection(); }
    // Before start(), start() itself creates a checker for every node.
    if (this.#starting) {
      for (const cfg of added) {
        this.#track(this.#startChecker(cfg.id).start());
      }
    }
    this.#publish();
  }

  /** Counts one passive error seen on traffic to `nodeId` (may eject it at once). */
  reportError(nodeId: string, kind: PassiveErrorKind): void {
    if (this.#stopped) return;
    if (kind === "readonly") {
      // The writer's node refused a write as a replica: roles changed
      // (failover). Not the node's fault; learn the new roles at once.
      for (const c of this.#checkers.values()) c.checkSoon();
      return;
    }
    if (this.#state.reportError(nodeId, kind)) this.#publish();
  }

  /** One snapshot per node, in config order. */
  snapshot(): NodeSnapshot[] {
    return this.#state.snapshot();
  }

  /** What the servers say they are (HELLO's server, version, mode), or null before any answered. */
  serverIdentity(): { server: string; version: string; mode: string } | null {
    return this.#state.serverIdentity();
  }

  /** The current routes. */
  routes(): RouteUpdate {
    return this.#state.routes();
  }

  #startChecker(id: string): NodeChecker {
    const cfg = this.#state.shard.nodes.find((n) => n.id === id);
    if (cfg === undefined) throw new Error(`unknown node ${id}`);
    const checker = new NodeChecker({
      node: cfg,
      shard: () => this.#state.shard,
      connect: this.#connect,
      onResult: (r) => {
        if (this.#stopped || this.#checkers.get(id) !== checker) return;
        if (r.ok) this.#noticeZone(id, r.info.availabilityZone ?? null);
        this.#state.applyCheck(id, r);
        this.#publish();
      },
      onLost: (why) => {
        if (this.#stopped || this.#checkers.get(id) !== checker) return;
        this.#log.debug("check connection lost", { node: id, why });
        this.#state.connectionLost(id);
        this.#publish();
      },
    });
    this.#checkers.set(id, checker);
    return checker;
  }

  /** The zone a node reports: told to onZone when it differs from the last one. */
  #noticeZone(id: string, zone: string | null): void {
    if ((this.#zones.get(id) ?? null) === zone) return;
    if (zone === null) this.#zones.delete(id);
    else this.#zones.set(id, zone);
    this.#onZone?.(id, zone);
  }

  /** The zone each node reported last (nodes that report none are absent). */
  reportedZones(): ReadonlyMap<string, string> {
    return this.#zones;
  }

  /** Reports each node whose status differs from the last one seen (first sight: none). */
  #noticeStatuses(onEvent: (e: HealthEvent) => void): void {
    for (const node of this.#state.snapshot()) {
      const from = this.#statuses.get(node.id);
      this.#statuses.set(node.id, node.status);
      if (from !== undefined && from !== node.status) onEvent({ kind: "node", node, from });
    }
  }

  #track(p: Promise<void>): void {
    const q: Promise<void> = p.catch((e) => {
      this.#log.error("health checker failed", { error: String(e) });
    }).finally(() => this.#pending.delete(q));
    this.#pending.add(q);
  }

  #publish(): void {
    if (!this.#started || this.#stopped) return;
    if (this.#onEvent !== null) this.#noticeStatuses(this.#onEvent);
    const eventsOn = this.#eventsOn;
    this.#eventsOn = true;
    const next = this.#state.routes();
    if (sameRoutes(next, this.#published)) return;
    const prev = this.#published;
    this.#published = next;
    if (next.primary !== prev.primary) {
      if (next.primary !== null) {
        this.#log.info("writer routes to a new primary", { from: prev.primary, to: next.primary });
      } else {
        this.#log.warn("writer has no primary", { from: prev.primary, why: next.primaryProblem });
      }
      if (eventsOn) {
        this.#onEvent?.({
          kind: "writer",
          from: prev.primary,
          to: next.primary,
          reason: next.primaryProblem,
        });
      }
    }
    this.#log.debug("routes changed", {
      readers: next.readers.join(","),
      primary: next.primary,
      primaryProblem: next.primaryProblem,
    });
    this.#onChange({ ...next, readers: [...next.readers] });
  }
}
