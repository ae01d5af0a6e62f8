/**
 * What a pinned session owes and why it is pinned: the bookkeeping that
 * lets a session leave its dedicated node connection as soon as nothing on
 * that connection is its own any more.
 *
 * Every command sent on the pinned connection expects a known number of
 * frames back (1, none under `CLIENT REPLY OFF/SKIP`, one per channel for
 * the (P|S)SUBSCRIBE family). Frames that are pushes (pub/sub messages,
 * tracking invalidations) are not replies and owe nothing. The session may
 * go back to the multiplexed path once nothing is owed and no reason holds:
 *
 * | reason        | set by                        | cleared by                 |
 * |---------------|-------------------------------|----------------------------|
 * | transaction   | MULTI (+OK)                   | EXEC, DISCARD, RESET       |
 * | watch         | WATCH (+OK)                   | UNWATCH, EXEC, DISCARD, RESET |
 * | subscriptions | (P|S)SUBSCRIBE                | the last (P|S)UNSUBSCRIBE, RESET |
 * | reply off     | CLIENT REPLY OFF / SKIP       | CLIENT REPLY ON, RESET     |
 * | for life      | MONITOR, CLIENT TRACKING, CLIENT ID, REPLCONF, READONLY, EXEC of a state change | RESET |
 *
 * A blocking command simply owes its one reply, so its pin ends with it.
 *
 * Frames are counted against what the node is when it runs each command:
 * the state the commands sent before it leave, not what their replies have
 * said so far. So RESET starts the count afresh when it is sent (what
 * follows it in the same write is owed as on a new connection), and its
 * reply clears the reasons. (Un)subscribe confirmations are owed even
 * under CLIENT REPLY OFF/SKIP (Redis pushes them regardless); a RESET
 * after CLIENT REPLY SKIP gets no reply and takes effect in its turn
 * ({@link PinTracker.takeQuiet}). Under MONITOR, and after an EXEC that ran
 * a state change (pub/sub confirmations come partly inside EXEC's reply,
 * partly after it; HELLO changes the protocol), frames are not counted:
 * they all go to the client until RESET's reply.
 *
 * @module
 */

/** What kind of command was sent, for the bookkeeping. */
export const PinKind = {
  OTHER: 0,
  MULTI: 1,
  EXEC: 2,
  DISCARD: 3,
  WATCH: 4,
  UNWATCH: 5,
  SUBSCRIBE: 6,
  PSUBSCRIBE: 7,
  SSUBSCRIBE: 8,
  UNSUBSCRIBE: 9,
  PUNSUBSCRIBE: 10,
  SUNSUBSCRIBE: 11,
  MONITOR: 12,
  FOR_LIFE: 13,
  REPLY: 14,
  RESET: 15,
  SELECT: 16,
  HELLO: 17,
  SETNAME: 18,
} as const;
/** One of the {@link PinKind} values. */
export type PinKind = typeof PinKind[keyof typeof PinKind];

/** Pin kinds by the command table's name (`commandNameOf`). */
export const PIN_KINDS: ReadonlyMap<string, PinKind> = new Map<string, PinKind>([
  ["multi", PinKind.MULTI],
  ["exec", PinKind.EXEC],
  ["discard", PinKind.DISCARD],
  ["watch", PinKind.WATCH],
  ["unwatch", PinKind.UNWATCH],
  ["subscribe", PinKind.SUBSCRIBE],
  ["psubscribe", PinKind.PSUBSCRIBE],
  ["ssubscribe", PinKind.SSUBSCRIBE],
  ["unsubscribe", PinKind.UNSUBSCRIBE],
  ["punsubscribe", PinKind.PUNSUBSCRIBE],
  ["sunsubscribe", PinKind.SUNSUBSCRIBE],
  ["monitor", PinKind.MONITOR],
  ["client|tracking", PinKind.FOR_LIFE],
  ["client|id", PinKind.FOR_LIFE],
  ["client|no-evict", PinKind.FOR_LIFE],
  ["client|no-touch", PinKind.FOR_LIFE],
  ["client|caching", PinKind.FOR_LIFE],
  ["replconf", PinKind.FOR_LIFE],
  ["readonly", PinKind.FOR_LIFE],
  ["readwrite", PinKind.FOR_LIFE],
  ["asking", PinKind.FOR_LIFE],
  ["client|reply", PinKind.REPLY],
  ["reset", PinKind.RESET],
  ["select", PinKind.SELECT],
  ["hello", PinKind.HELLO],
  ["client|setname", PinKind.SETNAME],
]);

