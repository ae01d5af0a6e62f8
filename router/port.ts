/**
 * A router port: one listen address for several shards. Each session's
 * commands are routed by key to their shard's readers or writer route, so
 * balancing, health, retries and hedging are the shard's own; multi-key
 * commands split per shard and merge in key order; a transaction stays on
 * one shard.
 *
 * ```
 *  client ─▶ SessionCore ──decide()──▶ RouterRouting ─ CommandRouter (keys → shard index)
 *                │                         └─ TransactionBinding (MULTI … EXEC on one shard)
 *                └─ slot.rt = that shard's ShardRoutes ─▶ its readers (balancer) or writer (primary)
 * ```
 *
 * @module
 */

import type { RouterConfig, ShardSettings } from "../config/types.ts";
import {
  type ClientView,
  ErrorText,
  type FanPart,
  type KeyRouting,
  KeyVerdict,
  type ListenerRole,
  PortContext,
  PortListener,
  type ServerIdentity,
  type Shard,
  ShardCounters,
  type ShardRoutes,
} from "../proxy/mod.ts";
import { encodeCommand, encodeError, type RequestParser, Route } from "../resp/mod.ts";
import type { Logger } from "../telemetry/logger.ts";
import type { CommandTracer } from "../telemetry/mod.ts";
import { RouterErrorText } from "./_errors.ts";
import { createDistribution, type KeyDistribution, ringMoves } from "./distribution.ts";
import { CommandRouter, RouterAction } from "./route.ts";
import { mergeBroadcast, mergeReplies } from "./split.ts";
import { BindingVerdict, TransactionBinding } from "./transaction.ts";

const OK = new TextEncoder().encode("+OK\r\n");
const QUEUED = new TextEncoder().encode("+QUEUED\r\n");
/** Loads that go to every node of each shard (the others go to each shard's primary). */
const ALL_NODES = new Set(["script|load", "script|flush"]);

/** What a router port needs to know of the program's shards. */
export type ShardLookup = (name: string) => Shard | undefined;

/** One router port. */
export class RouterPort {
  /** Router name. */
  readonly name: string;
  /** Counters of the router's own sessions (commands count on their shards). */
  readonly counters: ShardCounters = new ShardCounters();
  #config: RouterConfig;
  #lookup: ShardLookup;
  #logger: Logger;
  #listener: PortListener | null = null;
  #distribution: KeyDistribution;
  #router!: CommandRouter;
  #shards: Shard[] = [];
  #runtime: RouterRuntime;

  /** A router port over the shards `lookup` finds (nothing is bound until {@link start}). */
  constructor(config: RouterConfig, lookup: ShardLookup, logger: Logger) {
    this.name = config.name;
    this.#config = config;
    this.#lookup = lookup;
    this.#logger = logger.child({ router: config.name });
    this.#distribution = createDistribution(config);
    this.#runtime = new RouterRuntime(this);
    this.#resolve();
  }

  /** The current config. */
  get config(): RouterConfig {
    return this.#config;
  }

  /** The shards by ring index. */
  get shards(): readonly Shard[] {
    return this.#shards;
  }

  /** The command router sessions use now (replaced by a reload). */
  get router(): CommandRouter {
    return this.#router;
  }

  /** Binds the listen address; throws when it cannot. */
  start(): void {
    const l = new PortListener(
      "readers",
      this.#config.listen,
      this.#runtime,
      () => new RouterRouting(this),
    );
    l.listen();
    this.#listener = l;
  }

  /** The bound address. */
  bound(): { host: string; port: number } | null {
    return this.#listener?.bound ?? null;
  }

