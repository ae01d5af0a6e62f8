/**
 * The narrow views the client sessions use of their shard, its nodes and
 * their connections, so a session depends on interfaces (and its core can
 * be tested against fakes without sockets).
 *
 * @module
 */

import type { PassiveErrorKind, ShardSettings } from "../config/types.ts";
import type { Logger } from "../telemetry/logger.ts";
import type { ServerIdentity } from "./_local.ts";
import type { Slot } from "./_slot.ts";
import type { Backend } from "./backend.ts";
import type { ShardCounters } from "./metrics.ts";
import type { ConnectionSetup, PinSink } from "./node_connection.ts";

/** Listener role: readers spread over replicas, writer follows the primary. */
export type ListenerRole = "readers" | "writer";

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
}

/** A node, as a session uses it. */
export interface NodeHandle {
  /** Node id (`host:port`). */
  readonly id: string;
  /** The multiplexed connection for a session speaking `proto` on database `db`. */
  connection(proto: 2 | 3, db: number): MuxLink;
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

/** What client sessions need from their shard. */
export interface SessionRuntime {
  /** Shard name. */
  readonly name: string;
  /** Current settings (replaced in place on reload). */
  readonly settings: ShardSettings;
  /** Counters for /metrics. */
  readonly counters: ShardCounters;
  /** Monotonic-enough milliseconds. */
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
  /** Reads were sent: make sure a hedge check runs after the hedge delay. */
  armHedge(): void;
  /** Takes one hedge from the shard's budget; false when spent (or hedging is off). */
  takeHedge(): boolean;
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
