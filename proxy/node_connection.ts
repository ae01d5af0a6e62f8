/**
 * One TCP/TLS connection from shardgate to a Redis node.
 *
 * Multiplexed mode: many clients' commands share it. Each sent command's
 * slot waits in `#inflight` in send order; each reply frame fills the oldest.
 *
 * ```
 *  send(slot, bytes) ─▶ #inflight.push(slot) ─▶ ByteWriter (one write per turn) ─▶ node
 *  node ─▶ ReadBuffer ─▶ scanReply() frame ─▶ #inflight.shift().owner.onReply(frame)
 *  break / timeout ─▶ every in-flight slot ─▶ owner.onFail(slot)  (retry or error)
 * ```
 *
 * Pinned (raw) mode: one client owns it; after the AUTH handshake every
 * byte goes straight to the client (pub/sub pushes, MULTI, blocking...).
 *
 * @module
 */

import type { PassiveErrorKind } from "../config/types.ts";
import { INCOMPLETE, RespProtocolError, scanReply } from "../resp/mod.ts";
import type { NodeSocket } from "../resp/mod.ts";
import { ByteWriter, Gate, ReadBuffer } from "./_io.ts";
import { type FailReason, type Slot, SlotQueue } from "./_slot.ts";

/** What a connection needs from the node it belongs to (a {@link Backend}). */
export interface ConnectionHost {
  /** Node id (`host:port`). */
  readonly id: string;
  /** Commands in flight on every multiplexed connection of the node. */
  pending: number;
  /** The AUTH frame to send first, or null. */
  readonly auth: Uint8Array | null;
  /** Opens the socket. */
  dial(): Promise<NodeSocket>;
  /** A connection ended; `reason` is null for an orderly close. */
  connectionClosed(conn: NodeConnection, reason: FailReason | null): void;
  /** A passive error was seen on this node. */
  reportError(kind: PassiveErrorKind): void;
}

/** Receives a pinned connection's bytes. */
export interface RawSink {
  /** Bytes from the node: `buf[start, end)`, valid only during the call. */
  onData(buf: Uint8Array, start: number, end: number): void;
  /** The connection ended (node closed it, failed, or timed out). */
  onClosed(reason: FailReason | null): void;
}

const MINUS = 45; // '-'
const te = new TextEncoder();
const LOADING = te.encode("-LOADING");
const MASTERDOWN = te.encode("-MASTERDOWN");
const BUSY = te.encode("-BUSY ");
const READONLY = te.encode("-READONLY ");

function startsWith(buf: Uint8Array, start: number, end: number, prefix: Uint8Array): boolean {
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

const CONNECTING = 0, READY = 1, CLOSED = 2;

/** A connection to one node, multiplexed or pinned. */
export class NodeConnection {
  /** The node it belongs to. */
  readonly host: ConnectionHost;
  #raw: RawSink | null;
  #sock: NodeSocket | null = null;
  #writer = new ByteWriter(null);
  #inflight = new SlotQueue();
  #rb = new ReadBuffer();
  #handshake = 0;
  #state = CONNECTING;
  #gate = new Gate();
  #drainWaiters: (() => void)[] = [];
  /** The node's IP this connection reached, once connected. */
  remoteIp: string | null = null;

  /** Starts connecting to `host`; commands sent meanwhile wait in the buffer. */
  constructor(host: ConnectionHost, raw: RawSink | null = null) {
    this.host = host;
    this.#raw = raw;
    if (host.auth !== null) {
      this.#writer.write(host.auth);
      this.#handshake = 1;
    }
    this.#writer.onError = () => this.close("connection lost");
    this.#writer.onDrain = () => this.#drained();
    void this.#run();
  }

  /** True once closed (it never reopens). */
  get closed(): boolean {
    return this.#state === CLOSED;
  }

  /** Commands waiting for a reply. */
  get inflight(): number {
    return this.#inflight.length;
  }

  /** Bytes not yet written to the node. */
  get writePending(): number {
    return this.#writer.pending;
  }

  /** When the oldest in-flight command was sent, or -1 if none. */
  oldestSentAt(): number {
    const s = this.#inflight.peek();
    return s === undefined ? -1 : s.sentAt;
  }

  /** Sends one command frame `src[start, end)` for `slot` (multiplexed mode). */
  send(slot: Slot, src: Uint8Array, start: number, end: number, now: number): void {
    slot.sentAt = now;
    slot.attempts++;
    slot.nodeId = this.host.id;
    this.host.pending++;
    this.#inflight.push(slot);
    this.#writer.write(src, start, end);
  }

  /** Sends raw bytes (pinned mode). */
  sendRaw(src: Uint8Array, start: number, end: number): void {
    this.#writer.write(src, start, end);
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
   * (null: an orderly close with nothing in flight expected).
   */
  close(reason: FailReason | null): void {
    if (this.#state === CLOSED) return;
    const sent = this.#state === READY;
    this.#state = CLOSED;
    this.#writer.close();
    this.#gate.resume();
    try {
      this.#sock?.close();
    } catch {
      // already closed by the peer
    }
    const failed = this.#inflight.drain();
    this.host.pending -= failed.length;
    this.host.connectionClosed(this, reason);
    const why = reason ?? "connection lost";
    for (const slot of failed) slot.owner.onFail(slot, why, this.host.id, sent);
    this.#raw?.onClosed(reason);
    this.#drained();
  }

  async #run(): Promise<void> {
    let sock: NodeSocket;
    try {
      sock = await this.host.dial();
    } catch {
      if (this.#state !== CLOSED) this.host.reportError("connect");
      this.close("connect failed");
      return;
    }
    if (this.#state === CLOSED) {
      sock.close();
      return;
    }
    this.#sock = sock;
    this.remoteIp = (sock.remoteAddr as Deno.NetAddr).hostname;
    this.#state = READY;
    this.#writer.attach(sock);
    const rb = this.#rb;
    try {
      while (this.#state === READY) {
        const wait = this.#gate.wait();
        if (wait !== null) await wait;
        const n = await sock.read(rb.space());
        if (n === null) break;
        rb.end += n;
        if (this.#raw !== null && this.#handshake === 0) {
          this.#raw.onData(rb.buf, rb.start, rb.end);
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

  /** Delivers complete reply frames in [pos, end); returns where the partial tail starts. */
  #frames(buf: Uint8Array, pos: number, end: number): number {
    while (pos < end && this.#state === READY) {
      const next = scanReply(buf, pos, end);
      if (next === INCOMPLETE) break;
      if (this.#handshake > 0) {
        this.#handshake--;
        if (buf[pos] === MINUS) {
          this.host.reportError("protocol");
          this.close("connect failed");
          return end;
        }
        pos = next;
        if (this.#raw !== null && this.#handshake === 0 && pos < end) {
          this.#raw.onData(buf, pos, end);
          return end;
        }
        continue;
      }
      const slot = this.#inflight.shift();
      if (slot === undefined) {
        // A reply nobody asked for: the stream is out of step.
        this.host.reportError("protocol");
        this.close("protocol error");
        return end;
      }
      this.host.pending--;
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
