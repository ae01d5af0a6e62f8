/**
 * The decisions of one client session, without sockets: framing, routing,
 * the ordered reply FIFO, retries, pinning and un-pinning, and the
 * connection state a client sets (protocol, database, name), which the
 * session keeps and answers itself. The socket plumbing
 * (`client_session.ts`) feeds it bytes and gives it a {@link SessionIO} to
 * write to; tests feed it directly against fake node connections.
 *
 * ```
 *  feed(bytes) ─RequestParser─▶ command ─routeOf()─┬─ local (HELLO, SELECT, CLIENT SETNAME…)
 *                                                  │     └─▶ a filled slot in the FIFO
 *   MUX: slot appended to the FIFO, frame sent on ─┤
 *        a shared connection of the session's      │
 *        protocol and database (balancer/primary)  │
 *   PIN: wait until the FIFO is empty, open the ───┘
 *        session's own connection; frames both ways, counted by a PinTracker;
 *        back to MUX once nothing is owed and nothing holds the pin
 *
 *  io.write() ◀── filled slots at the head of the FIFO, in order (MUX)
 *             ◀── each frame of the pinned connection (PINNED)
 * ```
 *
 * One state value says what the session does with input ({@link SessionState}).
 *
 * @module
 */

import {
  CLIENT_MAX_INFLIGHT,
  CLIENT_OUTPUT_HIGH_WATER,
  NODE_OUTPUT_HIGH_WATER,
} from "../config/defaults.ts";
import {
  commandNameOf,
  copyBytes,
  encodeCommand,
  encodeInteger,
  INCOMPLETE,
  MAX_QUERY_BUFFER,
  RequestParser,
  RespProtocolError,
  Route,
  routeOf,
  slabCopy,
} from "../resp/mod.ts";
import { Outcome, PortRole } from "../telemetry/mod.ts";
import { attemptEnded, CommandRecorder, outcomeOf, traceSend } from "./_record.ts";
import { turn } from "./_io.ts";
import {
  bulkOrNull,
  helloReply,
  type HelloRequest,
  knowsSetInfo,
  parseHello,
  parseSetInfo,
  validAttribute,
} from "./_local.ts";
import { PIN_KINDS, PinKind, type PinOutcome, PinTracker } from "./_pin.ts";
import {
  type FanPart,
  type KeyRouting,
  KeyVerdict,
  type LinkUse,
  type ListenerRole,
  type NodeHandle,
  type PinnedLink,
  type SessionRuntime,
  type WriterWaiter,
} from "./_runtime.ts";
import { decodeCursor, rewriteScanReply } from "./_scan.ts";
import { splitReads } from "./split_routing.ts";
import { SessionGate } from "./session_gate.ts";
import { Credential } from "./_credential.ts";
import { clientLine, type ClientView, killFilter, replyText, textReply } from "./_clients.ts";
import {
  type FailReason,
  PartGroup,
  Slot,
  SLOT_BOUND,
  SLOT_CLIENT_LIST,
  SLOT_GATED,
  SLOT_HEDGE,
  SLOT_HEDGED,
  SLOT_KEEP,
  SLOT_LOGIN,
  SLOT_NOSCRIPT_RETRIED,
  SLOT_NOSCRIPT_RETRY,
  SLOT_OFFSET,
  SLOT_SCAN,
  SLOT_SETTLED,
  SLOT_STALE,
  SLOT_WRITER,
  type SlotOwner,
  SlotQueue,
} from "./_slot.ts";
import { bareReason, errorReply, ErrorText, Replies } from "./errors.ts";
import { type PinSink, startsWith, unavailableReply } from "./node_connection.ts";

/** What a session does with its input. */
export const SessionState = {
  /** Commands go to shared node connections. */
  MUX: 0,
  /** Not reading: the FIFO must empty first (before pinning, after a SELECT). */
  MUX_WAIT: 1,
  /** Commands go to the session's own node connection. */
  PINNED: 2,
  /** Pinned, not reading: a reply of the proxy's own waits for the node's owed replies. */
  PINNED_WAIT: 3,
  /** Bytes relayed as they are (a replication stream). */
  RAW: 4,
  /** No more commands; closes once every reply is out. */
  CLOSING: 5,
  /** Closed. */
  CLOSED: 6,
} as const;
/** One of the {@link SessionState} values. */
export type SessionState = typeof SessionState[keyof typeof SessionState];

/** What the session core needs from its socket. */
export interface SessionIO {
  /** Queues reply bytes `buf[start, end)` (copied). */
  write(buf: Uint8Array, start?: number, end?: number): void;
  /** Reply bytes not written to the client yet. */
  readonly pending: number;
  /** True while input is paused. */
  readonly paused: boolean;
  /** Stops feeding input. */
  pause(): void;
  /** Feeds input again: first what was left unconsumed, then new bytes. */
  resume(): void;
  /** Writes out what is queued, half-closes, then closes (never a reset over a reply). */
  finish(): void;
  /** Closes now. */
  close(): void;
}

/** Commands larger than this are not kept for a retry when they are writes. */
const KEEP_WRITE_FOR_RETRY = 16 * 1024;
/** Size of the chunks that keep commands for replay (one allocation per many commands). */
const ARENA_SIZE = 4 * 1024;
const EMPTY = new Uint8Array(0);
const MINUS = 45;
const td = new TextDecoder();
const te = new TextEncoder();
const NOSCRIPT = te.encode("-NOSCRIPT");
const READONLY = te.encode("-READONLY ");
const DISCARD = encodeCommand(["DISCARD"]);
const PING = encodeCommand(["PING"]);
/** Sent before WAIT/WAITAOF on a pinned primary connection (see #pinnedCommand). */
const WAIT_MARK = encodeCommand(["PUBLISH", "__shardgate__:wait", ""]);
/** Routes a router port's session handles itself, as a shard port's does (connection state). */
const SESSION_ROUTES: ReadonlySet<Route> = new Set([
  Route.QUIT,
  Route.AUTH,
  Route.SELECT,
  Route.HELLO,
  Route.RESET,
  Route.CLIENT_SETNAME,
  Route.CLIENT_GETNAME,
  Route.CLIENT_SETINFO,
  Route.REFUSE,
  Route.SYNC,
  Route.REPLCONF,
]);

/** Routes a pinned session answers itself (when its replies can be counted, outside MULTI). */
const ANSWERED_HERE: ReadonlySet<Route> = new Set([
  Route.AUTH,
  Route.CLIENT_GETNAME,
  Route.CLIENT_SETINFO,
  Route.REFUSE,
]);

let lastClientId = 0;

const S = SessionState;
/** #frame(): the input broke the protocol (answered; the session is closing). */
const BROKEN = -2;
/** How a router port's pinned command was handled (#routedPinned). */
const CONTINUE = 0, CONSUMED = 1, WAIT = 2;

/** One client connection's decisions. */
export class SessionCore implements SlotOwner, PinSink, WriterWaiter, ClientView {
  /** Listener role this client connected to. */
  readonly role: ListenerRole;
  /** The session's own client id (HELLO reports it). */
  readonly id: number = ++lastClientId;
  /** RESP version the client speaks. */
  proto: 2 | 3 = 2;
  /** Database the client selected. */
  db = 0;
  /** Client name (CLIENT SETNAME / HELLO SETNAME), or null. */
  name: string | null = null;
  /** The client's own user (AUTH without a listener password: the node checked it), or null. */
  user: Credential | null = null;
  /** CLIENT SETINFO lib-name, or null. */
  libName: string | null = null;
  /** CLIENT SETINFO lib-ver, or null. */
  libVer: string | null = null;
  /** Last time the client sent something (client_idle). */
  lastActive: number;
  /** When the session started (data-path ms). */
  readonly createdAt: number;
  /** The client's address, `ip:port` (set by the listener). */
  peer = "";
  /** The listener's address, `ip:port` (set by the listener). */
  local = "";
  #state: SessionState = S.MUX;
  #io: SessionIO;
  #rt: SessionRuntime;
  #parser = new RequestParser();
  #fifo = new SlotQueue();
  #free: Slot[] = [];
  #authed: boolean;
  #arena: Uint8Array = EMPTY;
  #arenaPos = 0;
  /** The node connection this batch of input goes to (one pipeline stays on one connection). */
  #batchUse: LinkUse | null = null;
  /** Per node and pool: the connection carrying the session's unanswered commands there. */
  #uses: LinkUse[] = [];
  #now = 0;
  #sent = 0;
  #nodeWait = false;
  #pinned: PinnedLink | null = null;
  #pinNode = "";
  #pin: PinTracker | null = null;
  #leavingSince = 0;
  #onClose: (core: SessionCore) => void;
  /** A router port's per-command shard choice, or null on a shard's own port. */
  #router: KeyRouting | null;
  /** The current command's shard and route (a router port picks them per command). */
  #tRt: SessionRuntime;
  #tWriter: boolean;
  /** The shard and route of the batch connection. */
  #batchRt: SessionRuntime | null = null;
  #batchWriter = false;
  /** The pinned connection is to the shard's writer (the primary). */
  #pinWriter = false;
  /** The shard the pinned connection belongs to. */
  #pinRt: SessionRuntime | null = null;
  /** The login whose reply is awaited (see #login). */
  #pendingLogin: { cred: Credential; hello: HelloRequest & { ok: true } | null } | null = null;
  /** Writes waiting for the shard's next primary, in send order (see #hold). */
  #heldWrites: Slot[] = [];
  /** The node that refused the first held write ("" when no primary was known). */
  #heldFrom = "";
  /** When the first held write was held. */
  #heldSince = 0;
  /** The shard the held writes wait on. */
  #heldRt: SessionRuntime | null = null;
  /** Router ports: a transaction's commands held until its shard is known. */
  #held: Uint8Array[] = [];
  /** A router decision kept for the command handled again (0: none). */
  #verdict: KeyVerdict | 0 = 0;
  /** Metrics and spans of the commands. */
  #rec: CommandRecorder;
  /** Read-your-writes (`consistency.ts`): made once a command goes to a gated shard. */
  #gate: SessionGate | null = null;

