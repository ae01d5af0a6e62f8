/**
 * One client connection on a shard listener: the socket plumbing around a
 * {@link SessionCore}. It reads into a buffer, feeds the core, writes what
 * the core writes (one socket write per event-loop turn), pauses reading
 * when the core says so, and ends the connection the way Redis clients
 * expect: every queued reply written, then a half-close, then the close
 * once the client has hung up (bounded by `CLOSE_LINGER_MS`), so a last
 * error reply is never lost to a reset.
 *
 * @module
 */

import { CLIENT_READ_BUFFER_SIZE, CLOSE_LINGER_MS } from "../config/defaults.ts";
import { ByteWriter, Gate, ReadBuffer, type Socket } from "./_io.ts";
import type { KeyRouting, ListenerRole, PortContext } from "./_runtime.ts";
import { SessionCore, type SessionIO } from "./session/mod.ts";
import { PortRole } from "../telemetry/mod.ts";

/** A client socket: a byte stream that can also be half-closed. */
export interface ClientSocket extends Socket {
  /** Sends FIN: no more bytes from us, while the client may still send. */
  closeWrite(): Promise<void>;
}

/** A client connection and its session. */
export class ClientSession {
  /** The session's decisions. */
  readonly core: SessionCore;
  #sock: ClientSocket;
  #rb = new ReadBuffer(CLIENT_READ_BUFFER_SIZE);
  #writer: ByteWriter;
  #gate = new Gate();
  #finishing = false;
  #halfClosed = false;
  #sockClosed = false;
  #linger: ReturnType<typeof setTimeout> | null = null;
  #bytesIn: ((n: number) => void) | null;

  /** Wraps an accepted socket; call {@link run} to start serving it. */
  constructor(
    sock: ClientSocket,
    role: ListenerRole,
    rt: PortContext,
    routing: KeyRouting,
    onClose: (s: ClientSession) => void,
  ) {
    this.#sock = sock;
    this.#writer = new ByteWriter(sock);
    this.#writer.onError = () => this.core.close();
    this.#writer.onDrain = () => {
      if (this.#finishing) this.#maybeHalfClose();
      else this.core.onDrained();
    };
    const gate = this.#gate;
    const writer = this.#writer;
    const stats = rt.commandStats;
    const statsRole = !routing.introspects ? PortRole.router : PortRole[role];
    this.#bytesIn = stats === null ? null : (n) => stats.addBytesIn(statsRole, n);
    const io: SessionIO = {
      write: stats === null
        ? (buf, start, end) => writer.write(buf, start, end)
        : (buf, start = 0, end = buf.length) => {
          stats.addBytesOut(statsRole, end - start);
          writer.write(buf, start, end);
        },
      writeShared: stats === null ? (bytes) => writer.writeShared(bytes) : (bytes) => {
        stats.addBytesOut(statsRole, bytes.length);
        writer.writeShared(bytes);
      },
      get pending() {
        return writer.pending;
      },
      get paused() {
        return gate.paused;
      },
      pause: () => gate.pause(),
      resume: () => gate.resume(),
      finish: () => this.#finish(),
      close: () => this.#closeSocket(),
    };
    this.core = new SessionCore(io, role, rt, routing, () => onClose(this));
  }

  /** Listener role this client connected to. */
  get role(): ListenerRole {
    return this.core.role;
  }

  /** True once the session is closed (its socket may still be finishing). */
  get closed(): boolean {
    return this.core.closed;
  }

  /** True while the session has a node connection of its own. */
  get pinned(): boolean {
    return this.core.pinned;
  }

  /** The node of the session's own connection, or null. */
  get pinnedNode(): string | null {
    return this.core.pinnedNode;
  }

  /** Replies the client is still owed. */
  get inflight(): number {
    return this.core.inflight;
  }

  /** Last time the client sent something. */
  get lastActive(): number {
    return this.core.lastActive;
  }

  /** RESP version the client speaks. */
  get proto(): 2 | 3 {
    return this.core.proto;
  }

  /** Reads and serves commands until the client goes away. */
  async run(): Promise<void> {
    const rb = this.#rb;
    try {
      while (!this.#sockClosed) {
        const wait = this.#gate.wait();
        if (wait !== null) {
          await wait;
          // Bytes left unconsumed while paused are served before reading more.
          if (!this.#finishing && rb.end > rb.start) this.#feed(false);
          continue;
        }
        const view = rb.space();
        const moved = rb.moved;
        const n = await this.#sock.read(view);
        if (n === null) break;
        rb.end += n;
        this.#bytesIn?.(n);
        if (this.#finishing) rb.consume(rb.end); // after the last reply: read to EOF, discard
        else this.#feed(moved);
      }
    } catch {
      // reset by peer, or closed by us
    }
    this.#closeSocket();
    this.core.close();
  }

  #feed(moved: boolean): void {
    const rb = this.#rb;
    rb.consume(this.core.feed(rb.buf, rb.start, rb.end, moved));
  }

  /** Closes the session now (its pinned node connection too). */
  close(): void {
    this.core.close();
  }

  /** Finishes in-flight replies, then closes (drain on reload or shutdown). */
  drain(): void {
    this.core.drain();
  }

  /** The pinned node stopped serving this port: close after the owed reply. */
  leaveNode(): void {
    this.core.leaveNode();
  }

  #finish(): void {
    if (this.#finishing || this.#sockClosed) return;
    this.#finishing = true;
    this.#gate.resume();
    this.#maybeHalfClose();
  }

  /** Once every reply is written: FIN, then wait for the client's own close (bounded). */
  #maybeHalfClose(): void {
    if (this.#halfClosed || this.#sockClosed || this.#writer.pending > 0) return;
    this.#halfClosed = true;
    this.#sock.closeWrite().catch(() => this.#closeSocket());
    this.#linger = setTimeout(() => this.#closeSocket(), CLOSE_LINGER_MS);
  }

  #closeSocket(): void {
    if (this.#sockClosed) return;
    this.#sockClosed = true;
    if (this.#linger !== null) clearTimeout(this.#linger);
    this.#writer.close();
    this.#gate.resume();
    try {
      this.#sock.close();
    } catch {
      // already closed
    }
  }
}