  /**
   * First half of a reload: binds a moved listen address (throws when it
   * cannot; nothing changed). The commit swaps the ring for new commands and
   * logs how many of 10,000 sample keys moved; the old address drains.
   */
  prepareUpdate(next: RouterConfig): { commit: () => void; abort: () => void } {
    let moved: PortListener | null = null;
    if (this.#config.listen.text !== next.listen.text) {
      moved = new PortListener(
        "readers",
        next.listen,
        this.#runtime,
        () => new RouterRouting(this),
      );
      moved.listen();
    }
    return {
      commit: () => {
        const distribution = createDistribution(next);
        const keysMoved = ringMoves(this.#distribution, distribution);
        this.#config = next;
        this.#distribution = distribution;
        this.#resolve();
        if (keysMoved > 0) {
          this.#logger.info("router ring changed", { keys_moved_of_10000: keysMoved });
        }
        if (moved !== null) {
          void this.#listener?.drain(this.#settings().timeouts.drainMs);
          this.#listener = moved;
        }
      },
      abort: () => void moved?.stopAccepting(),
    };
  }

  /** Shard objects (after a reload) and the command router of the current config. */
  #resolve(): void {
    this.#shards = this.#config.shards.map((s) => {
      const shard = this.#lookup(s.shard);
      if (shard === undefined) throw new Error(`router ${this.name}: no shard ${s.shard}`);
      return shard;
    });
    this.#router = new CommandRouter(
      this.#distribution,
      this.#shards.map((sh) => {
        const b = sh.bound();
        const addr = (role: ListenerRole) => {
          const x = b.find((l) => l.role === role);
          return x === undefined ? null : `${x.host}:${x.port}`;
        };
        return { name: sh.name, readers: addr("readers") ?? "", writer: addr("writer") };
      }),
    );
  }

  /** The settings router sessions follow (client password, limits): the first shard's. */
  #settings(): ShardSettings {
    return this.#shards[0].settings;
  }

  /**
   * Pinned sessions follow health: one pinned to a shard's primary that is
   * no longer its primary leaves it (after its owed reply).
   */
  followHealth(): void {
    for (const s of this.#listener?.sessions ?? []) {
      const shard = s.core.pinnedShard;
      if (shard === null) continue;
      if (shard.writer()?.id !== s.pinnedNode) s.leaveNode();
    }
  }

  /** Open client sessions and how many are pinned. */
  sessions(): { resp2: number; resp3: number; pinned: number } {
    let resp2 = 0, resp3 = 0, pinned = 0;
    for (const s of this.#listener?.sessions ?? []) {
      if (s.proto === 3) resp3++;
      else resp2++;
      if (s.pinned) pinned++;
    }
    return { resp2, resp3, pinned };
  }

  /**
   * Stops accepting, drains clients (bounded by `drainMs`); with
   * `atBoundary` (an upgrade) a pinned client is closed only once its pin ends.
   */
  async close(
    drainMs: number = this.#settings().timeouts.drainMs,
    atBoundary = false,
  ): Promise<void> {
    const l = this.#listener;
    await (atBoundary ? l?.drainAtBoundary(drainMs) : l?.drain(drainMs));
    this.#listener = null;
  }

  /** The router's own runtime (tests). */
  get runtime(): PortContext {
    return this.#runtime;
  }

  /** @internal the settings for {@link RouterRuntime}. */
  settingsForSessions(): ShardSettings {
    return this.#settings();
  }
}

/**
 * The port a router session belongs to: its settings, counters, clock and
 * what HELLO and CLIENT show; commands go to their shards' routes.
 */
class RouterRuntime implements PortContext {
  readonly #port: RouterPort;

  constructor(port: RouterPort) {
    this.#port = port;
  }
  get name(): string {
    return this.#port.name;
  }
  get settings(): ShardSettings {
    return this.#port.settingsForSessions();
  }
  get counters(): ShardCounters {
    return this.#port.counters;
  }
  /** Commands count on the shards they go to. */
  readonly commandStats = null;
  get tracer(): CommandTracer | null {
    return this.#port.shards[0].tracer;
  }
  now(): number {
    return performance.now();
  }
  server(): ServerIdentity {
    return this.#port.shards[0].server();
  }
  hasReplicas(): boolean {
    return this.#port.shards.some((s) => s.hasReplicas());
  }
  clientSessions(): Iterable<ClientView> {
    return [];
  }
}

/** Whether a command of `route` goes to a shard's writer under `reads`. */
function toWriter(route: Route, reads: "readers" | "writer"): boolean {
  if (reads === "writer") return true;
  return route !== Route.READ && route !== Route.SCAN && route !== Route.SCRIPT_READ;
}