  /**
   * A session for a client of `role` on the shard `rt`, writing to `io`. On a
   * router port, `router` picks a shard per command and `rt` is the router's
   * own runtime (settings, counters).
   */
  constructor(
    io: SessionIO,
    role: ListenerRole,
    rt: SessionRuntime,
    onClose: (core: SessionCore) => void = () => {},
    router: KeyRouting | null = null,
  ) {
    this.#io = io;
    this.role = role;
    this.#rt = rt;
    this.#onClose = onClose;
    this.#router = router;
    this.#tRt = rt;
    this.#tWriter = role !== "readers";
    this.#rec = new CommandRecorder(
      router !== null ? PortRole.router : PortRole[role],
      rt.tracer,
    );
    this.#authed = rt.settings.clientPassword === null;
    this.lastActive = this.createdAt = rt.now();
  }

  /** The ACL user the session runs as, as introspection shows it. */
  get userName(): string {
    return this.user?.user ?? "default";
  }

  /** The shard of the pinned connection (router ports: the one the session pinned to), or null. */
  get pinnedShard(): SessionRuntime | null {
    return this.#pinned === null ? null : this.#pinRt;
  }

  /** What the session does with input now. */
  get state(): SessionState {
    return this.#state;
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#state === S.CLOSED;
  }

  /** True while the session has a node connection of its own. */
  get pinned(): boolean {
    return this.#pinned !== null;
  }

  /** The node of the session's own connection, or null. */
  get pinnedNode(): string | null {
    return this.#pinned === null ? null : this.#pinNode;
  }

  /** Commands waiting for their reply (multiplexed, and owed on the pinned connection). */
  get inflight(): number {
    return this.#fifo.length + (this.#pin?.owed ?? 0);
  }

  /** When the pinned node stopped serving while a reply was still owed (ms), or 0. */
  get leavingSince(): number {
    return this.#leavingSince;
  }

  /**
   * Takes the client's bytes `buf[start, end)`; returns how far they were
   * consumed (the rest is fed again after {@link SessionIO.resume}).
   * `moved`: the caller moved its unconsumed bytes since the last call.
   */
  feed(buf: Uint8Array, start: number, end: number, moved = false): number {
    if (moved) this.#parser.reset();
    this.#now = this.lastActive = turn.now = this.#rt.now();
    let pos = start;
    for (;;) {
      const state = this.#state;
      if (state === S.MUX) pos = this.#feedMux(buf, pos, end);
      else if (state === S.PINNED) pos = this.#feedPinned(buf, pos, end);
      else if (state === S.RAW) {
        this.#pinned!.sendRaw(buf, pos, end);
        this.#watchNode();
        return end;
      } else if (state === S.CLOSING || state === S.CLOSED) return end;
      else return pos;
      if (pos >= end || this.#state === state || this.#io.paused) return pos;
    }
  }

  /** Every reply written: resume reading (multiplexed or pinned), finish a close. */
  onDrained(): void {
    if (this.#pinned !== null) this.#pinned.resumeReading();
    this.#maybeResume();
  }

  /**
   * Closes now: the client went away, or it must go (timeouts, drain
   * deadline). The pinned connection closes with it.
   */
  close(): void {
    if (this.#state !== S.CLOSED) this.#end(false);
  }

  /** Finishes in-flight replies, then closes (drain on reload or shutdown). */
  drain(): void {
    const state = this.#state;
    if (state === S.CLOSED || state === S.CLOSING) return;
    if (state === S.RAW) return this.close();
    this.#state = S.CLOSING;
    this.#maybeFinish();
  }

  /**
   * The pinned node stopped serving this session's port (down, ejected,
   * lagging, removed, no longer the primary): close at once if nothing is
   * owed, else right after the owed reply (the shard's ticker closes it if
   * that takes longer than the server timeout).
   */
  leaveNode(): void {
    if (this.#pinned === null || this.#state === S.CLOSED) return;
    if (this.#state === S.RAW || this.#pin === null || this.#pin.owed === 0) {
      this.#state = S.CLOSING;
      this.#maybeFinish();
      return;
    }
    if (this.#leavingSince === 0) this.#leavingSince = this.#rt.now();
  }

  // ---- multiplexed path ----

  #feedMux(buf: Uint8Array, start: number, end: number): number {
    const fifo = this.#fifo;
    const parser = this.#parser;
    let pos = start;
    this.#batchUse = null;
    this.#sent = 0;
    this.#gate?.begin();
    while (pos < end && this.#state === S.MUX && fifo.length < CLIENT_MAX_INFLIGHT) {
      const next = this.#frame(buf, pos, end);
      if (next === BROKEN) return end;
      if (next === INCOMPLETE) break;
      if (parser.argc > 0 && !this.#muxCommand(buf, pos, next)) break;
      pos = next;
      const use = this.#batchUse as LinkUse | null; // set by #muxCommand()
      if (use !== null && use.link.writePending > NODE_OUTPUT_HIGH_WATER) {
        // The node is not taking bytes as fast as this client sends them.
        this.#waitForNode(use.link);
        break;
      }
    }
    this.#batchUse = null;
    this.#gate?.flush(this.#now);
    if (this.#sent > 0 && this.role !== "split") { // a split port counts per command
      if (this.role === "readers") {
        this.#rt.counters.readerCommands += this.#sent;
        this.#rt.armHedge();
      } else this.#rt.counters.writerCommands += this.#sent;
    }
    if (
      this.#state === S.MUX &&
      (fifo.length >= CLIENT_MAX_INFLIGHT || this.#io.pending > CLIENT_OUTPUT_HIGH_WATER)
    ) {
      this.#rt.counters.backpressurePauses++;
      this.#io.pause();
    }
    return pos;
  }

  /**
   * Frames the command at `pos`: where it ends, INCOMPLETE, or BROKEN after
   * a protocol error was answered (the session is closing).
   */
  #frame(buf: Uint8Array, pos: number, end: number): number {
    let next: number;
    try {
      next = this.#parser.parse(buf, pos, end);
    } catch (err) {
      this.#protocolError(err);
      return BROKEN;
    }
    if (next === INCOMPLETE && end - pos > MAX_QUERY_BUFFER) {
      this.#protocolError(new RespProtocolError("Protocol error: too big query"));
      return BROKEN;
    }
    return next;
  }

  /**
   * Handles one parsed command on the multiplexed path; false when it was
   * not consumed (it is handled again once the session pinned or waited).
   */
  #muxCommand(buf: Uint8Array, start: number, end: number): boolean {
    const parser = this.#parser;
    const route = routeOf(parser, buf);
    this.#rec.tag(this.#parser, buf);
    if (
      !this.#authed && route !== Route.AUTH && route !== Route.QUIT && route !== Route.HELLO &&
      route !== Route.RESET
    ) {
      this.#local(Replies.noAuth);
      return true;
    }
    if (this.#router !== null && !SESSION_ROUTES.has(route)) {
      return this.#routed(route, buf, start, end);
    }
    if (
      route === Route.WRITE && parser.argc >= 2 && isClientCommand(parser, buf) &&
      this.#introspection(buf, start, end)
    ) {
      return true;
    }
    switch (route) {
      case Route.READ:
      case Route.WRITE:
      case Route.PRIMARY:
      case Route.SCRIPT_READ:
      case Route.SCRIPT_WRITE:
      case Route.SCAN:
      case Route.BROADCAST:
        if (this.role === "split") this.#splitForward(route, buf, start, end);
        else this.#forwardByRoute(route, buf, start, end);
        return true;
      case Route.SYNC:
      case Route.REPLCONF:
        if (!this.#tWriter) {
          this.#local(errorReply(ErrorText.replicationOnReaders(this.#commandName(buf))));
          return true;
        }
        return this.#toPinned();
      case Route.PIN:
        return this.#toPinned();
      case Route.QUIT:
        this.#local(Replies.ok);
        this.#state = S.CLOSING;
        this.#maybeFinish();
        return true;
      case Route.AUTH:
        if (this.#rt.settings.clientPassword === null) return this.#login(buf, start, end, null);
        this.#local(this.#auth(buf, start, end));
        return true;
      case Route.SELECT:
        if (this.#router !== null) {
          // A router port's database: its first shard's primary says whether it exists.
          this.#tRt = this.#router.firstShard;
          this.#tWriter = true;
          this.#select(buf, start, end);
          this.#tRt = this.#rt;
          this.#tWriter = this.role !== "readers";
        } else this.#select(buf, start, end);
        return true;
      case Route.HELLO:
        // The commands after it may go to connections of another protocol:
        // those before it run first.
        if (!this.#quietFifo()) return false;
        if (this.#rt.settings.clientPassword === null) {
          const req = parseHello(this.#args(buf, start, end));
          if (req.ok && req.password !== null) return this.#login(buf, start, end, req);
        }
        this.#local(this.#hello(buf, start, end));
        return true;
      case Route.RESET:
        if (!this.#quietFifo()) return false;
        this.#reset();
        this.#local(Replies.reset);
        return true;
      case Route.CLIENT_SETNAME:
      case Route.CLIENT_GETNAME:
      case Route.CLIENT_SETINFO:
        this.#local(this.#clientState(route, buf, start, end));
        return true;
      default:
        this.#local(errorReply(ErrorText.refused(this.#commandName(buf))));
        return true;
    }
  }

  /** Appends a slot for a command and sends it (kept for a replay when that is safe). */
  #forward(
    route: Route,
    flags: number,
    buf: Uint8Array,
    start: number,
    end: number,
    aux = 0,
  ): Slot {
    const parser = this.#parser;
    const slot = this.#slot(route);
    slot.flags = this.#tWriter ? flags | SLOT_WRITER : flags;
    slot.aux = aux;
    slot.rt = this.#tRt;
    this.#fifo.push(slot);
    let src = buf, s = start, e = end;
    if (parser.inline) {
      src = encodeCommand(parser.inlineArgs(buf, start, end));
      s = 0;
      e = src.length;
    }
    if (replayable(slot) || e - s <= KEEP_WRITE_FOR_RETRY) {
      this.#keep(slot, src, s, e);
      src = slot.cmd!;
      s = slot.cmdStart;
      e = slot.cmdEnd;
    }
    this.#sent++;
    this.#send(slot, src, s, e);
    return slot;
  }

  /**
   * A slot for a new command, reused from this session's free list. A slot
   * is released only once it left both the FIFO and its node connection's
   * queue, so nothing else holds it; slots of a closed session are never
   * reused (late replies only find the session closed).
   */
  #slot(route: Route): Slot {
    let s = this.#free.pop();
    if (s === undefined) s = new Slot(this, route);
    else s.route = route;
    this.#rec.stamp(s, this.#now);
    s.rt = null;
    return s;
  }

  /** A client command's reply is final: counted, and traced when sampled. */
  #finished(slot: Slot, reply: Uint8Array, start: number, end: number): void {
    this.#rec.finished(slot, slot.rt ?? this.#rt, this.db, reply, start, end);
  }

  #release(s: Slot): void {
    if (this.#free.length >= CLIENT_MAX_INFLIGHT || (s.flags & SLOT_KEEP) !== 0) return;
    s.reply = null;
    s.done = false;
    s.cmd = null;
    s.attempts = 0;
    s.flags = 0;
    s.aux = 0;
    s.group = null;
    this.#free.push(s);
  }

  /** Copies a command into the arena so it can be replayed after a failure. */
  #keep(slot: Slot, src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (this.#arenaPos + n > this.#arena.length) {
      // Slots still pointing at the old arena keep it alive until they finish.
      this.#arena = new Uint8Array(Math.max(ARENA_SIZE, n));
      this.#arenaPos = 0;
    }
    copyBytes(this.#arena, this.#arenaPos, src, start, end);
    slot.cmd = this.#arena;
    slot.cmdStart = this.#arenaPos;
    slot.cmdEnd = this.#arenaPos += n;
  }

  /** The node a new command (or a retry, `excludeId` set) goes to. */
  #target(slot: Slot, excludeId: string): NodeHandle | null {
    const rt = slot.rt ?? this.#rt;
    if (
      slot.route === Route.PRIMARY ||
      (slot.flags & (SLOT_NOSCRIPT_RETRIED | SLOT_WRITER)) !== 0
    ) {
      return rt.writer();
    }
    return rt.pickReader(excludeId);
  }

  /**
   * Sends a command. Within one batch of input (one pipeline) commands stay
   * on one node connection, so their replies come back in order and are
   * written straight through; retries (excludeId set) pick afresh. False
   * when no node can take it.
   */
  #dispatch(slot: Slot, src: Uint8Array, start: number, end: number, excludeId: string): boolean {
    let use = this.#batchUse;
    if (
      use === null || use.link.closed || excludeId !== "" || slot.route === Route.PRIMARY ||
      this.#batchRt !== slot.rt || this.#batchWriter !== ((slot.flags & SLOT_WRITER) !== 0)
    ) {
      const node = this.#target(slot, excludeId);
      if (node === null) return false;
      use = this.#use(node, slot.route === Route.SELECT ? slot.aux : this.db);
      if (excludeId === "" && slot.route !== Route.PRIMARY) {
        this.#batchUse = use;
        this.#batchRt = slot.rt;
        this.#batchWriter = (slot.flags & SLOT_WRITER) !== 0;
      }
    }
    const srt = slot.rt ?? this.#rt;
    const gate = srt.gate;
    if (gate?.on && !this.#gates().send(gate, slot, use, use.node === srt.writer(), this.#now)) {
      return true;
    }
    this.#sendOn(use, slot, src, start, end, this.#now);
    if (slot.trace !== null) traceSend(slot, excludeId === "" ? "send" : "retry", this.#now);
    return true;
  }

  /**
   * The connection of `node`'s pool (the session's protocol, database `db`)
   * for the session's next command there: the one that carries its
   * unanswered commands on that node, so Redis runs them in the order sent;
   * only with none in flight there does it pick afresh (the balancer of the
   * node's pool).
   */
  #use(node: NodeHandle, db: number, user: Credential | null = this.user): LinkUse {
    const uses = this.#uses;
    const proto = this.proto;
    let free = -1;
    for (let i = 0; i < uses.length; i++) {
      const u = uses[i];
      if (u.node === node && u.proto === proto && u.db === db && u.user === user) {
        if (u.owed === 0 || u.link.closed) u.link = node.connection(proto, db, user);
        return u;
      }
      if (free < 0 && u.owed === 0) free = i;
    }
    const link = node.connection(proto, db, user);
    if (free < 0) {
      const u: LinkUse = { node, proto, db, user, link, owed: 0 };
      uses.push(u);
      return u;
    }
    // An entry nothing is owed on is taken over (a router session touches many nodes).
    const u = uses[free];
    u.node = node;
    u.proto = proto;
    u.db = db;
    u.user = user;
    u.link = link;
    return u;
  }

  /** Sends `slot` on `use`'s connection and counts it owed there until answered. */
  #sendOn(
    use: LinkUse,
    slot: Slot,
    src: Uint8Array,
    start: number,
    end: number,
    now: number,
  ): void {
    use.link.send(slot, src, start, end, now);
    use.owed++;
    slot.use = use;
  }

  /** Sends a new command; answers it with the shard's error when no node can take it. */
  #send(slot: Slot, src: Uint8Array, start: number, end: number): void {
    if (this.#heldWrites.length > 0 && this.#holdable(slot)) {
      // Behind a held write: it waits too, so the primary runs them in order.
      return this.#hold(slot, this.#heldFrom);
    }
    if (this.#dispatch(slot, src, start, end, "")) return;
    if (this.#holdable(slot)) return this.#hold(slot, ""); // no primary known yet
    const rt = slot.rt ?? this.#rt;
    rt.counters.failedCommands++;
    const toWriter = slot.route === Route.PRIMARY || (slot.flags & SLOT_WRITER) !== 0;
    this.#fill(slot, errorReply(rt.noNodeError(toWriter ? "writer" : "readers")));
  }

  /** A reply for `slot` arrived from its node. */
  onReply(slot: Slot, buf: Uint8Array, start: number, end: number): void {
    answered(slot);
    if (
      (slot.flags & (SLOT_OFFSET | SLOT_STALE)) !== 0 &&
      this.#gates().reply((slot.rt ?? this.#rt).gate!, slot, this.#state === S.CLOSED)
    ) {
      return;
    }
    if (this.#state === S.CLOSED) return;
    let main = slot; // the slot in the FIFO (a hedge's original)
    if ((slot.flags & (SLOT_HEDGE | SLOT_HEDGED)) !== 0) {
      slot.flags |= SLOT_SETTLED;
      main = (slot.flags & SLOT_HEDGE) !== 0 ? slot.peer! : slot;
      if (main.done) {
        // The other copy answered first: this reply is dropped.
        attemptEnded(main.trace, slot.nodeId, "lost");
        return;
      }
      const other = main === slot ? main.peer : main;
      if (other !== null && (other.flags & SLOT_SETTLED) === 0) {
        // "Not now" from one node: the other copy may still answer.
        if (unavailableReply(buf, start, end) !== null || startsWith(buf, start, end, NOSCRIPT)) {
          attemptEnded(main.trace, slot.nodeId, "error");
          return;
        }
        if (main !== slot) {
          const rt = main.rt ?? this.#rt;
          rt.counters.hedgeWins++;
          rt.commandStats?.recordHedge(true);
          attemptEnded(main.trace, slot.nodeId, "won");
        }
      } else unpair(main);
    }
    if (main.trace !== null) {
      attemptEnded(main.trace, slot.nodeId, buf[start] === MINUS ? "error" : "ok");
    }
    if ((main.flags & SLOT_CLIENT_LIST) !== 0 && buf[start] !== MINUS) {
      const text = replyText(buf, start, end);
      const rt = main.rt ?? this.#rt;
      if (text !== null) {
        return this.#fill(main, textReply(this.proto, rt.clientList(slot.nodeId, text)));
      }
    }
    if ((main.flags & SLOT_LOGIN) !== 0) {
      return this.#fill(main, this.#loggedIn(main, buf[start] !== MINUS, buf, start, end));
    }
    if (buf[start] === MINUS) {
      if (
        replayable(main) && main.cmd !== null && main.attempts <= this.#rt.settings.retries &&
        unavailableReply(buf, start, end) !== null && this.#retry(main)
      ) {
        return;
      }
      if (
        (main.flags & (SLOT_NOSCRIPT_RETRY | SLOT_NOSCRIPT_RETRIED)) === SLOT_NOSCRIPT_RETRY &&
        main.cmd !== null && startsWith(buf, start, end, NOSCRIPT) && this.#toPrimary(main)
      ) {
        return;
      }
      // The node we took for the primary was demoted: the write did not
      // run. It waits for the new primary (in order with the session's others).
      if (startsWith(buf, start, end, READONLY) && this.#holdable(main)) {
        return this.#hold(main, slot.nodeId);
      }
    } else if (main.route === Route.SELECT) {
      this.db = main.aux;
    } else if ((main.flags & SLOT_SCAN) !== 0) {
      const out = rewriteScanReply(buf, start, end, (main.rt ?? this.#rt).scanTag(slot.nodeId));
      if (out !== null) return this.#fill(main, out);
    }
    if (main.group !== null) return this.#fill(main, slabCopy(buf, start, end));
    this.#finished(main, buf, start, end);
    const fifo = this.#fifo;
    if (fifo.peek() === main) {
      fifo.shift();
      this.#io.write(buf, start, end);
      main.done = true;
      this.#release(main);
      this.#flushReady();
    } else {
      main.reply = slabCopy(buf, start, end);
      main.done = true;
    }
  }

  /**
   * A read has waited past the hedge delay (the shard's hedge check): send
   * a copy to another serving node, if the budget allows. The first reply
   * wins; the other is dropped when it comes. True for a read that could be
   * hedged (its node is then avoided until it answers).
   */
  hedge(slot: Slot, now: number, stalled = false): boolean {
    const r = slot.route;
    if (
      this.#state === S.CLOSED || slot.cmd === null || slot.done ||
      (r !== Route.READ && r !== Route.SCAN && r !== Route.SCRIPT_READ) ||
      (slot.flags & (SLOT_BOUND | SLOT_WRITER)) !== 0
    ) {
      return false;
    }
    const rt = slot.rt ?? this.#rt;
    const node = rt.pickReader(slot.nodeId);
    if (
      node !== null && (slot.flags & SLOT_GATED) !== 0 &&
      !this.#gates().hedgeOk(rt.gate!, slot, node.id)
    ) {
      return true;
    }
    if (node === null || node.id === slot.nodeId || !rt.takeHedge(stalled)) return true;
    const copy = new Slot(this, slot.route);
    copy.flags = SLOT_HEDGE | SLOT_KEEP | (slot.flags & SLOT_SCAN);
    copy.peer = slot;
    copy.aux = slot.aux;
    copy.rt = slot.rt;
    slot.peer = copy;
    slot.flags |= SLOT_HEDGED | SLOT_KEEP;
    rt.counters.hedges++;
    rt.commandStats?.recordHedge(false);
    this.#sendOn(this.#use(node, this.db), copy, slot.cmd, slot.cmdStart, slot.cmdEnd, now);
    slot.trace?.push({
      kind: "hedge",
      node: copy.nodeId,
      time: performance.timeOrigin + now,
      result: "",
    });
    return true;
  }

  /** The node connection of `slot` failed before its reply. */
  onFail(
    failed: Slot,
    reason: FailReason,
    nodeId: string,
    sent: boolean,
    detail: string | null,
  ): void {
    answered(failed);
    if ((failed.flags & SLOT_OFFSET) !== 0) {
      this.#gates().reply((failed.rt ?? this.#rt).gate!, failed, true);
    }
    if (this.#state === S.CLOSED) return;
    let slot = failed;
    if (failed.done) return; // a hedged read's late loser
    if ((failed.flags & (SLOT_HEDGE | SLOT_HEDGED)) !== 0) {
      failed.flags |= SLOT_SETTLED;
      slot = (failed.flags & SLOT_HEDGE) !== 0 ? failed.peer! : failed;
      if (slot.done) return;
      const other = slot === failed ? slot.peer : slot;
      attemptEnded(slot.trace, nodeId, reason);
      if (other !== null && (other.flags & SLOT_SETTLED) === 0) return; // the other copy may answer
      unpair(slot);
    } else attemptEnded(slot.trace, nodeId, reason);
    const rt = slot.rt ?? this.#rt;
    const bound = (slot.flags & SLOT_BOUND) !== 0;
    // A write that never reached the primary (it could not be connected to)
    // waits for a primary that can take it.
    if (!sent && reason === "connect failed" && this.#holdable(slot)) {
      return this.#hold(slot, nodeId);
    }
    if (
      slot.cmd !== null && !bound && reason !== "handshake refused" &&
      (replayable(slot) || !sent) && slot.attempts <= rt.settings.retries && this.#retry(slot)
    ) {
      return;
    }
    if ((slot.flags & SLOT_LOGIN) !== 0) {
      // The node refused the client's credentials: its own words (-WRONGPASS …).
      const words = reason === "handshake refused" && detail !== null
        ? detail
        : ErrorText.writeLost(nodeId, reason);
      this.#pendingLogin = null;
      return this.#fill(slot, errorReply(words));
    }
    rt.counters.failedCommands++;
    let msg: string;
    if (reason === "handshake refused" && this.user !== null && detail !== null) {
      // The node no longer takes this client's credentials (user deleted,
      // password changed): its words, and the session ends, as Redis ends
      // a deleted user's connections.
      this.#fill(slot, errorReply(detail));
      this.#state = S.CLOSING;
      return this.#maybeFinish();
    }
    if (reason === "handshake refused") {
      msg = slot.route === Route.SELECT && detail !== null
        ? detail
        : ErrorText.setupRefused(nodeId, detail ?? "");
    } else if (bound) msg = ErrorText.scanLost(nodeId, reason);
    else if (replayable(slot)) msg = ErrorText.readFailed(nodeId, reason, slot.attempts);
    else msg = ErrorText.writeLost(nodeId, reason);
    this.#fill(slot, errorReply(msg));
  }

  /** Whether `slot` is a write to the primary that can wait for a new one (kept, not yet run). */
  #holdable(slot: Slot): boolean {
    return slot.cmd !== null && slot.group === null && toPrimary(slot) &&
      (slot.flags & SLOT_BOUND) === 0 && this.#state !== S.CLOSED;
  }

  /**
   * Holds a write for the shard's next primary: `from` refused it (or
   * could not be reached; "" when none was known). Held writes go out in
   * the order they were sent, once checks name a primary other than `from`,
   * or fail with a clear error past `timeouts.failover`.
   */
  #hold(slot: Slot, from: string): void {
    const rt = slot.rt ?? this.#rt;
    if (this.#heldWrites.length === 0) {
      this.#heldFrom = from;
      this.#heldSince = rt.now();
      this.#heldRt = rt;
      rt.counters.heldWrites++;
      rt.awaitWriter(this);
    } else if (rt !== this.#heldRt) {
      // A router session's writes to another shard: they need not wait for this one.
      if (this.#dispatch(slot, slot.cmd!, slot.cmdStart, slot.cmdEnd, "")) return;
    }
    this.#heldWrites.push(slot);
  }

  /** The shard named a primary (see {@link SessionRuntime.awaitWriter}): send what was held. */
  writerChanged(): void {
    const rt = this.#heldRt;
    if (rt === null || this.#heldWrites.length === 0 || this.#state === S.CLOSED) return;
    const w = rt.writer();
    if (w === null || w.id === this.#heldFrom) return rt.awaitWriter(this); // not yet
    const held = this.#heldWrites;
    this.#heldWrites = [];
    this.#heldRt = null;
    this.#now = rt.now();
    this.#batchUse = null;
    for (const slot of held) {
      if (!this.#dispatch(slot, slot.cmd!, slot.cmdStart, slot.cmdEnd, "")) {
        this.#hold(slot, "");
      }
    }
    this.#batchUse = null;
    this.#gate?.flush(this.#now);
  }

  /** Held past `timeouts.failover`: each held write gets a clear error. */
  holdExpired(): void {
    const rt = this.#heldRt;
    const held = this.#heldWrites;
    this.#heldWrites = [];
    this.#heldRt = null;
    if (rt === null || this.#state === S.CLOSED) return;
    const waited = rt.now() - this.#heldSince;
    for (const slot of held) {
      rt.counters.failedCommands++;
      this.#fill(slot, errorReply(ErrorText.heldTooLong(rt.name, Math.round(waited))));
    }
  }

  /** When the oldest held write was held (data-path ms), or -1 when none is. */
  get heldSince(): number {
    return this.#heldWrites.length === 0 ? -1 : this.#heldSince;
  }

  /** Re-sends `slot` to another node; false when there is none. */
  #retry(slot: Slot): boolean {
    this.#now = this.#rt.now();
    if (!this.#dispatch(slot, slot.cmd!, slot.cmdStart, slot.cmdEnd, slot.nodeId)) return false;
    (slot.rt ?? this.#rt).counters.retries++;
    return true;
  }

  /** Re-sends a script call that met NOSCRIPT on a replica to the primary, once. */
  #toPrimary(slot: Slot): boolean {
    const primary = (slot.rt ?? this.#rt).writer();
    if (primary === null || primary.id === slot.nodeId) return false;
    slot.flags |= SLOT_NOSCRIPT_RETRIED; // #target() now picks the primary
    return this.#retry(slot);
  }

  /** Completes `slot` with bytes owned by us (errors, local replies). */
  #fill(slot: Slot, reply: Uint8Array): void {
    slot.done = true;
    const group = slot.group;
    if (group !== null) {
      // One part of a fan-out: the client's slot is filled once every part is in.
      // Nothing refers to the part any more (a hedged one is kept: its copy may still answer).
      if (group.settle(slot.aux, reply)) this.#fill(group.slot, this.#mergeParts(group));
      this.#release(slot);
      return;
    }
    slot.reply = reply;
    this.#finished(slot, reply, 0, reply.length);
    if (this.#fifo.peek() === slot) this.#flushReady();
  }

  /** Queues a reply produced locally, in order. */
  #local(reply: Uint8Array): void {
    const slot = this.#slot(Route.WRITE);
    slot.reply = reply;
    slot.done = true;
    this.#finished(slot, reply, 0, reply.length);
    this.#fifo.push(slot);
    if (this.#fifo.length === 1) this.#flushReady();
  }

  /** Writes every finished slot at the head of the FIFO. */
  #flushReady(): void {
    const fifo = this.#fifo;
    for (let s = fifo.peek(); s !== undefined && s.done; s = fifo.peek()) {
      fifo.shift();
      if (s.reply !== null) this.#io.write(s.reply);
      this.#release(s);
    }
    if (fifo.length > 0) return this.#maybeResume();
    if (this.#state === S.MUX_WAIT) this.#state = S.MUX;
    else if (this.#state === S.CLOSING) return this.#maybeFinish();
    this.#maybeResume();
  }

  /** Resumes input when nothing holds it any more. */
  #maybeResume(): void {
    if (!this.#io.paused || this.#nodeWait) return;
    const state = this.#state;
    if (state === S.MUX) {
      if (
        this.#fifo.length >= CLIENT_MAX_INFLIGHT / 2 ||
        this.#io.pending > CLIENT_OUTPUT_HIGH_WATER
      ) {
        return;
      }
    } else if (state !== S.PINNED && state !== S.RAW) return;
    this.#io.resume();
  }

  #maybeFinish(): void {
    if (this.#state !== S.CLOSING || this.#fifo.length > 0) return;
    if (this.#pin !== null && this.#pin.owed > 0 && !this.#pin.uncounted) return;
    this.#end(true);
  }

  /**
   * The session ends: its pinned connection closes, then the client's
   * socket, gracefully (last replies written, half-closed) or at once.
   */
  #end(graceful: boolean): void {
    this.#state = S.CLOSED;
    const p = this.#pinned;
    this.#pinned = null;
    this.#pin = null;
    p?.close(null);
    if (graceful) this.#io.finish();
    else this.#io.close();
    this.#onClose(this);
  }

  #protocolError(err: unknown): void {
    this.#rt.counters.protocolErrors++;
    const msg = err instanceof RespProtocolError ? err.message : "Protocol error";
    if (this.#pinned !== null && this.#pin !== null) {
      // Replies the node still owes are not waited for: the client broke the stream.
      this.#pin = null;
    }
    this.#local(errorReply(ErrorText.protocol(msg)));
    this.#state = S.CLOSING;
    this.#maybeFinish();
  }

  /** Stops reading this client until `conn` has written out its backlog. */
  #waitForNode(conn: { whenDrained(fn: () => void): void }): void {
    this.#rt.counters.backpressurePauses++;
    this.#nodeWait = true;
    this.#io.pause();
    conn.whenDrained(() => {
      this.#nodeWait = false;
      this.#maybeResume();
    });
  }

  /** Pauses the client while its pinned connection has too much unsent. */
  #watchNode(): void {
    const p = this.#pinned;
    if (p !== null && p.writePending > NODE_OUTPUT_HIGH_WATER) this.#waitForNode(p);
  }

  // ---- local state ----

  /** The command's name as the client wrote it (for errors that quote it). */
  #commandName(buf: Uint8Array): string {
    const p = this.#parser;
    return p.inline
      ? td.decode(p.inlineArgs(buf, p.start, p.end)[0])
      : td.decode(buf.subarray(p.argStart[0], p.argEnd[0]));
  }

  /** The parsed command's arguments, name included (allocates; not for the hot path). */
  #args(buf: Uint8Array, start: number, end: number): Uint8Array[] {
    const p = this.#parser;
    return p.inline ? p.inlineArgs(buf, start, end) : p.args(buf);
  }

  #auth(buf: Uint8Array, start: number, end: number): Uint8Array {
    const p = this.#parser;
    const want = this.#rt.settings.clientPassword;
    if (p.argc < 2 || p.argc > 3) return Replies.authArity;
    if (want === null) return Replies.authNotConfigured;
    const args = this.#args(buf, start, end);
    if (td.decode(args[args.length - 1]) !== want) return Replies.wrongPass; // AUTH [user] password
    this.#authed = true;
    return Replies.ok;
  }

  /**
   * HELLO: the session takes the protocol and name (the node connections
   * it uses follow), AUTH is checked against the listener's password, and
   * the reply is a node's HELLO reply with the session's own id.
   */
  #hello(buf: Uint8Array, start: number, end: number): Uint8Array {
    const req = parseHello(this.#args(buf, start, end));
    if (!req.ok) return req.reply;
    if (req.password !== null) {
      const want = this.#rt.settings.clientPassword;
      if (want !== null && req.password !== want) return Replies.wrongPass;
      this.#authed = true;
    }
    if (!this.#authed) return errorReply(ErrorText.helloNoAuth);
    if (req.proto !== null && req.proto !== this.proto) {
      this.proto = req.proto;
      this.#batchUse = null; // the rest of this batch goes to connections of the new protocol
    }
    if (req.name !== null) this.name = req.name;
    return this.#helloReply(this.#rt);
  }

  /** HELLO's reply: the nodes' fields of shard `rt`, the session's protocol and id. */
  #helloReply(rt: SessionRuntime): Uint8Array {
    const role = this.role !== "readers" || !rt.hasReplicas() ? "master" : "replica";
    return helloReply(this.proto, this.id, rt.server(), role);
  }

  /**
   * A client's own AUTH (or HELLO with AUTH) without a listener password:
   * the node decides. The credentials set up a connection of the user's
   * pool, on which the AUTH itself is sent; its reply (or the node's
   * refusal, e.g. `-WRONGPASS`) is the client's, and nothing more is read
   * until then: what follows goes to that user's connections. False when
   * the command waits for earlier replies first.
   */
  #login(
    buf: Uint8Array,
    start: number,
    end: number,
    hello: HelloRequest & { ok: true } | null,
  ): boolean {
    if (!this.#quietFifo()) return false;
    const args = this.#args(buf, start, end);
    let user: string, password: string;
    if (hello !== null) {
      user = hello.user ?? "default";
      password = hello.password!;
    } else if (args.length === 2 || args.length === 3) {
      user = args.length === 3 ? td.decode(args[1]) : "default";
      password = td.decode(args[args.length - 1]);
    } else {
      this.#local(Replies.authArity);
      return true;
    }
    const cred = Credential.of(user, password);
    const rt = this.#router !== null ? this.#router.firstShard : this.#rt;
    const toWriter = this.#router !== null || this.role !== "readers";
    const node = toWriter ? rt.writer() : rt.pickReader("");
    if (node === null) {
      this.#local(errorReply(rt.noNodeError(toWriter ? "writer" : "readers")));
      return true;
    }
    const slot = this.#slot(Route.WRITE);
    slot.flags = SLOT_LOGIN;
    slot.rt = rt;
    this.#pendingLogin = { cred, hello };
    this.#fifo.push(slot);
    this.#sendOn(this.#use(node, this.db, cred), slot, cred.frame, 0, cred.frame.length, this.#now);
    if (!slot.done) {
      this.#state = S.MUX_WAIT;
      this.#io.pause();
    }
    return true;
  }

  /** The node took (or refused) a login: the session's user, and the client's reply. */
  #loggedIn(slot: Slot, ok: boolean, buf: Uint8Array, start: number, end: number): Uint8Array {
    const login = this.#pendingLogin!;
    this.#pendingLogin = null;
    if (!ok) return slabCopy(buf, start, end);
    this.user = login.cred;
    this.#authed = true;
    this.#batchUse = null;
    const h = login.hello;
    if (h === null) return slabCopy(buf, start, end);
    if (h.proto !== null) this.proto = h.proto;
    if (h.name !== null) this.name = h.name;
    return this.#helloReply(slot.rt ?? this.#rt);
  }

  /**
   * CLIENT LIST / INFO / KILL as a client sees them through shardgate
   * (`_clients.ts`): true when handled here.
   */
  #introspection(buf: Uint8Array, start: number, end: number): boolean {
    const name = commandNameOf(this.#parser, buf);
    if (name === "client|info") {
      this.#local(textReply(this.proto, clientLine(this, this.#rt.now()) + "\n"));
      return true;
    }
    if (name === "client|list") {
      const args = this.#args(buf, start, end);
      if (args.length > 2) return false; // TYPE / ID filters: the node's own answer
      this.#forward(Route.WRITE, SLOT_CLIENT_LIST, buf, start, end);
      return true;
    }
    if (name === "client|kill") {
      const args = this.#args(buf, start, end).slice(2).map((a) => td.decode(a));
      const matches = killFilter(args);
      if (matches === null) return false;
      const victims = [...this.#rt.clientSessions()].filter(matches);
      if (victims.length === 0) return false; // another host's connection: the node's business
      for (const v of victims) if (v !== this) v.close();
      this.#local(args.length === 1 ? Replies.ok : encodeInteger(victims.length));
      if (victims.includes(this)) {
        this.#state = S.CLOSING;
        this.#maybeFinish();
      }
      return true;
    }
    return false;
  }

  /** RESET: back to a new connection's state. */
  #reset(): void {
    this.user = null;
    this.proto = 2;
    this.db = 0;
    this.name = this.libName = this.libVer = null;
    this.#authed = this.#rt.settings.clientPassword === null;
    this.#batchUse = null;
  }

  /** CLIENT SETNAME / GETNAME / SETINFO, kept by the session. */
  #clientState(route: Route, buf: Uint8Array, start: number, end: number): Uint8Array {
    if (route === Route.CLIENT_GETNAME) return bulkOrNull(this.proto, this.name);
    const args = this.#args(buf, start, end);
    if (route === Route.CLIENT_SETNAME) {
      if (!validAttribute(args[2])) return errorReply(ErrorText.badClientName);
      this.name = args[2].length === 0 ? null : td.decode(args[2]);
      return Replies.ok;
    }
    if (!knowsSetInfo(this.#rt.server().version)) {
      // The node would not know it: its own error, as a client sees directly.
      return errorReply(ErrorText.unknownSubcommand(td.decode(args[1]), "CLIENT"));
    }
    const info = parseSetInfo(args[2], args[3]);
    if (!info.ok) return info.reply;
    if (info.attr === "lib-name") this.libName = info.value;
    else this.libVer = info.value;
    return Replies.ok;
  }

  /**
   * SELECT n: sent to a connection of database n (whose setup selects it),
   * and nothing more is read until its reply says whether the session moves
   * there: the node decides which indexes exist. An index that is not a
   * plain number goes to the session's own database's connection, whose node
   * refuses it in its own words and stays where it is.
   */
  #select(buf: Uint8Array, start: number, end: number): void {
    const db = dbIndex(this.#args(buf, start, end)[1]);
    if (db === this.db) return this.#local(Replies.ok);
    this.#batchUse = null;
    if (db === null) return void this.#forward(Route.WRITE, 0, buf, start, end);
    const slot = this.#forward(Route.SELECT, 0, buf, start, end, db);
    this.#batchUse = null;
    if (!slot.done) {
      this.#state = S.MUX_WAIT;
      this.#io.pause();
    }
  }

  /** SCAN family on the readers port: a cursor goes back to the node that made it. */
  #scan(buf: Uint8Array, start: number, end: number): void {
    const args = this.#args(buf, start, end);
    const at = args[0].length === 4 ? 1 : 2; // SCAN cursor; HSCAN/SSCAN/ZSCAN key cursor
    if (args.length <= at) return void this.#forward(Route.READ, 0, buf, start, end);
    const decoded = decodeCursor(td.decode(args[at]));
    if (decoded === null) return void this.#forward(Route.READ, 0, buf, start, end);
    if (decoded.tag === 0) return void this.#forward(Route.SCAN, SLOT_SCAN, buf, start, end);
    const target = this.#tRt.cursorNode(decoded.tag);
    if (target === null) return this.#local(errorReply(ErrorText.invalidCursor));
    if (target.node === null) {
      this.#tRt.counters.failedCommands++;
      return this.#local(errorReply(ErrorText.scanRestart(target.id)));
    }
    args[at] = te.encode(decoded.cursor);
    const frame = encodeCommand(args);
    const slot = this.#slot(Route.SCAN);
    slot.flags = SLOT_SCAN | SLOT_BOUND;
    slot.rt = this.#tRt;
    this.#fifo.push(slot);
    this.#sent++;
    this.#sendOn(this.#use(target.node, this.db), slot, frame, 0, frame.length, this.#now);
    if (slot.trace !== null) traceSend(slot, "send", this.#now);
  }

  /** SCRIPT LOAD / FLUSH: to every serving node; the primary's reply (or the first one's). */
  #broadcast(buf: Uint8Array, start: number, end: number): void {
    const rt = this.#tRt;
    const nodes = rt.broadcastNodes();
    if (nodes.length === 0) {
      rt.counters.failedCommands++;
      return this.#local(errorReply(rt.noNodeError(this.role)));
    }
    const frame = this.#frameOf(buf, start, end);
    const primary = rt.writer()?.id;
    const preferred = nodes.findIndex((n) => n.id === primary);
    this.#sent++;
    this.#fanout(
      nodes.map((n) => ({ shard: rt, node: n, toWriter: true, frame })),
      (replies) => preferredReply(replies, preferred, rt.name),
    );
  }

  // ---- read-your-writes (`consistency.ts`) ----

  /** The session's read-your-writes part, made on first use. */
  #gates(): SessionGate {
    return this.#gate ??= new SessionGate(this, this.#router !== null);
  }

  /** A gated read was probed or held: no more input until every reply before it is out. */
  holdInput(): void {
    if (this.#state !== S.MUX) return;
    this.#state = S.MUX_WAIT;
    this.#io.pause();
  }

  /** The gate sends a read it held to `node` (null: no node to send it to). */
  gateRelease(slot: Slot, node: NodeHandle | null): void {
    if (this.#state === S.CLOSED || slot.done) return;
    const rt = slot.rt ?? this.#rt;
    if (node === null) {
      rt.counters.failedCommands++;
      return this.#fill(slot, errorReply(rt.noNodeError("readers")));
    }
    this.#now = rt.now();
    this.#sendOn(this.#use(node, this.db), slot, slot.cmd!, slot.cmdStart, slot.cmdEnd, this.#now);
  }

  // ---- router ports ----

  /**
   * The router's decision for the command at hand: made once, and kept when
   * the command is handled again after a wait or a pin (the router's
   * transaction state must see each command once).
   */
  #decide(route: Route, buf: Uint8Array): KeyVerdict {
    const v = this.#verdict;
    if (v !== 0) {
      this.#verdict = 0;
      return v;
    }
    return this.#router!.decide(this.#parser, buf, route);
  }

  /** Keeps the decision at hand for when the command is handled again. */
  #keepVerdict(verdict: KeyVerdict): void {
    this.#verdict = verdict;
  }

  /** A router port's command on the multiplexed path; false when not consumed. */
  #routed(route: Route, buf: Uint8Array, start: number, end: number): boolean {
    const router = this.#router!;
    const verdict = this.#decide(route, buf);
    switch (verdict) {
      case KeyVerdict.LOCAL:
        this.#local(router.reply!);
        return true;
      case KeyVerdict.HOLD:
        // Answered now (+OK, +QUEUED), sent once the transaction's shard is
        // known; the node's own replies to it are then not the client's.
        this.#held.push(this.#frameOf(buf, start, end));
        this.#local(router.reply!);
        return true;
      case KeyVerdict.DROP_HELD:
      case KeyVerdict.ABORT:
        this.#held = [];
        this.#local(router.reply!);
        return true;
      case KeyVerdict.FANOUT:
        this.#fanout(router.parts, router.merge);
        return true;
    }
    this.#tRt = router.shard!;
    this.#tWriter = router.toWriter;
    const rt = this.#tRt;
    let consumed: boolean;
    if (router.transaction || route === Route.PIN) {
      this.#tWriter = true;
      consumed = this.#toPinned();
      if (!consumed) this.#keepVerdict(verdict);
    } else {
      this.#forwardByRoute(route, buf, start, end);
      consumed = true;
      if (this.#tWriter) rt.counters.writerCommands++;
      else {
        rt.counters.readerCommands++;
        rt.armHedge();
      }
    }
    this.#tRt = this.#rt;
    this.#tWriter = this.role !== "readers";
    return consumed;
  }

  /** A split port's command: reads to the replicas, the rest to the primary (`split_routing.ts`). */
  #splitForward(route: Route, buf: Uint8Array, start: number, end: number): void {
    const rt = this.#rt;
    this.#tWriter = !splitReads(route);
    this.#forwardByRoute(route, buf, start, end);
    if (this.#tWriter) rt.counters.writerCommands++;
    else {
      rt.counters.readerCommands++;
      rt.armHedge();
    }
    this.#tWriter = true;
  }

  /**
   * Sends a command that goes to a node on the multiplexed path, by its
   * route, to the target shard ({@link #tRt}) and port ({@link #tWriter}).
   */
  #forwardByRoute(route: Route, buf: Uint8Array, start: number, end: number): void {
    switch (route) {
      case Route.SCRIPT_READ:
      case Route.SCRIPT_WRITE:
        this.#forward(route, this.#tWriter ? 0 : SLOT_NOSCRIPT_RETRY, buf, start, end);
        return;
      case Route.SCAN:
        if (!this.#tWriter) this.#scan(buf, start, end);
        else this.#forward(Route.READ, 0, buf, start, end);
        return;
      case Route.BROADCAST:
        this.#broadcast(buf, start, end);
        return;
      default:
        this.#forward(route, 0, buf, start, end);
    }
  }

  /**
   * A router port's command while pinned: CONTINUE when it goes on the
   * pinned connection (the pinned path handles it), else CONSUMED (answered
   * here) or WAIT (handled again later, after the owed replies or un-pinned).
   */
  #routedPinned(route: Route, buf: Uint8Array): number {
    const router = this.#router!;
    const pin = this.#pin!;
    const verdict = this.#decide(route, buf);
    if (verdict === KeyVerdict.SEND && router.shard === this.#pinRt) return CONTINUE;
    if (
      verdict === KeyVerdict.LOCAL || verdict === KeyVerdict.DROP_HELD ||
      verdict === KeyVerdict.ABORT
    ) {
      if (!this.#quietOrWait()) {
        this.#keepVerdict(verdict);
        return WAIT;
      }
      this.#local(router.reply!);
      if (verdict === KeyVerdict.ABORT && router.discardOnShard) {
        pin.sent(PinKind.DISCARD, [], this.#now, false, null, null, true);
        this.#pinned!.sendRaw(DISCARD, 0, DISCARD.length);
      }
      return CONSUMED;
    }
    // Another shard (or several): only once this connection holds nothing of the session's.
    if (pin.owed > 0) {
      this.#keepVerdict(verdict);
      this.#quietOrWait();
      return WAIT;
    }
    if (pin.idle) {
      this.#unpin();
      this.#parser.reset();
      this.#keepVerdict(verdict);
      return WAIT;
    }
    this.#local(errorReply(ErrorText.pinnedElsewhere(this.#pinRt?.name ?? "")));
    return CONSUMED;
  }

  /** A command's frame, kept (inline commands as multibulk). */
  #frameOf(buf: Uint8Array, start: number, end: number): Uint8Array {
    const p = this.#parser;
    return p.inline ? encodeCommand(p.inlineArgs(buf, start, end)) : buf.slice(start, end);
  }

  /** Sends a command held until the transaction's shard was known (its reply was given already). */
  #sendHeld(frame: Uint8Array): void {
    const held = new RequestParser();
    held.parse(frame, 0, frame.length);
    const kind = PIN_KINDS.get(commandNameOf(held, frame) ?? "") ?? PinKind.OTHER;
    this.#pin!.sent(kind, [], this.#now, false, null, null, true);
    this.#pinned!.sendRaw(frame, 0, frame.length);
  }

  /**
   * One client command as several parts (a router port's split MGET, a
   * load on every shard): each part is a command of its own (retried and
   * hedged like any), and the client gets one merged reply in its place.
   */
  #fanout(parts: readonly FanPart[], merge: (replies: readonly Uint8Array[]) => Uint8Array): void {
    const slot = this.#slot(Route.WRITE);
    this.#fifo.push(slot);
    const group = new PartGroup(slot, parts.length, merge);
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      const route = p.toWriter ? Route.WRITE : Route.READ;
      const part = this.#free.pop() ?? new Slot(this, route);
      part.route = route;
      part.trace = null;
      part.flags = p.toWriter ? SLOT_WRITER : 0;
      part.rt = p.shard;
      part.group = group;
      part.aux = i;
      if (!p.toWriter) {
        part.cmd = p.frame;
        part.cmdStart = 0;
        part.cmdEnd = p.frame.length;
        p.shard.counters.readerCommands++;
        p.shard.armHedge();
      } else p.shard.counters.writerCommands++;
      if (p.node !== null) {
        this.#sendOn(this.#use(p.node, this.db), part, p.frame, 0, p.frame.length, this.#now);
        continue;
      }
      this.#batchUse = null;
      this.#send(part, p.frame, 0, p.frame.length);
    }
    this.#batchUse = null;
  }

  #mergeParts(group: PartGroup): Uint8Array {
    try {
      return group.merge(group.replies);
    } catch (err) {
      // A merge that cannot make sense of the parts answers this client, never ends the process.
      return errorReply(ErrorText.mergeFailed(err instanceof Error ? err.message : String(err)));
    }
  }

  // ---- pinned path ----

  /**
   * Moves to the session's own connection for the command at hand: at once
   * when no reply is pending, else after the FIFO empties. Returns whether
   * the command was consumed (answered with an error: no node to pin to).
   */
  #toPinned(): boolean {
    this.#parser.reset(); // the command is parsed again in the next state
    if (!this.#quietFifo()) return false;
    const rt = this.#tRt;
    const node = this.#tWriter ? rt.writer() : rt.pickReader("");
    if (node === null) {
      rt.counters.failedCommands++;
      this.#local(errorReply(rt.noNodeError(this.#tWriter ? "writer" : "readers")));
      this.#held = [];
      return true;
    }
    rt.counters.pinnedSessions++;
    this.#pinNode = node.id;
    this.#pinWriter = this.#tWriter;
    this.#pinRt = rt;
    this.#pin = new PinTracker(this.proto);
    this.#pinned = node.openPinned(this, {
      proto: this.proto,
      db: this.db,
      name: this.name,
      user: this.user,
    });
    this.#state = S.PINNED;
    // A router port's transaction: what was held until its shard was known goes first.
    for (const frame of this.#held) this.#sendHeld(frame);
    this.#held = [];
    return false;
  }

  #feedPinned(buf: Uint8Array, start: number, end: number): number {
    const parser = this.#parser;
    let pos = start;
    while (pos < end && this.#state === S.PINNED) {
      const next = this.#frame(buf, pos, end);
      if (next === BROKEN) return end;
      if (next === INCOMPLETE) break;
      if (parser.argc > 0 && !this.#pinnedCommand(buf, pos, next)) break;
      pos = next;
    }
    this.#watchNode();
    return pos;
  }

  /**
   * True when no reply is pending in the FIFO; otherwise stops reading until
   * it empties, and the command at hand is parsed again then (its effect
   * must follow every command before it, on whatever connection they went).
   */
  #quietFifo(): boolean {
    if (this.#fifo.length === 0) return true;
    this.#parser.reset();
    this.#state = S.MUX_WAIT;
    this.#io.pause();
    return false;
  }

  /**
   * True when nothing is owed on the pinned connection, so a reply of the
   * proxy's own can be written in order; otherwise stops reading until then.
   */
  #quietOrWait(): boolean {
    const pin = this.#pin!;
    if (pin.owed === 0 || pin.uncounted) return true;
    this.#parser.reset();
    this.#state = S.PINNED_WAIT;
    this.#io.pause();
    return false;
  }

  /** One command of a pinned session; false when not consumed (waiting, or unpinned). */
  #pinnedCommand(buf: Uint8Array, start: number, end: number): boolean {
    const parser = this.#parser;
    const route = routeOf(parser, buf);
    this.#rec.tag(this.#parser, buf);
    const pin = this.#pin!;
    const conn = this.#pinned!;
    if (
      !this.#authed && route !== Route.AUTH && route !== Route.QUIT && route !== Route.HELLO &&
      route !== Route.RESET
    ) {
      if (!this.#quietOrWait()) return false;
      this.#pinnedLocal(Replies.noAuth);
      return true;
    }
    if (this.#router !== null && !SESSION_ROUTES.has(route)) {
      const handled = this.#routedPinned(route, buf);
      if (handled !== CONTINUE) return handled === CONSUMED;
    }
    let frame: Uint8Array | null = null;
    let kind: PinKind = PinKind.OTHER;
    let arg: string | number | null = null;
    let name: string | null = null;
    let args: readonly string[] = [];
    // Inside MULTI the node queues what the session would answer itself
    // (and refuses, in its own words, what it never runs in a transaction);
    // under MONITOR replies cannot be counted, so only the node can answer
    // in order; a RESP2 subscriber may send only what the node allows it;
    // under CLIENT REPLY OFF/SKIP the node decides what gets no reply.
    // Each way the command goes to the node as it is.
    const pinAnswers = pin.queuing || pin.uncounted || pin.restricted || pin.silencing;
    switch (pinAnswers && ANSWERED_HERE.has(route) ? Route.WRITE : route) {
      case Route.AUTH:
        if (this.#rt.settings.clientPassword === null) {
          // The node checks it on this connection, which keeps that
          // identity: pinned until RESET (which logs it in again as ours).
          kind = PinKind.FOR_LIFE;
          break;
        }
        if (!this.#quietOrWait()) return false;
        this.#pinnedLocal(this.#auth(buf, start, end));
        return true;
      case Route.CLIENT_GETNAME:
      case Route.CLIENT_SETINFO:
        if (!this.#quietOrWait()) return false;
        this.#pinnedLocal(this.#clientState(route, buf, start, end));
        return true;
      case Route.REFUSE:
        if (!this.#quietOrWait()) return false;
        this.#pinnedLocal(errorReply(ErrorText.refused(this.#commandName(buf))));
        return true;
      case Route.SYNC:
      case Route.REPLCONF:
        if (this.role === "readers") {
          if (!this.#quietOrWait()) return false;
          this.#pinnedLocal(errorReply(ErrorText.replicationOnReaders(this.#commandName(buf))));
          return true;
        }
        if (route === Route.SYNC) {
          // The node's answer is a replication stream, not frames: relay bytes from here on.
          if (!this.#quietOrWait()) return false;
          this.#sendPinned(buf, start, end);
          conn.toRaw();
          this.#pin = null;
          this.#state = S.RAW;
          return true;
        }
        kind = PinKind.FOR_LIFE;
        break;
      case Route.HELLO: {
        const req = parseHello(this.#args(buf, start, end));
        const bad = !req.ok || (req.password !== null && this.#wrongPassword(req.password));
        if (bad && pinAnswers) break; // the node refuses it in its own words, in its turn
        if (bad) {
          if (!this.#quietOrWait()) return false;
          this.#pinnedLocal(req.ok ? Replies.wrongPass : req.reply);
          return true;
        }
        if (req.password !== null && this.#rt.settings.clientPassword === null) {
          kind = PinKind.FOR_LIFE; // a client's own AUTH: as AUTH above, the node checks it
          break;
        }
        if (req.password !== null) this.#authed = true;
        frame = encodeCommand(req.forward); // without the listener's AUTH
        kind = PinKind.HELLO;
        arg = req.proto ?? this.proto;
        name = req.name;
        break;
      }
      case Route.SELECT:
        kind = PinKind.SELECT;
        arg = dbIndex(this.#args(buf, start, end)[1]);
        break;
      case Route.CLIENT_SETNAME: {
        const a = this.#args(buf, start, end)[2];
        kind = PinKind.SETNAME;
        name = a.length === 0 ? null : td.decode(a);
        break;
      }
      case Route.RESET:
        kind = PinKind.RESET;
        break;
      default: {
        const cname = commandNameOf(parser, buf) ?? "";
        kind = PIN_KINDS.get(cname) ?? PinKind.OTHER;
        if ((cname === "wait" || cname === "waitaof") && this.#pinWriter && !pin.queuing) {
          // WAIT counts the replicas that have this connection's last write;
          // the session's own writes went down shared connections and were
          // answered before the pin. A write of ours here first (PUBLISH is
          // replicated, and changes no data) makes WAIT count from there.
          pin.sent(PinKind.OTHER, [], this.#now, false, null, null, true);
          conn.sendRaw(WAIT_MARK, 0, WAIT_MARK.length);
        }
        if (kind >= PinKind.SUBSCRIBE && kind <= PinKind.SUNSUBSCRIBE) {
          args = this.#args(buf, start, end).slice(1).map((a) => td.decode(a));
        } else if (kind === PinKind.REPLY) {
          args = this.#args(buf, start, end).slice(2).map((a) => td.decode(a));
        }
      }
    }
    const blocking = route === Route.PIN && kind === PinKind.OTHER;
    pin.sent(kind, args, this.#now, blocking, arg, name, false, this.#rec.pinnedTag(this.#now));
    if (frame !== null) conn.sendRaw(frame, 0, frame.length);
    else this.#sendPinned(buf, start, end);
    // RESET logs the connection out to the default user: it logs in again
    // at once, so the commands after it (and the next session to reuse the
    // connection) run as the node connection's own user.
    if (kind === PinKind.RESET && conn.reauth()) {
      pin.sent(PinKind.OTHER, [], this.#now, false, null, null, true);
    }
    if (this.#applyQuiet(pin) && pin.owed === 0) this.#pinQuiet(pin);
    return true;
  }

  /** Applies what replies-less commands changed once their turn came; true if any. */
  #applyQuiet(pin: PinTracker): boolean {
    let any = false;
    for (let o = pin.takeQuiet(); o !== null; o = pin.takeQuiet()) {
      this.#applyOutcome(o);
      any = true;
    }
    return any;
  }

  /**
   * A reply of the proxy's own on the pinned path: sent as the node would
   * send one, so not under CLIENT REPLY OFF, nor after SKIP.
   */
  #pinnedLocal(reply: Uint8Array): void {
    if (this.#pin!.replies()) this.#local(reply);
  }

  #wrongPassword(password: string): boolean {
    const want = this.#rt.settings.clientPassword;
    return want !== null && password !== want;
  }

  /** Sends the parsed command on the pinned connection (inline ones as multibulk). */
  #sendPinned(buf: Uint8Array, start: number, end: number): void {
    const p = this.#parser;
    if (p.inline) {
      const frame = encodeCommand(p.inlineArgs(buf, start, end));
      this.#pinned!.sendRaw(frame, 0, frame.length);
    } else {
      this.#pinned!.sendRaw(buf, start, end);
    }
  }

  /** A frame from the pinned connection: to the client, then counted. */
  onFrame(buf: Uint8Array, start: number, end: number): void {
    const pin = this.#pin;
    if (this.#state === S.CLOSED || pin === null) return;
    const outcome = pin.onFrame(buf, start, end);
    if (outcome === null || !outcome.internal) this.#io.write(buf, start, end);
    if (outcome !== null) {
      const gate = (this.#pinRt ?? this.#rt).gate;
      if (this.#pinWriter && gate?.on) this.#gates().pinned(gate);
      if (outcome.tag !== null && !outcome.internal) {
        const rt = this.#pinRt ?? this.#rt;
        this.#rec.pinnedFinished(outcome.tag, rt, this.#pinNode, this.db, buf, start, end);
      }
      this.#applyOutcome(outcome);
      this.#applyQuiet(pin);
    }
    if (this.#io.pending > CLIENT_OUTPUT_HIGH_WATER) this.#pinned?.pauseReading();
    if (pin.owed === 0 || pin.uncounted) this.#pinQuiet(pin);
  }

  /** A pinned command's reply is in: apply what it changed in the session. */
  #applyOutcome(o: PinOutcome): void {
    if (o.kind === PinKind.RESET) {
      this.#reset();
      return;
    }
    if (o.error) return;
    if (o.kind === PinKind.SELECT && typeof o.arg === "number") this.db = o.arg;
    else if (o.kind === PinKind.HELLO) {
      if (o.arg === 2 || o.arg === 3) this.proto = o.arg;
      if (o.name !== null) this.name = o.name;
    } else if (o.kind === PinKind.SETNAME) this.name = o.name;
  }

  /** Nothing is owed on the pinned connection: leave, un-pin, or read on. */
  #pinQuiet(pin: PinTracker): void {
    if (this.#state === S.CLOSING) return this.#maybeFinish();
    if (this.#leavingSince !== 0) {
      this.#state = S.CLOSING;
      return this.#maybeFinish();
    }
    if (pin.idle && pin.unconfirmed) {
      // A command without a reply (after CLIENT REPLY SKIP) may not have run
      // yet: what follows on shared connections must run after it. A PING
      // of our own says when it has.
      pin.sent(PinKind.OTHER, [], this.#now, false, null, null, true);
      this.#pinned!.sendRaw(PING, 0, PING.length);
    } else if (pin.idle) {
      this.#unpin();
    } else if (this.#state === S.PINNED_WAIT) {
      this.#state = S.PINNED;
    }
    this.#maybeResume();
  }

  /**
   * What pinned the session is over: back to the shared connections. The
   * dedicated connection holds nothing of the session's any more; its node
   * keeps it for the next pinned session set up the same way.
   */
  #unpin(): void {
    const p = this.#pinned!;
    this.#pinned = null;
    this.#pin = null;
    this.#pinRt = null;
    p.release({ proto: this.proto, db: this.db, name: this.name, user: this.user });
    this.#state = S.MUX;
  }

  /** Raw mode: node bytes to the client. */
  onData(buf: Uint8Array, start: number, end: number): void {
    if (this.#state === S.CLOSED) return;
    this.#io.write(buf, start, end);
    if (this.#io.pending > CLIENT_OUTPUT_HIGH_WATER) this.#pinned?.pauseReading();
  }

  /** The pinned connection ended: its state is gone, so the client goes too (after its replies). */
  onClosed(_reason: FailReason | null, _detail: string | null): void {
    if (this.#pinned === null || this.#state === S.CLOSED) return;
    this.#pinned = null;
    this.#pin = null;
    if (this.#state !== S.CLOSING) this.#state = S.CLOSING;
    this.#maybeFinish();
  }

  /** When the oldest reply owed on the pinned connection was asked for (server timeout). */
  pendingSince(): number {
    return this.#pin?.pendingSince() ?? -1;
  }
}

/**
 * The reply of a command sent to every node of a shard: the preferred
 * node's (the primary) unless it failed, else the first node's that did not
 * fail, else an error with the last failure.
 */
function preferredReply(
  replies: readonly Uint8Array[],
  preferred: number,
  shard: string,
): Uint8Array {
  const ok = (r: Uint8Array) => outcomeOf(r, 0, r.length) !== Outcome.failed;
  if (preferred >= 0 && ok(replies[preferred])) return replies[preferred];
  const first = replies.find(ok);
  if (first !== undefined) return first;
  const last = replies[replies.length - 1];
  const reason = td.decode(last.subarray(1, Math.max(1, last.length - 2)));
  return errorReply(ErrorText.broadcastFailed(shard, bareReason(reason)));
}

/** A cheap first look: is the parsed command CLIENT (any case)? */
function isClientCommand(p: RequestParser, buf: Uint8Array): boolean {
  if (p.inline) return false;
  const s = p.argStart[0];
  return p.argEnd[0] - s === 6 && (buf[s] | 0x20) === 99 && (buf[s + 1] | 0x20) === 108; // "cl"
}

/** A slot's reply (or failure) is in: it is no longer owed on its node connection. */
function answered(slot: Slot): void {
  const use = slot.use;
  if (use !== null) {
    use.owed--;
    slot.use = null;
  }
}

/** Ends a hedged pair's link: `main` is handled alone from here on (a retry, its reply). */
function unpair(main: Slot): void {
  main.peer = null;
  main.flags &= ~(SLOT_HEDGED | SLOT_SETTLED);
}

/** Whether a command goes to its shard's primary. */
function toPrimary(slot: Slot): boolean {
  return slot.route === Route.PRIMARY ||
    (slot.flags & (SLOT_WRITER | SLOT_NOSCRIPT_RETRIED)) !== 0;
}

/** Whether a command may be sent again to another node after a failure. */
function replayable(slot: Slot): boolean {
  const r = slot.route;
  return (r === Route.READ || r === Route.SCAN || r === Route.SCRIPT_READ ||
    r === Route.SELECT) && (slot.flags & SLOT_BOUND) === 0;
}

/** A database index written as Redis writes numbers (no sign, no leading zero), or null. */
function dbIndex(arg: Uint8Array): number | null {
  const text = td.decode(arg);
  if (!/^(0|[1-9][0-9]{0,9})$/.test(text)) return null;
  const n = Number(text);
  return n <= 0x7fffffff ? n : null;
}
