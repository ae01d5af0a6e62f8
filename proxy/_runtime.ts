/**
 * The contract between client sessions and the shards and node connections
 * they use: a command in flight (a {@link Slot}), the views a session has of
 * a node and its connections, its port ({@link PortContext}) and a shard's
 * routes ({@link ShardRoutes}), and a router port's per-command routing. A
 * session depends on these interfaces only (its core is tested against
 * fakes without sockets); they refer to one another, so they live in one
 * file and no import loop runs through the proxy's files.
 *
 * ```
 *  SessionCore ── port: PortContext (settings, counters, clock, HELLO's view)
 *      │── routing: KeyRouting ─▶ a ShardRoutes per command (a shard port: always its own)
 *      └── Slot ─▶ ShardRoutes.pickReader()/writer() ─▶ NodeHandle ─▶ MuxLink.send(slot)
 * ```
 *
 * @module
 */

import type { ShardSettings } from "../config/types.ts";
import { type RequestParser, Route } from "../resp/mod.ts";
import type { CommandStats, CommandTracer } from "../telemetry/mod.ts";
import type { ServerIdentity } from "./_local.ts";
import type { Credential } from "./_credential.ts";
import type { ClientView } from "./_clients.ts";
import type { HedgedRead } from "./_hedged_read.ts";
import type { ShardCounters } from "./metrics.ts";
import type { CacheHit, NearCache } from "../cache/mod.ts";
import type { ReadGate } from "./consistency.ts";
import { splitReads } from "./split_routing.ts";

/**
 * Listener role: readers spread over replicas, writer follows the primary,
 * split sends reads to replicas and the rest to the primary.
 */
export type ListenerRole = "readers" | "writer" | "split";

/** A multiplexed node connection, as a session uses it. */
export interface MuxLink {
  /** True once closed. */
  readonly closed: boolean;
  /** Bytes not yet written to the node. */
  readonly writePending: number;
  /** Sends one command frame for `slot`. */
  send(slot: Slot, src: Uint8Array, start: number, end: number, now: number): void;
  /** Calls `fn` once every queued byte is written. */
  whenDrained(fn: () => void): void;
}

/** A pinned session's own node connection. */
export interface PinnedLink {
  /** Bytes not yet written to the node. */
  readonly writePending: number;
  /** Sends bytes as they are. */
  sendRaw(src: Uint8Array, start: number, end: number): void;
  /** Node bytes go to the sink unframed from now on (a replication stream). */
  toRaw(): void;
  /** Stops reading from the node (client back-pressure). */
  pauseReading(): void;
  /** Resumes reading from the node. */
  resumeReading(): void;
  /** Calls `fn` once every queued byte is written. */
  whenDrained(fn: () => void): void;
  /** Closes it (null: orderly). */
  close(reason: null): void;
  /** Sends the node connection's own AUTH again (after a RESET); false when it has none. */
  reauth(): boolean;
  /**
   * The session is done with it and nothing of the session's is on it any
   * more: kept for another session set up as `setup` (or closed).
   */
  release(setup: ConnectionSetup): void;
}

/**
 * One session's commands on one node connection that are still unanswered.
 * A session keeps sending to a node on the connection that carries its
 * unanswered commands there, and picks afresh only when it has none, so
 * Redis runs a session's commands to one node in the order it sent them.
 */
export interface LinkUse {
  /** The node. */
  node: NodeHandle;
  /** The protocol of the connection's pool. */
  proto: 2 | 3;
  /** The database of the connection's pool. */
  db: number;
  /** The client's own user of the connection's pool, or null for the shard's `auth`. */
  user: Credential | null;
  /** The connection the session's commands to this node and pool go to. */
  link: MuxLink;
  /** The session's commands sent on {@link link} and not answered (or failed) yet. */
  owed: number;
}

/** The protocol and database a connection is set up for (a session's own). */
export interface ConnectionSetup {
  /** RESP version the connection speaks: 2, or 3 after `HELLO 3`. */
  readonly proto: 2 | 3;
  /** Database selected at setup. */
  readonly db: number;
  /** Client name given to the node (pinned sessions only), or null. */
  readonly name: string | null;
  /**
   * A client's own credentials to set the connection up with instead of
   * the shard's `auth` (the node's refusal then reaches that client), or
   * absent/null for the shard's.
   */
  readonly user?: Credential | null;
}