/** What the session records of a pinned command for metrics and spans. */
export interface CommandTag {
  /** Index in the metrics' command table. */
  readonly cmd: number;
  /** When it was sent (data-path ms). */
  readonly at: number;
  /** Sampled for a span. */
  readonly traced: boolean;
}

/** A state change the session applies when its reply is in (see {@link PinTracker.onFrame}). */
export interface PinOutcome {
  /** The kind of the command whose reply completed. */
  readonly kind: PinKind;
  /** The argument recorded at send time (database, protocol). */
  readonly arg: string | number | null;
  /** The client name recorded at send time (HELLO SETNAME, CLIENT SETNAME). */
  readonly name: string | null;
  /** Sent by shardgate itself (a DISCARD ending an aborted transaction): its reply is not the client's. */
  readonly internal: boolean;
  /** What {@link PinTracker.sent} was told for metrics: command index, send time, traced. */
  readonly tag: CommandTag | null;
  /** True when the (first) reply frame was an error. */
  readonly error: boolean;
}

/** What else a command sent on the pinned connection carries ({@link PinTracker.sent}). */
export interface PinSend {
  /**
   * Its arguments after the name: channel names matter for the subscription
   * family, the mode for CLIENT REPLY. Default none.
   */
  readonly args?: readonly string[];
  /** A blocking command: exempt from the server timeout. Default false. */
  readonly blocking?: boolean;
  /** Kept for the outcome: the database (SELECT) or protocol (HELLO). Default null. */
  readonly arg?: string | number | null;
  /** Kept for the outcome: the client name (HELLO SETNAME, CLIENT SETNAME). Default null. */
  readonly name?: string | null;
  /** Sent by shardgate itself: its reply is not the client's. Default false. */
  readonly internal?: boolean;
  /** The command's metrics tag. Default null. */
  readonly tag?: CommandTag | null;
}

/** A command of shardgate's own on the pinned connection (its reply is not the client's). */
export const INTERNAL: PinSend = { internal: true };
const NOTHING_MORE: PinSend = {};
const NO_ARGS: readonly string[] = [];

interface Owed {
  kind: PinKind;
  frames: number;
  arg: string | number | null;
  name: string | null;
  internal: boolean;
  tag: CommandTag | null;
  error: boolean;
  first: boolean;
  sentAt: number;
  blocking: boolean;
  /** Message pushes may arrive before this reply (the node is, or is becoming, subscribed). */
  pushes: boolean;
  /** Replies cannot be counted after this one (an EXEC that runs pub/sub commands). */
  uncounts: boolean;
}

const REASON_MULTI = 1;
const REASON_WATCH = 2;
const REASON_FOR_LIFE = 4;
const REASON_UNCOUNTED = 8;

const te = new TextEncoder();
const RESET_REPLY = te.encode("+RESET\r\n");
/** First elements of frames that confirm a (un)subscription: replies, not pushes. */
const CONFIRMATIONS = [
  "subscribe",
  "psubscribe",
  "ssubscribe",
  "unsubscribe",
  "punsubscribe",
  "sunsubscribe",
].map((s) => te.encode(s));
/** First elements of RESP2 arrays that are messages (pushes) on a subscribed connection. */
const MESSAGES = ["message", "pmessage", "smessage"].map((s) => te.encode(s));

