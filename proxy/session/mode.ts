/**
 * What a session does with its next input byte and its next node reply:
 * one tagged value, {@link Mode}. Nothing else in the session decides it;
 * what a mode needs (the pinned connection, its tracker, the node leaving)
 * lives inside it, so it cannot outlive the mode.
 *
 * The allowed moves ({@link TRANSITIONS}); anything else is a bug and throws:
 *
 * ```
 *            ┌──────── FIFO empty ────────┐
 *            ▼                            │
 *          mux ── HELLO/RESET/login/pin ─▶ waiting{fifo|select|login}
 *           │ ▲     SELECT, AUTH (the node's)      │
 *   pin     │ │ nothing owed, nothing holds it     │ drain
 *   (FIFO   ▼ │                                    ▼
 *   empty) pinned{link, tracker, …} ── SYNC ─▶ raw{link}
 *           │      ▲ waiting: a local reply            │
 *           │      └ waits for owed replies ─┘         │
 *           ▼                                          ▼
 *       closing{link?, pin?}  ◀── QUIT, protocol error, drain, node left,
 *           │                     node connection closed, CLIENT KILL
 *           ▼
 *        closed   (from any mode: close())
 * ```
 *
 * @module
 */

import type { PinTracker } from "../_pin.ts";
import type { PinnedLink, ShardRoutes } from "../_runtime.ts";

/** Commands go to shared node connections. */
export interface MuxMode {
  /** The mode's tag. */
  readonly kind: "mux";
}

/**
 * Not reading: a reply must come first. `fifo`: every reply pending (the
 * command at hand is parsed again then: a pin, HELLO, RESET, a login);
 * `select`: the SELECT's (whether the database exists); `login`: the
 * node's answer to the client's own AUTH; `gate`: a read that waits for a
 * replica to catch up (read-your-writes), so nothing after it overtakes it.
 */
export interface WaitingMode {
  /** The mode's tag. */
  readonly kind: "waiting";
  /** What it waits for. */
  readonly for: "fifo" | "select" | "login" | "gate";
}

/** Commands go to the session's own node connection. */
export interface PinnedMode {
  /** The mode's tag. */
  readonly kind: "pinned";
  /** The session's own connection. */
  readonly link: PinnedLink;
  /** Counts what the node owes on it. */
  readonly tracker: PinTracker;
  /** The shard it belongs to (a router port's: the one the session pinned to). */
  readonly shard: ShardRoutes;
  /** Its node's id. */
  readonly node: string;
  /** It is to the shard's writer (the primary). */
  readonly writer: boolean;
  /** When the node stopped serving the session's port while a reply was owed (ms), or 0. */
  leavingSince: number;
  /** Not reading: a reply of the proxy's own waits for the node's owed replies. */
  waiting: boolean;
  /**
   * Keys written on it whose replies are not all in (a transaction's until
   * EXEC's): evicted from the near cache again at each reply (null: a flush,
   * everything). Emptied once nothing is owed.
   */
  written: string[] | null;
}

/** Bytes relayed as they are both ways (a replication stream after SYNC/PSYNC). */
export interface RawMode {
  /** The mode's tag. */
  readonly kind: "raw";
  /** The connection carrying the stream. */
  readonly link: PinnedLink;
  /** Its node's id. */
  readonly node: string;
  /** Its shard. */
  readonly shard: ShardRoutes;
}

/**
 * No more commands; closes once every reply is out: the FIFO's, and the
 * pinned connection's owed ones while `pin` is kept (a protocol error drops
 * it: the client broke the stream). `link` is closed with the session.
 */
export interface ClosingMode {
  /** The mode's tag. */
  readonly kind: "closing";
  /** The pinned connection to close at the end, or null. */
  readonly link: PinnedLink | null;
  /** The pin whose owed replies are still written, or null. */
  readonly pin: PinnedMode | null;
}

/** Closed: late replies are dropped. */
export interface ClosedMode {
  /** The mode's tag. */
  readonly kind: "closed";
}

/** What a session does with its input and its node replies. */
export type Mode = MuxMode | WaitingMode | PinnedMode | RawMode | ClosingMode | ClosedMode;

/** A mode's tag. */
export type ModeKind = Mode["kind"];

/** The one multiplexed mode (it carries nothing). */
export const MUX: MuxMode = { kind: "mux" };
/** The one closed mode. */
export const CLOSED: ClosedMode = { kind: "closed" };

/**
 * Each mode's allowed next modes (`pinned` → `pinned`: it starts or stops
 * waiting; `closing` → `closing`: its pinned connection closed).
 */
export const TRANSITIONS: Readonly<Record<ModeKind, readonly ModeKind[]>> = {
  mux: ["waiting", "pinned", "closing", "closed"],
  waiting: ["mux", "closing", "closed"],
  pinned: ["pinned", "mux", "raw", "closing", "closed"],
  raw: ["closing", "closed"],
  closing: ["closing", "closed"],
  closed: [],
};

/** Whether a session may move from a `from` mode to a `to` mode. */
export function canMove(from: ModeKind, to: ModeKind): boolean {
  return TRANSITIONS[from].includes(to);
}

/** A move {@link TRANSITIONS} does not allow: a bug in the session. */
export class ModeError extends Error {
  /** A move from `from` to `to`. */
  constructor(from: ModeKind, to: ModeKind) {
    super(`session: no move from ${from} to ${to}`);
    this.name = "ModeError";
  }
}
