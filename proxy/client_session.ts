/**
 * One client connection on a shard listener.
 *
 * ```
 *  client ─read─▶ ReadBuffer ─RequestParser─▶ command ─routeOf()─┐
 *     ▲                                                          │
 *     │     READ/WRITE: Slot appended to #fifo, frame sent on a   │
 *     │     node's multiplexed connection (balancer or primary) ◀─┘
 *     │     PIN: wait for #fifo to empty, then open a dedicated
 *     │     node connection and relay raw bytes both ways from then on
 *     │
 *     └─write─ ByteWriter ◀── filled slots at the head of #fifo, in order
 * ```
 *
 * The FIFO keeps the client's order whatever node each command went to, so
 * a failed read can be re-sent elsewhere without reordering the others.
 *
 * @module
 */

import {
  CLIENT_MAX_INFLIGHT,
  CLIENT_OUTPUT_HIGH_WATER,
  CLIENT_READ_BUFFER_SIZE,
  NODE_OUTPUT_HIGH_WATER,
} from "../config/defaults.ts";
import {
  argEquals,
  encodeCommand,
  INCOMPLETE,
  MAX_QUERY_BUFFER,
  RequestParser,
  RespProtocolError,
  Route,
  routeOf,
} from "../resp/mod.ts";
import { ByteWriter, copyBytes, Gate, ReadBuffer, type Socket } from "./_io.ts";
import type { ListenerRole, ShardRuntime } from "./_runtime.ts";
import { type FailReason, Slot, type SlotOwner, SlotQueue } from "./_slot.ts";
import type { Backend } from "./backend.ts";
import { errorReply, ErrorText, Replies } from "./errors.ts";
import { type NodeConnection, type RawSink, unavailableReply } from "./node_connection.ts";

/** Commands larger than this are not kept for a retry when they are writes. */
const KEEP_WRITE_FOR_RETRY = 16 * 1024;
/** Size of the chunks that keep commands for replay (one allocation per many commands). */
const ARENA_SIZE = 4 * 1024;
const EMPTY = new Uint8Array(0);
const td = new TextDecoder();

/** A client connection and its ordered reply FIFO. */
export class ClientSession implements SlotOwner, RawSink {
  /** Listener role this client connected to. */
  readonly role: ListenerRole;
  /** Last time the client sent something (client_idle). */
  lastActive: number;
  #rt: ShardRuntime;
  #sock: Socket;
  #rb = new ReadBuffer(CLIENT_READ_BUFFER_SIZE);
  #parser = new RequestParser();
  #writer: ByteWriter;
  #fifo = new SlotQueue();
  #free: Slot[] = [];
  #gate = new Gate();
  #authed: boolean;
  #closing = false;
  #closed = false;
  #pinWaiting = false;
  #pinEnd = 0;
  #pinPrefix: Uint8Array | null = null;
  #arena: Uint8Array = EMPTY;
  #arenaPos = 0;
  #batchConn: NodeConnection | null = null;
  #now = 0;
  #sent = 0;
  #pinned: NodeConnection | null = null;
  #onClose: (s: ClientSession) => void;