/** The bookkeeping of one pinned session's connection. */
export class PinTracker {
  #owed: Owed[] = [];
  #reasons = 0;
  /** MULTI sent and no EXEC/DISCARD after it (Redis queues what follows). */
  #queuing = false;
  #replyOff = false;
  #skip = false;
  /** The protocol the connection speaks as of the last command sent (HELLO changes it). */
  #proto: 2 | 3;
  /** A command that changes the connection's state is queued in the open transaction. */
  #queuedChange = false;
  /** A command without a reply was taken in its turn, and no reply came after it yet. */
  #unconfirmed = false;
  /** RESETs sent whose reply is not in yet. */
  #resetsOwed = 0;
  #channels = new Set<string>();
  #patterns = new Set<string>();
  #shardChannels = new Set<string>();

  /** A tracker for a connection that speaks `proto` when pinned. */
  constructor(proto: 2 | 3 = 2) {
    this.#proto = proto;
  }

  /**
   * True while the node takes only (un)subscribe commands, PING, QUIT and
   * RESET (a RESP2 connection with subscriptions), refusing the rest.
   */
  get restricted(): boolean {
    return this.#proto === 2 && this.subscribed;
  }

  /** True while the node sends no reply to the next command (CLIENT REPLY OFF or SKIP). */
  get silencing(): boolean {
    return this.#replyOff || this.#skip;
  }

