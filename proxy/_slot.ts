/**
 * A reply slot: one command's place in its client's FIFO. It travels to a
 * node connection's in-flight queue and comes back filled (or failed).
 *
 * @module
 */

import { Route } from "../resp/mod.ts";
import type { LinkUse, SessionRuntime } from "./_runtime.ts";

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
/** A hedge: the copy of a read sent to a second node (`peer` is the original, in the FIFO). */
export const SLOT_HEDGE = 16;
/** A read that was hedged (`peer` is its copy). */
export const SLOT_HEDGED = 32;
/** One copy of a hedged read got its reply or failed. */
export const SLOT_SETTLED = 64;
/** Counted once as a `slow` passive error against its node. */
export const SLOT_SLOW_REPORTED = 128;
/** Never reused: a late copy may still look at it after its reply went out. */
export const SLOT_KEEP = 256;
/** Goes to its shard's writer (a router port's write), whatever the session's port. */
export const SLOT_WRITER = 512;
/** A client's own AUTH, checked by the node (see the session's login). */
export const SLOT_LOGIN = 1024;
/** CLIENT LIST: the node's reply is rewritten to show client sessions (`_clients.ts`). */
export const SLOT_CLIENT_LIST = 2048;
/** An injected fault hit it (config `faults:`; its span says so). */
export const SLOT_FAULTED = 4096;
/** A write sent while offsets are tracked (`consistency.ts`): its reply counts as answered. */
export const SLOT_OFFSET = 8192;
/** A read gated by an offset it needs. */
export const SLOT_GATED = 16384;
/** A gated read sent behind a `ROLE` probe on its connection. */
export const SLOT_PROBED = 32768;
/** The probe before it said the replica was behind: its reply is void. */
export const SLOT_STALE = 65536;

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
  /** A number the route needs: the database of a SELECT, the cursor argument of a SCAN. */
  aux = 0;
  /** Times the command was sent (1 on the first try). */
  attempts = 0;
  /** Monotonic ms when last sent (server timeout). */
  sentAt = 0;
  /** Id of the node it was last sent to. */
  nodeId = "";
  /** The other copy of a hedged read, or null. */
  peer: Slot | null = null;
  /** The shard the command goes to (a router port picks one per command); null: the session's. */
  rt: SessionRuntime | null = null;
  /** The group this slot is one part of (`aux` is its index), or null. */
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