  /** Wraps an accepted socket; call {@link run} to start serving it. */
  constructor(
    sock: Socket,
    role: ListenerRole,
    rt: ShardRuntime,
    onClose: (s: ClientSession) => void,
  ) {
    this.#sock = sock;
    this.role = role;
    this.#rt = rt;
    this.#onClose = onClose;
    this.#authed = rt.settings.clientPassword === null;
    this.lastActive = rt.now();
    this.#writer = new ByteWriter(sock);
    this.#writer.onError = () => this.close();
    this.#writer.onDrain = () => this.#drained();
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** True when pinned to its own node connection. */
  get pinned(): boolean {
    return this.#pinned !== null;
  }

  /** Commands waiting for their reply. */
  get inflight(): number {
    return this.#fifo.length;
  }

  /** The node this session is pinned to, if any. */
  get pinnedNode(): string | null {
    return this.#pinned?.host.id ?? null;
  }

  /** Reads and serves commands until the client goes away. */
  async run(): Promise<void> {
    const rb = this.#rb;
    try {
      while (!this.#closed) {
        const wait = this.#gate.wait();
        if (wait !== null) {
          await wait;
          // Commands that arrived while paused are served before reading more.
          if (this.#pinned === null && !this.#closed && rb.end > rb.start) this.#process();
          continue;
        }
        const view = rb.space();
        if (rb.moved) this.#parser.reset();
        const n = await this.#sock.read(view);
        if (n === null) break;
        rb.end += n;
        if (this.#pinned !== null) {
          this.lastActive = this.#rt.now();
          this.#relay();
        } else {
          this.#process();
        }
      }
    } catch {
      // reset by peer, or closed by us
    }
    this.close();
  }

  /** Closes the client and its pinned node connection. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#writer.close();
    this.#gate.resume();
    try {
      this.#sock.close();
    } catch {
      // already closed
    }
    const p = this.#pinned;
    this.#pinned = null;
    p?.close(null);
    this.#onClose(this);
  }

  /** Finishes in-flight replies, then closes (drain on reload or shutdown). */
  drain(): void {
    if (this.#closed) return;
    if (this.#pinned !== null) {
      this.close();
      return;
    }
    this.#closing = true;
    this.#gate.pause();
    this.#maybeFinish();
  }

  // ---- multiplexed path ----

  #process(): void {
    const rb = this.#rb;
    const buf = rb.buf;
    const end = rb.end;
    let pos = rb.start;
    const fifo = this.#fifo;
    this.#now = this.lastActive = this.#rt.now();
    this.#batchConn = null;
    this.#sent = 0;
    while (pos < end && !this.#closing && !this.#pinWaiting && fifo.length < CLIENT_MAX_INFLIGHT) {
      let next: number;
      try {
        next = this.#parser.parse(buf, pos, end);
      } catch (err) {
        this.#protocolError(err);
        return;
      }
      if (next === INCOMPLETE) {
        if (end - pos > MAX_QUERY_BUFFER) {
          this.#protocolError(new RespProtocolError("Protocol error: too big query"));
        }
        break;
      }
      if (this.#parser.argc > 0 && !this.#command(buf, pos, next)) break;
      pos = next;
      const conn = this.#batchConn as NodeConnection | null; // set by #command()
      if (conn !== null && conn.writePending > NODE_OUTPUT_HIGH_WATER) {
        // The node is not taking bytes as fast as this client sends them.
        this.#waitForNode(conn);
        break;
      }
    }
    rb.consume(pos);
    this.#batchConn = null;
    if (this.#sent > 0) {
      if (this.role === "readers") this.#rt.counters.readerCommands += this.#sent;
      else this.#rt.counters.writerCommands += this.#sent;
    }
    if (fifo.length >= CLIENT_MAX_INFLIGHT || this.#writer.pending > CLIENT_OUTPUT_HIGH_WATER) {
      this.#rt.counters.backpressurePauses++;
      this.#gate.pause();
    }
  }

  /** Handles one parsed command; false when parsing must stop here (pinning). */
  #command(buf: Uint8Array, start: number, end: number): boolean {
    const parser = this.#parser;
    const route = routeOf(parser, buf);
    if (
      route === Route.PIN && parser.argc > 2 &&
      argEquals(buf, parser.argStart[0], parser.argEnd[0], "HELLO")
    ) {
      if (!this.#hello(buf, end)) return true;
    }
    if (!this.#authed && route !== Route.AUTH && route !== Route.QUIT) {
      this.#local(Replies.noAuth);
      return true;
    }
    switch (route) {
      case Route.READ:
      case Route.WRITE: {
        const slot = this.#slot(route);
        this.#fifo.push(slot);
        let src = buf, s = start, e = end;
        if (parser.inline) {
          src = encodeCommand(parser.inlineArgs(buf, start, end));
          s = 0;
          e = src.length;
        }
        if (route === Route.READ || e - s <= KEEP_WRITE_FOR_RETRY) {
          this.#keep(slot, src, s, e);
          src = slot.cmd!;
          s = slot.cmdStart;
          e = slot.cmdEnd;
        }
        this.#sent++;
        this.#send(slot, src, s, e);
        return true;
      }
      case Route.PIN:
        // Stop reading: the rest of the input goes to the pinned connection.
        this.#pinWaiting = true;
        this.#pinEnd = end;
        this.#gate.pause();
        this.#rb.consume(start);
        this.#maybePin();
        return false;
      case Route.QUIT:
        this.#local(Replies.ok);
        this.#closing = true;
        this.#maybeFinish();
        return false;
      case Route.SELECT_ZERO:
        this.#local(Replies.ok);
        return true;
      case Route.AUTH:
        this.#auth(buf, start, end);
        return true;
      default: {
        const name = td.decode(buf.subarray(parser.argStart[0], parser.argEnd[0]));
        this.#local(errorReply(ErrorText.refused(name)));
        return true;
      }
    }
  }

  /**
   * A slot for a new command, reused from this session's free list. A slot
   * is released only once it left both the FIFO and its node connection's
   * queue, so nothing else holds it; slots of a closed session are never
   * reused (late replies only find the session closed).
   */
  #slot(route: Route): Slot {
    const s = this.#free.pop();
    if (s === undefined) return new Slot(this, route);
    s.route = route;
    return s;
  }

  #release(s: Slot): void {
    if (this.#free.length >= CLIENT_MAX_INFLIGHT) return;
    s.reply = null;
    s.done = false;
    s.cmd = null;
    s.attempts = 0;
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

  /**
   * Sends a command. Within one batch of input (one pipeline) commands stay
   * on one node connection, so their replies come back in order and are
   * written straight through; retries (excludeId set) pick afresh. False
   * when no node can take it.
   */
  #dispatch(slot: Slot, src: Uint8Array, start: number, end: number, excludeId: string): boolean {
    let conn = this.#batchConn;
    if (conn === null || conn.closed || excludeId !== "") {
      const rt = this.#rt;
      const node: Backend | null = this.role === "readers" ? rt.pickReader(excludeId) : rt.writer();
      if (node === null) return false;
      conn = node.connection();
      if (excludeId === "") this.#batchConn = conn;
    }
    conn.send(slot, src, start, end, this.#now);
    return true;
  }

  /** Sends a new command; answers it with the shard's error when no node can take it. */
  #send(slot: Slot, src: Uint8Array, start: number, end: number): void {
    if (this.#dispatch(slot, src, start, end, "")) return;
    this.#rt.counters.failedCommands++;
    this.#fill(slot, errorReply(this.#rt.noNodeError(this.role)));
  }

  /** A reply for `slot` arrived from its node. */
  onReply(slot: Slot, buf: Uint8Array, start: number, end: number): void {
    if (this.#closed) return;
    if (
      slot.route === Route.READ && slot.cmd !== null && buf[start] === 45 &&
      slot.attempts <= this.#rt.settings.retries && unavailableReply(buf, start, end) !== null &&
      this.#retry(slot)
    ) {
      return;
    }
    const fifo = this.#fifo;
    if (fifo.peek() === slot) {
      fifo.shift();
      this.#writer.write(buf, start, end);
      this.#release(slot);
      this.#flushReady();
    } else {
      slot.reply = buf.slice(start, end);
      slot.done = true;
    }
  }

  /** The node connection of `slot` failed before its reply. */
  onFail(slot: Slot, reason: FailReason, nodeId: string, sent: boolean): void {
    if (this.#closed) return;
    const rt = this.#rt;
    if (
      slot.cmd !== null && (slot.route === Route.READ || !sent) &&
      slot.attempts <= rt.settings.retries && this.#retry(slot)
    ) {
      return;
    }
    rt.counters.failedCommands++;
    const msg = slot.route === Route.READ
      ? ErrorText.readFailed(nodeId, reason, slot.attempts)
      : ErrorText.writeLost(nodeId, reason);
    this.#fill(slot, errorReply(msg));
  }

  /** Re-sends `slot` to another node; false when there is none. */
  #retry(slot: Slot): boolean {
    this.#now = this.#rt.now();
    if (!this.#dispatch(slot, slot.cmd!, slot.cmdStart, slot.cmdEnd, slot.nodeId)) return false;
    this.#rt.counters.retries++;
    return true;
  }

  /** Completes `slot` with bytes owned by us (errors, local replies). */
  #fill(slot: Slot, reply: Uint8Array): void {
    slot.reply = reply;
    slot.done = true;
    if (this.#fifo.peek() === slot) this.#flushReady();
  }

  /** Queues a reply produced locally, in order. */
  #local(reply: Uint8Array): void {
    const slot = this.#slot(Route.WRITE);
    slot.reply = reply;
    slot.done = true;
    this.#fifo.push(slot);
    if (this.#fifo.length === 1) this.#flushReady();
  }

  /** Writes every finished slot at the head of the FIFO. */
  #flushReady(): void {
    const fifo = this.#fifo;
    for (let s = fifo.peek(); s !== undefined && s.done; s = fifo.peek()) {
      fifo.shift();
      if (s.reply !== null) this.#writer.write(s.reply);
      this.#release(s);
    }
    if (fifo.length === 0) {
      if (this.#pinWaiting) this.#maybePin();
      if (this.#closing) this.#maybeFinish();
    }
    if (this.#gate.paused && !this.#closing && !this.#pinWaiting) this.#maybeResume();
  }

  #maybeResume(): void {
    if (
      this.#fifo.length < CLIENT_MAX_INFLIGHT / 2 &&
      this.#writer.pending <= CLIENT_OUTPUT_HIGH_WATER
    ) {
      this.#gate.resume();
    }
  }

  /** The writer emptied: resume reading (multiplexed or pinned), finish a close. */
  #drained(): void {
    if (this.#closing) {
      this.#maybeFinish();
      return;
    }
    if (this.#pinned !== null) {
      this.#pinned.resumeReading();
      return;
    }
    if (this.#gate.paused && !this.#pinWaiting) this.#maybeResume();
  }

  #maybeFinish(): void {
    if (this.#fifo.length === 0 && this.#writer.pending === 0) this.close();
  }

  #protocolError(err: unknown): void {
    this.#rt.counters.protocolErrors++;
    const msg = err instanceof RespProtocolError ? err.message : "Protocol error";
    this.#local(errorReply(ErrorText.protocol(msg)));
    this.#closing = true;
    this.#rb.consume(this.#rb.end);
    this.#maybeFinish();
  }

  #auth(buf: Uint8Array, start: number, end: number): void {
    const p = this.#parser;
    const want = this.#rt.settings.clientPassword;
    if (p.argc < 2 || p.argc > 3) {
      this.#local(Replies.authArity);
      return;
    }
    if (want === null) {
      this.#local(Replies.authNotConfigured);
      return;
    }
    const i = p.argc - 1; // AUTH [user] password
    const got = p.inline
      ? td.decode(p.inlineArgs(buf, start, end)[i])
      : td.decode(buf.subarray(p.argStart[i], p.argEnd[i]));
    if (got === want) {
      this.#authed = true;
      this.#local(Replies.ok);
    } else {
      this.#local(Replies.wrongPass);
    }
  }

  /**
   * HELLO with AUTH: the credentials are for this listener (client_password),
   * never for the node (shardgate authenticates itself there), so they are
   * checked here and the HELLO is forwarded without them. False when the
   * command was answered here (wrong password).
   */
  #hello(buf: Uint8Array, end: number): boolean {
    const args = this.#parser.args(buf);
    let at = -1;
    for (let i = 2; i < args.length; i++) {
      if (args[i].length === 4 && td.decode(args[i]).toUpperCase() === "AUTH") {
        at = i;
        break;
      }
    }
    if (at < 0 || at + 2 >= args.length) return true;
    const want = this.#rt.settings.clientPassword;
    if (want !== null && td.decode(args[at + 2]) !== want) {
      this.#local(Replies.wrongPass);
      return false;
    }
    this.#authed = true;
    args.splice(at, 3);
    this.#pinPrefix = encodeCommand(args);
    this.#pinEnd = end;
    return true;
  }

  // ---- pinned path ----

  /** Pins once every earlier reply has been written. */
  #maybePin(): void {
    if (!this.#pinWaiting || this.#fifo.length > 0 || this.#closed) return;
    const rt = this.#rt;
    const node = this.role === "readers" ? rt.pickReader("") : rt.writer();
    this.#pinWaiting = false;
    if (node === null) {
      // Answer the pinning command with the error and go on with the next.
      const rb = this.#rb;
      rb.consume(this.#pinEnd);
      this.#pinPrefix = null;
      rt.counters.failedCommands++;
      this.#local(errorReply(rt.noNodeError(this.role)));
      this.#gate.resume();
      return;
    }
    rt.counters.pinnedSessions++;
    this.#pinned = node.openPinned(this);
    if (this.#pinPrefix !== null) {
      // The pinning command was rewritten (HELLO without its AUTH): send that instead.
      this.#pinned.sendRaw(this.#pinPrefix, 0, this.#pinPrefix.length);
      this.#rb.consume(this.#pinEnd);
      this.#pinPrefix = null;
    }
    this.#gate.resume();
    this.#relay();
  }

  /** Pinned: client bytes go straight to the node. */
  #relay(): void {
    const rb = this.#rb;
    const conn = this.#pinned!;
    if (rb.end > rb.start) conn.sendRaw(rb.buf, rb.start, rb.end);
    rb.consume(rb.end);
    if (conn.writePending > NODE_OUTPUT_HIGH_WATER) this.#waitForNode(conn);
  }

  /** Stops reading this client until `conn` has written out its backlog. */
  #waitForNode(conn: NodeConnection): void {
    this.#rt.counters.backpressurePauses++;
    this.#gate.pause();
    conn.whenDrained(() => this.#gate.resume());
  }

  /** Pinned: node bytes go straight to the client. */
  onData(buf: Uint8Array, start: number, end: number): void {
    if (this.#closed) return;
    this.#writer.write(buf, start, end);
    if (this.#writer.pending > CLIENT_OUTPUT_HIGH_WATER) this.#pinned?.pauseReading();
  }

  /** Pinned: the node connection ended, so the session's state is gone. */
  onClosed(_reason: FailReason | null): void {
    if (this.#pinned === null) return;
    this.#pinned = null;
    this.close();
  }
}