/** Receives a pinned connection's frames (a client session). */
export interface PinSink {
  /** One complete frame from the node (a reply or a push): valid only during the call. */
  onFrame(buf: Uint8Array, start: number, end: number): void;
  /** Raw mode: bytes from the node, valid only during the call. */
  onData(buf: Uint8Array, start: number, end: number): void;
  /** The connection ended (node closed it, failed, or timed out). */
  onClosed(reason: FailReason | null, detail: string | null): void;
  /**
   * When the oldest command still owed a reply was sent, or -1 when none is
   * owed or it may take as long as it likes (a blocking command).
   */
  pendingSince(): number;
}

/** A node, as a session uses it. */
export interface NodeHandle {
  /** Node id (`host:port`). */
  readonly id: string;
  /**
   * The multiplexed connection for a session speaking `proto` on database
   * `db`, authenticated as the client's own `user` (null: the shard's `auth`).
   */
  connection(proto: 2 | 3, db: number, user?: Credential | null): MuxLink;
  /** Opens a dedicated connection set up as `setup`, delivering to `sink`. */
  openPinned(sink: PinSink, setup: ConnectionSetup): PinnedLink;
}

/** The node a SCAN cursor's tag names. */
export interface CursorNode {
  /** The node's id. */
  readonly id: string;
  /** The node, when it still serves reads (or is the primary); null when it does not. */
  readonly node: NodeHandle | null;
}

/** A session holding writes for the shard's next primary (see {@link ShardRoutes.awaitWriter}). */
export interface WriterWaiter {
  /** When its oldest held write was held (data-path ms), or -1 when none is. */
  readonly heldSince: number;
  /** The shard's routes changed and it has a primary: the waiter sends, or waits again. */
  writerChanged(): void;
  /** Held past the shard's `timeouts.failover`: the waiter fails what it held. */
  holdExpired(): void;
}

/**
 * What a port's sessions share, whatever shard each command goes to: its
 * settings, counters and telemetry, the clock, and what HELLO and CLIENT
 * show of the port. A shard is the context of its own ports; a router port
 * has one of its own.
 */
export interface PortContext {
  /** Shard (or router) name. */
  readonly name: string;
  /** Current settings (replaced in place on reload). */
  readonly settings: ShardSettings;
  /** Counters for /metrics. */
  readonly counters: ShardCounters;
  /** Per-command counters and latencies (metrics), or null. */
  readonly commandStats: CommandStats | null;
  /** Sampled command spans (OpenTelemetry), or null. */
  readonly tracer: CommandTracer | null;
  /** Milliseconds on the data path's monotonic clock (`performance.now()`). */
  now(): number;
  /** What HELLO reports about the servers behind the port. */
  server(): ServerIdentity;
  /** True when some replica serves reads now (HELLO's role on a readers port). */
  hasReplicas(): boolean;
  /** The client sessions of the port's shard(s) (CLIENT KILL). */
  clientSessions(): Iterable<ClientView>;
}

/** Where one shard's commands go: its readers, its writer, cursors, hedges. */
export interface ShardRoutes extends PortContext {
  /** The shard's near cache (`cache:` on), or null/absent. */
  readonly cache?: NearCache | null;
  /** The shard's read-your-writes gate (`consistency.ts`), or absent. */
  readonly gate?: ReadGate;
  /** The node for a read, avoiding `excludeId`; null when none can serve. */
  pickReader(excludeId: string): NodeHandle | null;
  /** The node writes go to, or null. */
  writer(): NodeHandle | null;
  /** The client error when `role` has no node. */
  noNodeError(role: ListenerRole): string;
  /** Nodes a command for every node goes to (serving replicas and the primary), config order. */
  broadcastNodes(): readonly NodeHandle[];
  /** The tag SCAN cursors from `nodeId` carry. */
  scanTag(nodeId: string): number;
  /** The node a cursor tag names, or null for a tag never handed out. */
  cursorNode(tag: number): CursorNode | null;
  /**
   * Calls `waiter.writerChanged()` once, at the next routes update with a
   * primary, or `holdExpired()` once its oldest write was held longer than
   * `timeouts.failover`.
   */
  awaitWriter(waiter: WriterWaiter): void;
  /**
   * The node `nodeId`'s `CLIENT LIST` text as this shard's clients should
   * see it: shardgate's own connections left out, its sessions put in.
   */
  clientList(nodeId: string, text: string): string;
  /** Reads were sent: make sure a hedge check runs after the hedge delay. */
  armHedge(): void;
  /**
   * Takes one hedge from the shard's budget; false when spent (or hedging is
   * off). `stalled`: the read's node has answered nothing for a while, so the
   * hedge is taken even past the budget (counted all the same).
   */
  takeHedge(stalled?: boolean): boolean;
}