  /**
   * Whether a command answered without the node gets a reply, as the node
   * would decide: not under CLIENT REPLY OFF, and not the one after SKIP
   * (which this consumes).
   */
  replies(): boolean {
    if (this.#replyOff) return false;
    if (!this.#skip) return true;
    this.#skip = false;
    return false;
  }

  /**
   * True when a command that gets no reply was sent and no reply came
   * after it: the node may not have run it yet.
   */
  get unconfirmed(): boolean {
    return this.#unconfirmed;
  }

  /** Replies still owed by the node. */
  get owed(): number {
    return this.#owed.length;
  }

  /** True when nothing is owed and nothing holds the session on this connection. */
  get idle(): boolean {
    return this.#owed.length === 0 && this.#reasons === 0 && !this.subscribed &&
      !this.#replyOff && !this.#skip;
  }

  /** True while the connection is subscribed to something (or about to be). */
  get subscribed(): boolean {
    return this.#channels.size + this.#patterns.size + this.#shardChannels.size > 0;
  }

  /** True between a MULTI sent and its EXEC or DISCARD sent: the node queues what comes. */
  get queuing(): boolean {
    return this.#queuing;
  }

  /**
   * True once replies cannot be counted any more (MONITOR, or an EXEC that
   * ran pub/sub commands): every frame goes to the client until RESET's
   * reply, and only RESET or a close ends it.
   */
  get uncounted(): boolean {
    return (this.#reasons & REASON_UNCOUNTED) !== 0;
  }

  /** When the oldest owed, non-blocking reply's command was sent, or -1. */
  pendingSince(): number {
    const o = this.#owed[0];
    return o === undefined || o.blocking || this.uncounted ? -1 : o.sentAt;
  }

  /**
   * Records a command of `kind` sent on the pinned connection at `now`
   * (see {@link PinSend} for what else it may carry).
   */
  sent(kind: PinKind, now: number, o: PinSend = NOTHING_MORE): void {
    const args = o.args ?? NO_ARGS;
    const arg = o.arg ?? null;
    // What the node is when it runs this command: the state the commands
    // sent before it leave (Redis runs them in order), whatever their
    // replies have said so far.
    const pushes = this.subscribed || (kind >= PinKind.SUBSCRIBE && kind <= PinKind.SUNSUBSCRIBE);
    if (kind === PinKind.RESET) {
      // RESET is answered even under CLIENT REPLY OFF (not after SKIP), and
      // whatever follows it runs on a fresh connection state: count its
      // reply and theirs. A RESET without a reply takes effect once the
      // replies before it are in (see takeQuiet()).
      const frames = this.#skip ? 0 : 1;
      this.#resetSendSide();
      if (frames > 0) this.#resetsOwed++;
      this.#owe(kind, frames, o, now, pushes);
      return;
    }
    // Replies cannot be counted under MONITOR, but those after a RESET can.
    // What CLIENT REPLY does is still followed: a SKIP before this command
    // is used up by it at the node, and so does not silence a RESET after.
    if (this.uncounted && this.#resetsOwed === 0) {
      if (kind === PinKind.REPLY) this.#replyMode(args);
      else this.#skip = false;
      return;
    }
    let frames = 1;
    let uncounts = false;
    if (
      this.restricted && kind !== PinKind.OTHER &&
      (kind < PinKind.SUBSCRIBE || kind > PinKind.SUNSUBSCRIBE)
    ) {
      // Refused by the node with an error: it changes nothing.
      kind = PinKind.OTHER;
    }
    if (this.#queuing) {
      // Queued by Redis: +QUEUED now, the effect at EXEC. A state change
      // inside a transaction is not followed: from the EXEC that runs it on,
      // replies are not counted (as under MONITOR) and the session stays
      // pinned until RESET. (Pub/sub run by EXEC even answers partly inside
      // EXEC's reply, partly after it; HELLO changes the protocol.)
      if (kind === PinKind.EXEC || kind === PinKind.DISCARD) {
        this.#queuing = false;
        uncounts = kind === PinKind.EXEC && this.#queuedChange;
        this.#queuedChange = false;
      } else if (
        kind !== PinKind.OTHER && kind !== PinKind.WATCH && kind !== PinKind.MULTI &&
        kind !== PinKind.UNWATCH
      ) {
        this.#queuedChange = true;
        kind = PinKind.FOR_LIFE; // in its turn: a RESET's reply before it must not undo it
      }
    } else {
      switch (kind) {
        case PinKind.MULTI:
          this.#queuing = true;
          break;
        case PinKind.HELLO:
          if (arg === 2 || arg === 3) this.#proto = arg;
          break;
        case PinKind.SUBSCRIBE:
        case PinKind.PSUBSCRIBE:
        case PinKind.SSUBSCRIBE: {
          const set = this.#subscriptions(kind);
          for (const a of args) set.add(a);
          frames = Math.max(1, args.length);
          break;
        }
        case PinKind.UNSUBSCRIBE:
        case PinKind.PUNSUBSCRIBE:
        case PinKind.SUNSUBSCRIBE: {
          const set = this.#subscriptions(kind);
          if (args.length === 0) {
            frames = Math.max(1, set.size);
            set.clear();
          } else {
            frames = args.length;
            for (const a of args) set.delete(a);
          }
          break;
        }
        case PinKind.REPLY:
          // OFF and SKIP get no reply; ON gets one.
          if (this.#replyMode(args)) {
            this.#owe(kind, 0, o, now, pushes);
            return;
          }
          break;
      }
    }
    // (Un)subscribe confirmations are pushed even under CLIENT REPLY OFF/SKIP.
    const confirmed = kind >= PinKind.SUBSCRIBE && kind <= PinKind.SUNSUBSCRIBE;
    let silent = this.#replyOff && !confirmed;
    if (this.#skip) {
      // CLIENT REPLY SKIP: the command after it gets no reply.
      this.#skip = false;
      silent = !confirmed;
    }
    // A command without a reply still takes effect in its turn (takeQuiet()).
    if (silent) {
      frames = 0;
      if (kind === PinKind.SELECT || kind === PinKind.HELLO || kind === PinKind.SETNAME) {
        // Whether the node took it is not known (SELECT 99 fails silently):
        // the session stays on this connection, whose state the node keeps.
        // Held from its turn (takeQuiet()), so the reply of a RESET sent
        // before it, which comes later, does not free the session.
        kind = PinKind.FOR_LIFE;
      }
    }
    this.#owe(kind, frames, o, now, pushes, uncounts);
  }

  #owe(
    kind: PinKind,
    frames: number,
    o: PinSend,
    sentAt: number,
    pushes: boolean,
    uncounts = false,
  ) {
    this.#owed.push({
      kind,
      frames,
      arg: o.arg ?? null,
      name: o.name ?? null,
      internal: o.internal ?? false,
      tag: o.tag ?? null,
      error: false,
      first: true,
      sentAt,
      blocking: o.blocking ?? false,
      pushes,
      uncounts,
    });
  }

