/**
 * One TCP/TLS connection from shardgate to a Redis node.
 *
 * Every connection starts with a setup the node answers before any command:
 * AUTH (when configured), `HELLO 3` for a RESP3 connection, `SELECT n` for a
 * database other than 0, and `CLIENT SETNAME` for a pinned session with a
 * name. Commands sent meanwhile wait behind it in the same write.
 *
 * Multiplexed mode: many clients' commands share it. Each sent command's
 * slot waits in `#inflight` in send order; each reply frame fills the oldest.
 *
 * ```
 *  send(slot, bytes) ─▶ #inflight.push(slot) ─▶ ByteWriter (one write per turn) ─▶ node
 *  node ─▶ ReadBuffer ─▶ ReplyScanner frame ─▶ #inflight.shift().owner.onReply(frame)
 *  break / timeout ─▶ every in-flight slot ─▶ owner.onFail(slot)  (retry or error)
 * ```
 *
 * Pinned mode: one client session owns it and receives every frame, replies
 * and pushes alike ({@link PinSink.onFrame}); the session does the counting.
 * Raw mode (a replication stream after SYNC/PSYNC): bytes, unframed.
 *
 * Injected faults (config `faults:`, decided in `faults.ts`) act here, in
 * {@link NodeConnection.send}, on multiplexed commands only: an `error` is
 * answered on the next turn without sending; a `delay` holds the reply
 * back (other replies of the connection are not held: a session reorders
 * by its own FIFO); a `drop` closes the connection before the command is
 * written; a `blackhole` keeps the command aside unwritten, where the
 * hedge scan and the server timeout find it as they find any command in
 * flight (it fails with `timeout`; the connection stays open).
 *
 * @module
 */

import type { PassiveErrorKind } from "../config/types.ts";
import { encodeCommand, INCOMPLETE, ReplyScanner, RespProtocolError } from "../resp/mod.ts";
import type { NodeSocket } from "../net/mod.ts";
import { ByteWriter, Gate, ReadBuffer, turn } from "./_io.ts";
import { type FailReason, type Slot, SLOT_FAULTED, SlotQueue } from "./_runtime.ts";
import { FaultKindIndex, type FaultRule, pickFault } from "./faults.ts";
import type { ConnectionSetup, PinSink } from "./_runtime.ts";

export type { ConnectionSetup, PinSink } from "./_runtime.ts";

/** The setup of the connections most commands use. */
export const DEFAULT_SETUP: ConnectionSetup = { proto: 2, db: 0, name: null };

/** What a connection needs from the node it belongs to (a {@link Backend}). */
export interface ConnectionHost {
  /** Node id (`host:port`). */
  readonly id: string;
  /** Commands in flight on every multiplexed connection of the node. */
  pending: number;
  /**
   * A reply for `slot` arrived at `at` (data-path ms; an `error` reply):
   * one fewer in flight, a read's latency, the node's counters; `bytes`:
   * the reply's size.
   */
  replied(slot: Slot, at: number, error: boolean, bytes: number): void;
  /** `n` in-flight commands failed with their connection. */
  failed(n: number): void;
  /** The AUTH frame to send first, or null. */
  readonly auth: Uint8Array | null;
  /** Opens the socket. */
  dial(): Promise<NodeSocket>;
  /** A connection ended; `reason` is null for an orderly close. */
  connectionClosed(conn: NodeConnection, reason: FailReason | null): void;
  /** A passive error was seen on this node. */
  reportError(kind: PassiveErrorKind): void;
  /** Fault rules that can hit this node's commands; null (nearly always) when none can. */
  readonly faults: readonly FaultRule[] | null;
  /** `rule` hit a command sent to this node (metrics, logs). */
  faultInjected(rule: FaultRule): void;
}

const MINUS = 45; // '-'
const te = new TextEncoder();
const td = new TextDecoder();
const LOADING = te.encode("-LOADING");
const MASTERDOWN = te.encode("-MASTERDOWN");
const BUSY = te.encode("-BUSY ");
const READONLY = te.encode("-READONLY ");
const HELLO3 = encodeCommand(["HELLO", "3"]);