/** What a router port's decision asks of the session core (see {@link KeyRouting}). */
export const KeyVerdict = {
  /** Send it to {@link KeyRouting.shard} (readers or writer per {@link KeyRouting.toWriter}). */
  SEND: 1,
  /** Answer {@link KeyRouting.reply} (a local reply or an error), in order. */
  LOCAL: 2,
  /** Send {@link KeyRouting.parts} and answer {@link KeyRouting.merge} of their replies. */
  FANOUT: 3,
  /**
   * Answer {@link KeyRouting.reply} now (`+OK` for MULTI, `+QUEUED`) and keep
   * the command until the transaction's shard is known (MULTI before its
   * first key); the node's replies to it are dropped then.
   */
  HOLD: 4,
  /** Answer {@link KeyRouting.reply} and drop what was held (DISCARD before anything was sent). */
  DROP_HELD: 5,
  /**
   * Answer {@link KeyRouting.reply} (EXECABORT), drop what was held, and, when
   * {@link KeyRouting.discardOnShard}, end the MULTI on the pinned connection quietly.
   */
  ABORT: 6,
} as const;
/** One of the {@link KeyVerdict} values. */
export type KeyVerdict = typeof KeyVerdict[keyof typeof KeyVerdict];

/** One part of a command sent to several shards or nodes. */
export interface FanPart {
  /** The shard it goes to. */
  readonly shard: ShardRoutes;
  /** A specific node of it (a script load to every node), or null for the shard's route. */
  readonly node: NodeHandle | null;
  /** To the shard's writer (else its readers). */
  readonly toWriter: boolean;
  /** The command to send. */
  readonly frame: Uint8Array;
}

/**
 * How a router port's sessions pick a shard per command, by key
 * (implemented by `router/`, which depends on the proxy, not the reverse).
 * After {@link decide} the fields describe the decision until the next call.
 */
export interface KeyRouting {
  /**
   * Decides for the command the session just parsed; `route` is its
   * {@link Route} (the session keeps connection state itself).
   */
  decide(parser: RequestParser, buf: Uint8Array, route: Route): KeyVerdict;
  /** SEND: the shard. */
  readonly shard: ShardRoutes | null;
  /** SEND: to the shard's writer. */
  readonly toWriter: boolean;
  /** SEND: part of a transaction bound to {@link shard} (it pins there). */
  readonly transaction: boolean;
  /** LOCAL, HOLD, DROP_HELD, ABORT: the reply. */
  readonly reply: Uint8Array | null;
  /** FANOUT: the parts. */
  readonly parts: readonly FanPart[];
  /**
   * FANOUT: builds the client's reply from the parts' replies (in part
   * order). A function of this decision's own: the session keeps it until
   * the parts are in, while later commands are decided.
   */
  readonly merge: (replies: readonly Uint8Array[]) => Uint8Array;
  /** ABORT: MULTI had reached the shard; a DISCARD must end it there. */
  readonly discardOnShard: boolean;
  /**
   * The shard connection state goes to that a node decides (a client's own
   * AUTH, a SELECT's database index): a shard port's own, a router port's first.
   */
  readonly firstShard: ShardRoutes;
  /** Connection state goes to {@link firstShard}'s writer (else a reader). */
  readonly stateToWriter: boolean;
  /** CLIENT LIST / INFO / KILL show the port's client sessions (a shard port's do). */
  readonly introspects: boolean;
}

/**
 * A shard port's routing: every command to its shard — to the writer on the
 * writer port, to the readers on the readers port, and on the split port
 * reads to the readers and everything else to the writer (`split_routing.ts`).
 */
export class ShardPortRouting implements KeyRouting {
  readonly shard: ShardRoutes;
  toWriter: boolean;
  readonly transaction = false;
  readonly reply = null;
  readonly parts: readonly FanPart[] = [];
  readonly discardOnShard = false;
  readonly firstShard: ShardRoutes;
  readonly stateToWriter: boolean;
  readonly introspects = true;
  readonly #split: boolean;

  /** The routing of `shard`'s port of `role`. */
  constructor(shard: ShardRoutes, role: ListenerRole) {
    this.shard = this.firstShard = shard;
    this.toWriter = this.stateToWriter = role !== "readers";
    this.#split = role === "split";
  }