/** One session's routing by key, with its transaction's binding to one shard. */
class RouterRouting implements KeyRouting {
  shard: ShardRoutes | null = null;
  toWriter = false;
  transaction = false;
  reply: Uint8Array | null = null;
  parts: FanPart[] = [];
  discardOnShard = false;
  #port: RouterPort;
  #binding: TransactionBinding;
  /** Reused part objects of split commands, and the list handed to the core. */
  #splitParts: { shard: ShardRoutes; node: null; toWriter: boolean; frame: Uint8Array }[] = [];
  #splitList: FanPart[] = [];
  merge: (replies: readonly Uint8Array[]) => Uint8Array = () => OK;

  constructor(port: RouterPort) {
    this.#port = port;
    this.#binding = new TransactionBinding(port.shards.map((s) => s.name));
  }

  /** Connection state (a client's own AUTH, SELECT) goes to the first shard's primary. */
  readonly stateToWriter = true;
  /** CLIENT LIST / INFO / KILL are the router's to decide. */
  readonly introspects = false;

  get firstShard(): ShardRoutes {
    return this.#port.shards[0];
  }

  decide(parser: RequestParser, buf: Uint8Array, route: Route): KeyVerdict {
    const port = this.#port;
    const router = port.router;
    const shards = port.shards;
    const reads = port.config.reads;
    this.transaction = false;
    this.discardOnShard = false;
    const action = router.route(parser, buf);
    const verdict = this.#binding.next(action, router);
    switch (verdict) {
      case BindingVerdict.SEND:
        this.shard = shards[this.#binding.shard];
        this.toWriter = true;
        this.transaction = true;
        return KeyVerdict.SEND;
      case BindingVerdict.HOLD:
        this.reply = router.command === "multi" ? OK : QUEUED;
        return KeyVerdict.HOLD;
      case BindingVerdict.REFUSE:
        this.reply = encodeError(this.#binding.error ?? "");
        return KeyVerdict.LOCAL;
      case BindingVerdict.ABORT:
        this.reply = encodeError(RouterErrorText.execAbort);
        this.discardOnShard = this.#binding.multiSent;
        return KeyVerdict.ABORT;
      case BindingVerdict.DISCARDED:
        this.reply = OK;
        return KeyVerdict.DROP_HELD;
    }
    switch (action) {
      case RouterAction.LOCAL:
        this.reply = router.reply;
        return KeyVerdict.LOCAL;
      case RouterAction.REFUSE:
        this.reply = encodeError(router.error ?? "");
        return KeyVerdict.LOCAL;
      case RouterAction.SHARD:
      case RouterAction.ANY:
        this.shard = shards[action === RouterAction.SHARD ? router.shard : 0];
        this.toWriter = toWriter(route, reads);
        return KeyVerdict.SEND;
      case RouterAction.SPLIT: {
        const plan = router.plan!;
        const write = toWriter(route, reads);
        // The core reads the parts at once: one set of part objects serves every split.
        const pool = this.#splitParts;
        const parts = this.#splitList;
        parts.length = plan.parts.length;
        for (let i = 0; i < parts.length; i++) {
          const p = plan.parts[i];
          const part = pool[i] ??= {
            shard: shards[p.shard],
            node: null,
            toWriter: write,
            frame: p.frame,
          };
          part.shard = shards[p.shard];
          part.toWriter = write;
          part.frame = p.frame;
          parts[i] = part;
        }
        this.parts = parts;
        const names = router.shards; // the plan's shard indexes are the router's
        this.merge = (replies) => mergeReplies(plan, replies, names);
        return KeyVerdict.FANOUT;
      }
      default: { // ALL: script and function loads reach every shard
        const command = router.command ?? "";
        const frame = parser.inline
          ? encodeCommand(parser.inlineArgs(buf, parser.start, parser.end))
          : buf.slice(parser.start, parser.end);
        const parts: FanPart[] = [];
        for (const sh of shards) {
          if (ALL_NODES.has(command)) {
            for (const n of sh.broadcastNodes()) {
              parts.push({ shard: sh, node: n, toWriter: true, frame });
            }
          } else parts.push({ shard: sh, node: null, toWriter: true, frame });
        }
        this.parts = parts;
        this.merge = (replies) => mergeBroadcast(command, replies);
        if (parts.length === 0) {
          this.reply = encodeError(ErrorText.noReaders(port.name));
          return KeyVerdict.LOCAL;
        }
        return KeyVerdict.FANOUT;
      }
    }
  }
}