/** True when `buf[start, end)` begins with `prefix`. */
export function startsWith(
  buf: Uint8Array,
  start: number,
  end: number,
  prefix: Uint8Array,
): boolean {
  if (end - start < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (buf[start + i] !== prefix[i]) return false;
  return true;
}

/**
 * Classifies an error reply that says the node cannot serve right now
 * (`-LOADING`, `-MASTERDOWN`, `-BUSY`): a passive error, and a read-only
 * command that got it may be retried elsewhere. Null for any other reply.
 */
export function unavailableReply(
  buf: Uint8Array,
  start: number,
  end: number,
): PassiveErrorKind | null {
  if (buf[start] !== MINUS) return null;
  if (startsWith(buf, start, end, LOADING)) return "loading";
  if (startsWith(buf, start, end, MASTERDOWN)) return "masterdown";
  if (startsWith(buf, start, end, BUSY)) return "busy";
  return null;
}

/** The text of an error line `-ERR ...\r\n` (without `-` and CRLF). */
function errorText(buf: Uint8Array, start: number, end: number): string {
  return td.decode(buf.subarray(start + 1, Math.max(start + 1, end - 2)));
}

const CONNECTING = 0, READY = 1, CLOSED = 2;
const F_DELAY = FaultKindIndex.delay, F_ERROR = FaultKindIndex.error;
const F_DROP = FaultKindIndex.drop;
/** Setup steps, in the order they are sent. */
const STEP_AUTH = 1, STEP_OTHER = 2;

/** A connection to one node: multiplexed, pinned (framed) or raw. */
export class NodeConnection {
  /** The node it belongs to. */
  readonly host: ConnectionHost;
  /** Protocol and database it was set up for. */
  readonly setup: ConnectionSetup;
  /** A pinned session's own connection (idle between two sessions when its sink is null). */
  readonly dedicated: boolean;
  #pin: PinSink | null;
  #raw = false;
  #sock: NodeSocket | null = null;
  #writer = new ByteWriter(null);
  #inflight = new SlotQueue();
  #rb = new ReadBuffer();
  #scanner = new ReplyScanner();
  /** Commands held back until the setup is answered (a client user's connection), or null. */
  #untilSetup: Uint8Array[] | null = null;
  /** Setup replies still owed, as STEP_* values in send order. */
  #steps: number[] = [];
  #state = CONNECTING;
  #gate = new Gate();
  #drainWaiters: (() => void)[] = [];
  /** When the last bytes from the node arrived (ms): replies' latencies are measured to it. */
  #readAt = 0;
  /** The node's IP this connection reached, once connected. */
  remoteIp: string | null = null;
  /** Our end's port, once connected (to tell our connections in the node's CLIENT LIST). */
  localPort: number | null = null;
  /** Injected `delay` faults: in-flight slots whose reply is held back (ms), or null. */
  #delayed: Map<Slot, number> | null = null;
  /** Injected `blackhole` faults: slots never written, waiting for their timeout, or null. */
  #held: SlotQueue | null = null;
  /** An injected `drop` will close the connection at the end of this turn. */
  #dropping = false;

  /**
   * Starts connecting to `host` and queues the setup; commands sent
   * meanwhile wait behind it. With `pin`, the connection is a pinned
   * session's and every frame goes to it.
   */
  constructor(
    host: ConnectionHost,
    setup: ConnectionSetup = DEFAULT_SETUP,
    pin: PinSink | null = null,
  ) {
    this.host = host;
    this.setup = setup;
    this.#pin = pin;
    this.dedicated = pin !== null;
    const user = setup.user ?? null;
    if (user !== null) {
      // A client's own credentials: nothing of its goes out before the node
      // took them (a refused AUTH would leave the connection as `default`).
      this.#step(STEP_OTHER, user.frame);
      this.#untilSetup = [];
    } else if (host.auth !== null) this.#step(STEP_AUTH, host.auth);
    if (setup.proto === 3) this.#step(STEP_OTHER, HELLO3);
    if (setup.db !== 0) this.#step(STEP_OTHER, encodeCommand(["SELECT", String(setup.db)]));
    if (setup.name !== null) {
      this.#step(STEP_OTHER, encodeCommand(["CLIENT", "SETNAME", setup.name]));
    }
    this.#writer.onError = () => this.close("connection lost");
    this.#writer.onDrain = () => this.#drained();
    void this.#run();
  }

  #step(kind: number, frame: Uint8Array): void {
    this.#steps.push(kind);
    this.#writer.write(frame);
  }

  /** True once closed (it never reopens). */
  get closed(): boolean {
    return this.#state === CLOSED;
  }

  /** Commands waiting for a reply (multiplexed mode), blackholed ones included. */
  get inflight(): number {
    return this.#held === null ? this.#inflight.length : this.#inflight.length + this.#held.length;
  }

  /** Bytes not yet written to the node. */
  get writePending(): number {
    return this.#writer.pending;
  }

  /** The oldest command waiting for its reply (multiplexed mode), or undefined. */
  oldest(): Slot | undefined {
    return this.dedicated ? undefined : this.#inflight.peek();
  }

  /** When the oldest command still owed a reply was sent, or -1 if none (or blocking). */
  oldestSentAt(): number {
    if (this.dedicated) return this.#pin === null || this.#raw ? -1 : this.#pin.pendingSince();
    const s = this.#inflight.peek();
    return s === undefined ? -1 : s.sentAt;
  }

  /** Calls `fn` with each in-flight slot, oldest first, until it returns false. */
  scanInflight(fn: (slot: Slot) => boolean): void {
    this.#inflight.scan(fn);
    this.#held?.scan(fn);
  }

  /** Sends one command frame `src[start, end)` for `slot` (multiplexed mode). */
  send(slot: Slot, src: Uint8Array, start: number, end: number, now: number): void {
    slot.sentAt = now;
    slot.attempts++;
    slot.nodeId = this.host.id;
    this.host.pending++;
    const faults = this.host.faults;
    // A router's fan-out parts (a split MGET's per-shard commands) carry no command or port of
    // their own in the session core: they are out of the faults' scope.
    if (faults !== null && slot.group === null) {
      const rule = pickFault(faults, slot.port, slot.cmdIndex);
      if (rule !== null && this.#inject(rule, slot)) return;
    }
    this.#inflight.push(slot);
    if (this.#untilSetup !== null) this.#untilSetup.push(src.slice(start, end));
    else this.#writer.write(src, start, end);
  }

  /** Acts on an injected fault; true when the command is not to be written. */
  #inject(rule: FaultRule, slot: Slot): boolean {
    slot.flags |= SLOT_FAULTED;
    this.host.faultInjected(rule);
    switch (rule.kind) {
      case F_DELAY:
        (this.#delayed ??= new Map()).set(slot, rule.delay());
        return false;
      case F_ERROR:
        queueMicrotask(() => this.#answer(slot, rule.frame, 0, rule.frame.length));
        return true;
      case F_DROP:
        // In flight but never written: the close at the end of this turn fails it.
        this.#inflight.push(slot);
        if (!this.#dropping) {
          this.#dropping = true;
          queueMicrotask(() => {
            if (this.#state === CLOSED) return;
            this.host.reportError("closed");
            this.close("connection lost");
          });
        }
        return true;
      default: // blackhole
        (this.#held ??= new SlotQueue()).push(slot);
        return true;
    }
  }

  /** Delivers `buf[start, end)` as the reply of `slot`, timed now (a fault's reply). */
  #answer(slot: Slot, buf: Uint8Array, start: number, end: number): void {
    const now = turn.now = performance.now();
    this.host.replied(slot, now, buf[start] === MINUS, end - start);
    slot.owner.onReply(slot, buf, start, end);
  }

  /**
   * Fails blackholed commands sent more than `serverMs` ago with `timeout`,
   * as the server timeout fails a connection's commands, but leaves the
   * connection open (what it owes is unaffected).
   */
  expireHeld(now: number, serverMs: number): void {
    const held = this.#held;
    if (held === null) return;
    for (let s = held.peek(); s !== undefined && now - s.sentAt > serverMs; s = held.peek()) {
      held.shift();
      this.host.failed(1);
      this.host.reportError("timeout");
      s.owner.onFail(s, "timeout", this.host.id, true, null);
    }
  }

  /** Sends bytes as they are (pinned and raw modes). */
  sendRaw(src: Uint8Array, start: number, end: number): void {
    if (this.#untilSetup !== null) this.#untilSetup.push(src.slice(start, end));
    else this.#writer.write(src, start, end);
  }

  /** A dedicated connection taken by a new pinned session. */
  adopt(sink: PinSink): void {
    this.#pin = sink;
  }

  /** A dedicated connection whose session let it go: idle until adopted or closed. */
  detach(): void {
    this.#pin = null;
    this.#gate.resume();
  }

  /** From now on, bytes from the node go to the pin sink unframed (a replication stream). */
  toRaw(): void {
    this.#raw = true;
  }

  /**
   * Calls `fn` once, when every byte queued for the node has been written
   * (or the connection closed): back-pressure for whoever paused on it.
   */
  whenDrained(fn: () => void): void {
    this.#drainWaiters.push(fn);
  }

  #drained(): void {
    const waiters = this.#drainWaiters;
    if (waiters.length === 0) return;
    this.#drainWaiters = [];
    for (const fn of waiters) fn();
  }

  /** Stops reading from the node (the client is not keeping up). */
  pauseReading(): void {
    this.#gate.pause();
  }

  /** Resumes reading from the node. */
  resumeReading(): void {
    this.#gate.resume();
  }

  /**
   * Closes the connection; every in-flight slot is failed with `reason`
   * (null: an orderly close with nothing in flight expected). `detail` is
   * the node's error text when it refused the setup.
   */
  close(reason: FailReason | null, detail: string | null = null): void {
    if (this.#state === CLOSED) return;
    const sent = this.#state === READY && this.#steps.length === 0;
    this.#state = CLOSED;
    this.#writer.close();
    this.#gate.resume();
    try {
      this.#sock?.close();
    } catch {
      // already closed by the peer
    }
    const failed = this.#inflight.drain();
    if (this.#held !== null) failed.push(...this.#held.drain());
    if (failed.length > 0) this.host.failed(failed.length);
    this.host.connectionClosed(this, reason);
    const why = reason ?? "connection lost";
    for (const slot of failed) slot.owner.onFail(slot, why, this.host.id, sent, detail);
    this.#pin?.onClosed(reason, detail);
    this.#drained();
  }

  async #run(): Promise<void> {
    let sock: NodeSocket;
    try {
      sock = await this.host.dial();
    } catch {
      if (this.#state !== CLOSED) this.host.reportError("connect");
      turn.now = performance.now(); // the failed commands are timed now, not at the last read
      this.close("connect failed");
      return;
    }
    if (this.#state === CLOSED) {
      sock.close();
      return;
    }
    this.#sock = sock;
    this.remoteIp = (sock.remoteAddr as Deno.NetAddr).hostname;
    this.localPort = (sock.localAddr as Deno.NetAddr).port;
    this.#state = READY;
    this.#writer.attach(sock);
    const rb = this.#rb;
    try {
      while (this.#state === READY) {
        const wait = this.#gate.wait();
        if (wait !== null) await wait;
        const view = rb.space();
        const n = await sock.read(view);
        if (n === null) break;
        rb.end += n;
        this.#readAt = turn.now = performance.now();
        if (this.#raw) {
          this.#pin!.onData(rb.buf, rb.start, rb.end);
          rb.consume(rb.end);
        } else {
          rb.consume(this.#frames(rb.buf, rb.start, rb.end));
        }
      }
    } catch (err) {
      if (err instanceof RespProtocolError) {
        this.host.reportError("protocol");
        this.close("protocol error");
        return;
      }
    }
    if (this.#state !== CLOSED) {
      if (this.#inflight.length > 0) this.host.reportError("closed");
      this.close("connection lost");
    }
  }

  /** Delivers complete frames in [pos, end); returns where the partial tail starts. */
  #frames(buf: Uint8Array, pos: number, end: number): number {
    const scanner = this.#scanner;
    while (pos < end && this.#state === READY) {
      if (this.#raw) {
        // A SYNC turned the stream raw mid-buffer: the rest is replication bytes.
        this.#pin!.onData(buf, pos, end);
        return end;
      }
      const next = scanner.scan(buf, pos, end);
      if (next === INCOMPLETE) break;
      if (this.#steps.length > 0) {
        const step = this.#steps.shift()!;
        if (buf[pos] === MINUS) {
          if (step === STEP_AUTH) {
            this.host.reportError("protocol");
            this.close("connect failed");
          } else {
            // The node refused HELLO 3 or SELECT n: the client's choice, not the node's fault.
            this.close("handshake refused", errorText(buf, pos, next));
          }
          return end;
        }
        pos = next;
        if (this.#steps.length === 0 && this.#untilSetup !== null) {
          const held = this.#untilSetup;
          this.#untilSetup = null;
          for (const b of held) this.#writer.write(b);
        }
        continue;
      }
      if (this.dedicated) {
        if (this.#pin === null) {
          // A frame on an idle dedicated connection: nobody asked; it cannot be reused.
          this.close("protocol error");
          return end;
        }
        this.#pin.onFrame(buf, pos, next);
        pos = next;
        continue;
      }
      const slot = this.#inflight.shift();
      if (slot === undefined) {
        // A reply nobody asked for: the stream is out of step.
        this.host.reportError("protocol");
        this.close("protocol error");
        return end;
      }
      if (this.#delayed !== null && this.#delayed.size > 0) {
        const ms = this.#delayed.get(slot);
        if (ms !== undefined) {
          // An injected delay: the reply reaches its owner later, as if the node were slow.
          this.#delayed.delete(slot);
          const frame = buf.slice(pos, next);
          setTimeout(() => this.#answer(slot, frame, 0, frame.length), ms);
          pos = next;
          continue;
        }
      }
      this.host.replied(slot, this.#readAt, buf[pos] === MINUS, next - pos);
      if (buf[pos] === MINUS) {
        const kind = unavailableReply(buf, pos, next);
        if (kind !== null) this.host.reportError(kind);
        // A write refused by a node we took for the primary: roles changed.
        else if (startsWith(buf, pos, next, READONLY)) this.host.reportError("readonly");
      }
      slot.owner.onReply(slot, buf, pos, next);
      pos = next;
    }
    return pos;
  }
}