  /** Always its shard (a split port: its readers for a read). */
  decide(_parser: RequestParser, _buf: Uint8Array, route: Route): KeyVerdict {
    if (this.#split) this.toWriter = !splitReads(route);
    return KeyVerdict.SEND;
  }

  /** Never called: nothing is split. */
  merge(): Uint8Array {
    throw new Error("a shard port splits nothing");
  }
}

// ---- commands in flight ----

/** Why a node connection gave up on its in-flight commands. */
export type FailReason =
  | "connect failed"
  | "connection lost"
  | "timeout"
  | "protocol error"
  | "removed"
  | "handshake refused";

/** Who gets a slot's reply (a client session, or a handshake). */
export interface SlotOwner {
  /** A reply frame arrived: `buf[start, end)` is valid only during the call. */
  onReply(slot: Slot, buf: Uint8Array, start: number, end: number): void;
  /**
   * The slot's node connection failed before its reply. `sent` is false when
   * the command never left shardgate (a failed connect), so replaying it is
   * safe whatever the command. `detail` is the node's own error text when
   * it refused the connection's setup (e.g. `ERR DB index is out of range`).
   */
  onFail(
    slot: Slot,
    reason: FailReason,
    nodeId: string,
    sent: boolean,
    detail: string | null,
  ): void;
  /**
   * The slot's read has waited longer than the hedge delay: the owner may
   * send a copy to another node (absent: never hedged). True when it is a
   * read that could be hedged (whether or not the budget allowed it).
   * `stalled`: its node has answered nothing for a while (see
   * `SessionRuntime.takeHedge`).
   */
  hedge?(slot: Slot, now: number, stalled?: boolean): boolean;
}

/** The command may not move to another node (a SCAN continuation). */
export const SLOT_BOUND = 1;
/** The reply's cursor is rewritten to name the node that made it (SCAN on the readers port). */
export const SLOT_SCAN = 2;
/** A NOSCRIPT reply is retried once on the primary (EVALSHA on the readers port). */
export const SLOT_NOSCRIPT_RETRY = 4;
/** Already re-sent to the primary after NOSCRIPT. */
export const SLOT_NOSCRIPT_RETRIED = 8;
/** Never reused: a late copy may still look at it after its reply went out. */
export const SLOT_KEEP = 16;
/** Goes to its shard's writer (a router port's write), whatever the session's port. */
export const SLOT_WRITER = 32;
/** A client's own AUTH, checked by the node (see the session's login). */
export const SLOT_LOGIN = 64;
/** CLIENT LIST: the node's reply is rewritten to show client sessions (`_clients.ts`). */
export const SLOT_CLIENT_LIST = 128;
/** An injected fault hit it (config `faults:`; its span says so). */
export const SLOT_FAULTED = 256;
/** A write sent while offsets are tracked (`consistency.ts`): its reply counts as answered. */
export const SLOT_OFFSET = 512;
/** A read gated by an offset it needs. */
export const SLOT_GATED = 1024;
/** A gated read sent behind a `ROLE` probe on its connection. */
export const SLOT_PROBED = 2048;
/** The probe before it said the replica was behind: its reply is void. */
export const SLOT_STALE = 4096;
/**
 * A read sent to the primary because the session's own write before it is
 * not acknowledged yet (read-your-writes): never hedged to a replica.
 */
export const SLOT_AFTER_WRITE = 8192;
/** Answered by the near cache (its {@link Slot.hit} until the end of the turn). */
export const SLOT_CACHE_HIT = 16384;

/** The parts of one client command sent to several shards or nodes, merged into one reply. */
export class PartGroup {
  /** The client's slot, in its FIFO. */
  readonly slot: Slot;
  /** Each part's reply frame (errors included), by part index. */
  readonly replies: Uint8Array[];
  /** Builds the client's reply from the parts' replies. */
  readonly merge: (replies: readonly Uint8Array[]) => Uint8Array;
  #left: number;

  /** A group of `parts` parts for the client slot `slot`, merged by `merge`. */
  constructor(slot: Slot, parts: number, merge: (replies: readonly Uint8Array[]) => Uint8Array) {
    this.slot = slot;
    this.replies = new Array(parts);
    this.merge = merge;
    this.#left = parts;
  }

