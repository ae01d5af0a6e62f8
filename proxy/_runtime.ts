/**
 * The narrow views the client sessions use of their shard, its nodes and
 * their connections, so a session depends on interfaces (and its core can
 * be tested against fakes without sockets).
 *
 * @module
 */

import type { PassiveErrorKind, ShardSettings } from "../config/types.ts";
import type { RequestParser, Route } from "../resp/mod.ts";
import type { CommandStats, CommandTracer } from "../telemetry/mod.ts";
import type { Logger } from "../telemetry/logger.ts";
import type { ServerIdentity } from "./_local.ts";
import type { Credential } from "./_credential.ts";
import type { ClientView } from "./_clients.ts";
import type { Slot } from "./_slot.ts";
import type { Backend } from "./backend.ts";
import type { ShardCounters } from "./metrics.ts";
import type { ConnectionSetup, PinSink } from "./node_connection.ts";
import type { ReadGate } from "./consistency.ts";

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

/** A session holding writes for the shard's next primary (see {@link SessionRuntime.awaitWriter}). */
export interface WriterWaiter {
  /** When its oldest held write was held (data-path ms), or -1 when none is. */
  readonly heldSince: number;
  /** The shard's routes changed and it has a primary: the waiter sends, or waits again. */
  writerChanged(): void;
  /** Held past the shard's `timeouts.failover`: the waiter fails what it held. */
  holdExpired(): void;
}

/** What client sessions need from their shard. */
export interface SessionRuntime {
  /** Shard name. */
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
  /** What HELLO reports about the servers behind the shard. */
  server(): ServerIdentity;
  /** True when some replica serves reads now (HELLO's role on the readers port). */
  hasReplicas(): boolean;
  /** Read-your-writes gate of the shard (`consistency.ts`); absent on a router's own runtime. */
  readonly gate?: ReadGate;
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
  /** The client sessions of this shard's ports (CLIENT KILL). */
  clientSessions(): Iterable<ClientView>;
  /** Reads were sent: make sure a hedge check runs after the hedge delay. */
  armHedge(): void;
  /**
   * Takes one hedge from the shard's budget; false when spent (or hedging is
   * off). `stalled`: the read's node has answered nothing for a while, so the
   * hedge is taken even past the budget (counted all the same).
   */
  takeHedge(stalled?: boolean): boolean;
}

/** What backends need from their shard. */
export interface ShardRuntime extends SessionRuntime {
  /** Shard logger. */
  readonly logger: Logger;
  /** Reports a passive error for a node to the health checker. */
  nodeError(nodeId: string, kind: PassiveErrorKind): void;
  /** A retired backend has nothing in flight any more. */
  backendIdle(backend: Backend): void;
  /** A read's latency (ms), for the hedge delay. */
  recordLatency(ms: number): void;
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
  readonly shard: SessionRuntime;
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
  readonly shard: SessionRuntime | null;
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
  /** The shard that answers for the session itself (a SELECT's database index check). */
  readonly firstShard: SessionRuntime;
}
