/**
 * A tiny persistent connection for active checks: send a few pipelined
 * commands, get their replies back. Replies are framed by the shared RESP
 * scanner; only the types a check needs (simple string, error, bulk string)
 * are decoded. A read loop runs all the time, so a connection closed by the
 * peer is noticed at once, not at the next check.
 *
 * @module
 */

import { READ_BUFFER_SIZE } from "../config/defaults.ts";
import type { Address, AuthConfig, TlsConfig } from "../config/types.ts";
import { authCommand, dialNode } from "../net/mod.ts";
import { INCOMPLETE, scanReply } from "../resp/mod.ts";

/** The byte stream a check runs over (Deno.TcpConn and Deno.TlsConn fit). */
export interface CheckSocket {
  /** Reads into `p`; null at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes some of `p`; returns how many bytes. */
  write(p: Uint8Array): Promise<number>;
  /** Closes the socket. */
  close(): void;
  /** TLS only: completes the handshake (so certificate errors surface while connecting). */
  handshake?(): Promise<unknown>;
  /** The peer address, when known (to match the primary's view of a replica). */
  readonly remoteAddr?: Deno.Addr;
}

/** Options passed to a {@linkcode ConnectFn}. */
export interface ConnectOptions {
  /** TLS settings, or null for plain TCP. */
  readonly tls: TlsConfig | null;
  /** The check timeout: connecting must give up after it. */
  readonly timeoutMs: number;
  /** Aborted when the check times out or stops. */
  readonly signal: AbortSignal;
}

/** Opens a check connection to a node (injectable for tests). */
export type ConnectFn = (address: Address, opts: ConnectOptions) => Promise<CheckSocket>;

/**
 * The real connect: the same dialling as the proxy's traffic
 * ({@linkcode dialNode}: TCP, then TLS with `servername`/`caFile`;
 * `insecure` skips the certificate name check), bounded by the check timeout.
 */
export function realConnect(address: Address, opts: ConnectOptions): Promise<CheckSocket> {
  return dialNode(address, { tls: opts.tls, connectMs: opts.timeoutMs });
}

/** A decoded reply: the few shapes a check looks at. */
export type Reply =
  | { readonly type: "simple"; readonly text: string }
  | { readonly type: "error"; readonly text: string }
  | { readonly type: "bulk"; readonly text: string | null }
  | { readonly type: "integer"; readonly value: number }
  | { readonly type: "other" };

interface Waiter {
  readonly want: number;
  readonly replies: Reply[];
  readonly resolve: (r: Reply[]) => void;
  readonly reject: (e: Error) => void;
}

const decoder = new TextDecoder();