  /** Part `index` is answered; true when it was the last one. */
  settle(index: number, reply: Uint8Array): boolean {
    this.replies[index] = reply;
    return --this.#left === 0;
  }
}

/** One send of a traced command (a span event). */
export interface Attempt {
  /** First send, a retry after a failure, or a hedge (a second node for a slow read). */
  kind: "send" | "retry" | "hedge";
  /** Node id. */
  node: string;
  /** When it was sent, epoch ms. */
  time: number;
  /** How it ended: ok, error, won, lost, or the failure (`timeout`, `connection lost`…). */
  result: string;
}

/**
 * True for a read on the readers side (a shard's readers port, a router's
 * read): bound by `timeouts.server`, since another node can answer it.
 * Everything else waits for its node by `timeouts.writer` (default: as long
 * as the node takes), as it would directly.
 */
export function boundAsRead(slot: Slot): boolean {
  const r = slot.route;
  return (slot.flags & SLOT_WRITER) === 0 &&
    (r === Route.READ || r === Route.SCAN || r === Route.SCRIPT_READ);
}

/** One command in flight. */
export class Slot {
  /** Who receives the reply. */
  owner: SlotOwner;
  /** The reply bytes once filled out of order; null while pending or when written directly. */
  reply: Uint8Array | null = null;
  /** True once the reply (or an error reply) is known. */
  done = false;
  /**
   * Where the command's bytes are kept so it can be replayed: `cmd[cmdStart,
   * cmdEnd)` in the session's command arena; null when it may not be replayed.
   */
  cmd: Uint8Array | null = null;
  /** Start of the command in `cmd`. */
  cmdStart = 0;
  /** End of the command in `cmd`. */
  cmdEnd = 0;
  /** Route class from the command table (a `Route` of resp). */
  route: number;
  /** Extra facts of this command (`SLOT_*` bits). */
  flags = 0;
  /** A SELECT's database (the session moves there once the node accepts it). */
  selectDb = 0;
  /** A fan-out part's index in its {@link group}. */
  part = 0;
  /** Times the command was sent (1 on the first try). */
  attempts = 0;
  /** Monotonic ms when last sent (server timeout). */
  sentAt = 0;
  /** Id of the node it was last sent to. */
  nodeId = "";
  /** The hedged pair this read (or its copy) is part of, or null: never hedged. */
  hedged: HedgedRead<Slot> | null = null;
  /** The shard the command goes to (a router port picks one per command); null: the session's. */
  rt: ShardRoutes | null = null;
  /** The group this slot is one part of (`part` is its index), or null. */
  group: PartGroup | null = null;
  /** The command's index in the metrics' command table (`commandIndex`). */
  cmdIndex = 0;
  /** The `PortRole` the command came in on (fault rules scope by it). */
  port = 0;
  /** When the command arrived (data-path ms). */
  startedAt = 0;
  /** A sampled command's sends, for its span; null when not traced. */
  trace: Attempt[] | null = null;
  /** The session's use of the node connection it was sent on, until answered; null otherwise. */
  use: LinkUse | null = null;
  /** The near cache's answer, checked at the end of the turn (`session/cache_hit.ts`); else null. */
  hit: CacheHit | null = null;

  /** Creates a slot for `owner`. */
  constructor(owner: SlotOwner, route: number) {
    this.owner = owner;
    this.route = route;
  }
}

/** A FIFO of slots backed by an array with a moving head (no shift() copies). */
export class SlotQueue {
  #items: (Slot | undefined)[] = [];
  #head = 0;

  /** Number of queued slots. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Appends a slot. */
  push(slot: Slot): void {
    this.#items.push(slot);
  }

  /** The oldest slot, or undefined. */
  peek(): Slot | undefined {
    return this.#items[this.#head];
  }

  /** Removes and returns the oldest slot. */
  shift(): Slot | undefined {
    const items = this.#items;
    if (this.#head >= items.length) return undefined;
    const s = items[this.#head];
    items[this.#head++] = undefined;
    if (this.#head === items.length) {
      items.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > items.length) {
      this.#items = items.slice(this.#head);
      this.#head = 0;
    }
    return s;
  }

  /** Calls `fn` with each slot, oldest first, until it returns false. */
  scan(fn: (slot: Slot) => boolean): void {
    const items = this.#items;
    for (let i = this.#head; i < items.length; i++) if (!fn(items[i]!)) return;
  }

  /** Removes every slot and returns them oldest first. */
  drain(): Slot[] {
    const out = this.#items.slice(this.#head) as Slot[];
    this.#items = [];
    this.#head = 0;
    return out;
  }
}