  /**
   * CLIENT REPLY `args[0]` was sent: true when it silences (OFF, SKIP). A
   * SKIP after OFF changes nothing; a SKIP before it is used up by it.
   */
  #replyMode(args: readonly string[]): boolean {
    const mode = (args[0] ?? "").toUpperCase();
    if (mode === "ON") {
      this.#replyOff = false;
      this.#skip = false;
      return false;
    }
    if (mode === "OFF") {
      this.#replyOff = true;
      this.#skip = false;
      return true;
    }
    if (mode !== "SKIP") return false;
    if (!this.#replyOff) this.#skip = true;
    return true;
  }

  #subscriptions(kind: PinKind): Set<string> {
    if (kind === PinKind.PSUBSCRIBE || kind === PinKind.PUNSUBSCRIBE) return this.#patterns;
    if (kind === PinKind.SSUBSCRIBE || kind === PinKind.SUNSUBSCRIBE) return this.#shardChannels;
    return this.#channels;
  }

  /**
   * The outcome of a command that gets no reply frame (a RESET after
   * CLIENT REPLY SKIP) once every reply before it is in, else null. Call
   * after {@link sent} and after each {@link onFrame}, until null.
   */
  takeQuiet(): PinOutcome | null {
    const o = this.#owed[0];
    if (o === undefined || o.frames > 0) return null;
    this.#owed.shift();
    if (!o.internal) this.#unconfirmed = true;
    return o.kind === PinKind.RESET ? this.#resetReplySide(o.tag) : this.#complete(o);
  }

  /**
   * Accounts for one frame from the node. Returns the outcome when it
   * completed a command's reply, else null (a push, or more frames owed).
   */
  onFrame(buf: Uint8Array, start: number, end: number): PinOutcome | null {
    if (this.uncounted) {
      if (this.#resetsOwed > 0 && sameBytes(buf, start, end, RESET_REPLY)) {
        // Replies before the RESET went out uncounted with the monitor's
        // lines (a RESET without a reply of its own, after SKIP, among them).
        let o: Owed | undefined;
        while (
          (o = this.#owed.shift()) !== undefined && !(o.kind === PinKind.RESET && o.frames > 0)
        );
        this.#resetsOwed--;
        return this.#resetReplySide(o?.tag ?? null);
      }
      return null;
    }
    const o = this.#owed[0];
    if (this.#isPush(buf, start, end, o)) return null;
    if (o === undefined) return null; // out of step; nothing to account
    if (o.first) {
      o.first = false;
      o.error = buf[start] === 45 || buf[start] === 33; // '-' or '!'
    }
    if (--o.frames > 0) return null;
    this.#owed.shift();
    this.#unconfirmed = false; // the node ran every command sent before this one
    return this.#complete(o);
  }

  #complete(o: Owed): PinOutcome {
    const ok = !o.error;
    switch (o.kind) {
      case PinKind.MULTI:
        if (ok) this.#reasons |= REASON_MULTI;
        else if (!(this.#reasons & REASON_MULTI)) this.#queuing = false;
        break;
      case PinKind.EXEC:
      case PinKind.DISCARD:
        // (Queuing ended when it was sent: a MULTI after it may be queuing again.)
        // Without a MULTI ("EXEC without MULTI") nothing changes: WATCHed
        // keys stay watched, and the connection may not be shared yet.
        if ((this.#reasons & REASON_MULTI) === 0) break;
        this.#reasons &= ~(REASON_MULTI | REASON_WATCH);
        if (o.uncounts) this.#reasons |= REASON_UNCOUNTED;
        break;
      case PinKind.WATCH:
        if (ok) this.#reasons |= REASON_WATCH;
        break;
      case PinKind.UNWATCH:
        if (!(this.#reasons & REASON_MULTI)) this.#reasons &= ~REASON_WATCH;
        break;
      case PinKind.MONITOR:
        if (ok) this.#reasons |= REASON_UNCOUNTED;
        break;
      case PinKind.FOR_LIFE:
        this.#reasons |= REASON_FOR_LIFE;
        break;
      case PinKind.RESET:
        this.#resetsOwed--;
        if (ok) return this.#resetReplySide(o.tag);
        break;
    }
    return {
      kind: o.kind,
      arg: o.arg,
      name: o.name,
      error: o.error,
      internal: o.internal,
      tag: o.tag,
    };
  }

  /** RESET was sent: what the commands after it are counted against starts afresh. */
  #resetSendSide(): void {
    this.#proto = 2;
    this.#queuing =
      this.#replyOff =
      this.#skip =
      this.#queuedChange =
        false;
    this.#channels.clear();
    this.#patterns.clear();
    this.#shardChannels.clear();
  }

  /**
   * RESET's reply is in: nothing holds the session on this connection any
   * more; the replies of commands sent after it are still owed.
   */
  #resetReplySide(tag: CommandTag | null): PinOutcome {
    this.#reasons = 0;
    return { kind: PinKind.RESET, arg: null, name: null, error: false, internal: false, tag };
  }

  /**
   * A message push: RESP3 `>` that is not a (un)subscribe confirmation, or
   * a RESP2 message array while the node is subscribed (as of the oldest
   * owed reply `o`, or now when nothing is owed).
   */
  #isPush(buf: Uint8Array, start: number, end: number, o: Owed | undefined): boolean {
    const type = buf[start];
    if (type === 62) return !firstElementIn(buf, start, end, CONFIRMATIONS); // '>'
    if (type === 42 && (o === undefined ? this.subscribed : o.pushes)) {
      return firstElementIn(buf, start, end, MESSAGES);
    }
    return false;
  }
}

function sameBytes(buf: Uint8Array, start: number, end: number, want: Uint8Array): boolean {
  if (end - start !== want.length) return false;
  for (let i = 0; i < want.length; i++) if (buf[start + i] !== want[i]) return false;
  return true;
}

/**
 * True when the aggregate at `start` begins with a bulk or simple string
 * equal (case-insensitively) to one of `names`.
 */
function firstElementIn(
  buf: Uint8Array,
  start: number,
  end: number,
  names: readonly Uint8Array[],
): boolean {
  let p = start + 1;
  while (p < end && buf[p] !== 13) p++; // the count line
  p += 2;
  if (p >= end) return false;
  let from: number, to: number;
  if (buf[p] === 36) { // $len\r\nbytes
    let q = p + 1, len = 0;
    while (q < end && buf[q] !== 13) len = len * 10 + (buf[q++] - 48);
    from = q + 2;
    to = from + len;
  } else if (buf[p] === 43) { // +text\r\n
    from = p + 1;
    to = from;
    while (to < end && buf[to] !== 13) to++;
  } else {
    return false;
  }
  if (to > end) return false;
  for (const name of names) {
    if (name.length !== to - from) continue;
    let same = true;
    for (let i = 0; i < name.length && same; i++) same = (buf[from + i] | 0x20) === name[i];
    if (same) return true;
  }
  return false;
}