/** Decodes the reply at buf[pos..end) (end is past its final CRLF). */
function decodeReply(buf: Uint8Array, pos: number, end: number): Reply {
  const type = buf[pos];
  if (type === 43) return { type: "simple", text: decoder.decode(buf.subarray(pos + 1, end - 2)) };
  if (type === 45) return { type: "error", text: decoder.decode(buf.subarray(pos + 1, end - 2)) };
  if (type === 58) {
    return { type: "integer", value: Number(decoder.decode(buf.subarray(pos + 1, end - 2))) };
  }
  if (type === 36) {
    let i = pos + 1;
    while (buf[i] !== 13) i++;
    const len = Number(decoder.decode(buf.subarray(pos + 1, i)));
    if (len < 0) return { type: "bulk", text: null };
    return { type: "bulk", text: decoder.decode(buf.subarray(i + 2, i + 2 + len)) };
  }
  return { type: "other" };
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A check connection: pipelined request/replies plus an always-on read loop. */
export class CheckConn {
  #sock: CheckSocket;
  #buf = new Uint8Array(READ_BUFFER_SIZE);
  #start = 0;
  #end = 0;
  #waiters: Waiter[] = [];
  #closed = false;
  #closing = false;
  #loop: Promise<void>;
  #onLost: (why: string) => void;

  /** Wraps a connected socket; `onLost` is called once if the peer closes or resets it. */
  constructor(sock: CheckSocket, onLost: (why: string) => void) {
    this.#sock = sock;
    this.#onLost = onLost;
    this.#loop = this.#readLoop();
  }

  /** Connects, and sends AUTH first when `auth` is set; rejects when AUTH is refused. */
  static async open(
    connect: ConnectFn,
    address: Address,
    tls: TlsConfig | null,
    auth: AuthConfig | null,
    timeoutMs: number,
    signal: AbortSignal,
    onLost: (why: string) => void,
  ): Promise<CheckConn> {
    let sock: CheckSocket;
    try {
      sock = await connect(address, { tls, timeoutMs, signal });
    } catch (e) {
      throw new Error(`connect: ${errorText(e)}`);
    }
    try {
      await sock.handshake?.();
    } catch (e) {
      sock.close();
      throw new Error(`connect: ${errorText(e)}`);
    }
    const conn = new CheckConn(sock, onLost);
    const authCmd = authCommand(auth);
    if (authCmd !== null) {
      try {
        const [reply] = await conn.send([authCmd], signal);
        if (reply.type !== "simple") {
          throw new Error(
            `AUTH refused: ${reply.type === "error" ? reply.text : "unexpected reply"}`,
          );
        }
      } catch (e) {
        await conn.close();
        throw e;
      }
    }
    return conn;
  }

  /** True once the connection is closed (by us or the peer). */
  get closed(): boolean {
    return this.#closed;
  }

  /** The peer IP, when the socket knows it. */
  get remoteIp(): string | null {
    const a = this.#sock.remoteAddr;
    return a !== undefined && (a.transport === "tcp" || a.transport === "udp") ? a.hostname : null;
  }

  /**
   * Writes `commands` in one write and resolves with their replies. Rejects
   * (and closes the connection) when it closes first or `signal` aborts.
   */
  send(commands: Uint8Array[], signal: AbortSignal): Promise<Reply[]> {
    if (this.#closed) return Promise.reject(new Error("connection closed"));
    if (signal.aborted) return Promise.reject(new Error("aborted"));
    let total = 0;
    for (const c of commands) total += c.length;
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of commands) {
      out.set(c, at);
      at += c.length;
    }
    return new Promise<Reply[]>((resolve, reject) => {
      const onAbort = () => {
        void this.close();
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push({
        want: commands.length,
        replies: [],
        resolve: (r) => {
          signal.removeEventListener("abort", onAbort);
          resolve(r);
        },
        reject: (e) => {
          signal.removeEventListener("abort", onAbort);
          reject(e);
        },
      });
      this.#writeAll(out).catch((e) => this.#fail(`write failed: ${errorText(e)}`, true));
    });
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) off += await this.#sock.write(bytes.subarray(off));
  }

  /** Closes the connection; pending sends reject. Resolves when the read loop ended. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closing = true;
      this.#fail("connection closed", false);
    }
    await this.#loop;
  }

  #fail(why: string, lost: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#sock.close();
    } catch {
      // already closed
    }
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(new Error(why));
    if (lost && !this.#closing) this.#onLost(why);
  }

  async #readLoop(): Promise<void> {
    try {
      while (!this.#closed) {
        if (this.#end === this.#buf.length) this.#makeRoom();
        const n = await this.#sock.read(this.#buf.subarray(this.#end));
        if (n === null) {
          this.#fail("connection closed by the node", true);
          return;
        }
        this.#end += n;
        this.#drain();
      }
    } catch (e) {
      this.#fail(`connection lost: ${errorText(e)}`, true);
    }
  }

  #makeRoom(): void {
    const used = this.#end - this.#start;
    if (this.#start > 0 && used < this.#buf.length / 2) {
      this.#buf.copyWithin(0, this.#start, this.#end);
    } else {
      const next = new Uint8Array(this.#buf.length * 2);
      next.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = next;
    }
    this.#start = 0;
    this.#end = used;
  }

  /** Hands complete replies to the oldest waiter. Throws on garbage (caught by the loop). */
  #drain(): void {
    while (this.#start < this.#end) {
      const past = scanReply(this.#buf, this.#start, this.#end);
      if (past === INCOMPLETE) break;
      const w = this.#waiters[0];
      if (w === undefined) throw new Error("unexpected reply from the node");
      w.replies.push(decodeReply(this.#buf, this.#start, past));
      this.#start = past;
      if (w.replies.length === w.want) {
        this.#waiters.shift();
        w.resolve(w.replies);
      }
    }
    if (this.#start === this.#end) {
      this.#start = 0;
      this.#end = 0;
    }
  }
}
