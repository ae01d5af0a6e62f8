/**
 * A `node:net` socket as the byte-stream socket the sessions use
 * (`read`/`write`/`closeWrite`/`close`, like a Deno.TcpConn). Only
 * listeners inherited from an upgraded process accept with `node:net`
 * (Deno.listen cannot take a descriptor); freshly bound ones use Deno.
 *
 * Reads copy from the chunks `node:net` emits; past
 * {@link NODE_SOCKET_READ_AHEAD} unread bytes the socket is paused, so a
 * session that stops reading stops the client as with a Deno socket.
 * A write resolves once `node:net` has handed the bytes to the kernel, so
 * the writer can reuse its chunk.
 *
 * @module
 */

import type { Socket as NetSocket } from "node:net";
import { NODE_SOCKET_READ_AHEAD } from "../config/defaults.ts";

/** An accepted client socket, whatever accepted it. */
export interface AcceptedConn {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
  setNoDelay(on: boolean): void;
}

/** Adapter of a `node:net` socket to {@link AcceptedConn}. */
export class NodeConn implements AcceptedConn {
  #sock: NetSocket;
  #chunks: Uint8Array[] = [];
  #head = 0;
  #buffered = 0;
  #ended = false;
  #error: Error | null = null;
  #closed = false;
  #waiter: (() => void) | null = null;

  /** The client's address, `ip:port`. */
  get peer(): string {
    return `${this.#sock.remoteAddress ?? ""}:${this.#sock.remotePort ?? 0}`;
  }

  /** The listener's address, `ip:port`. */
  get local(): string {
    return `${this.#sock.localAddress ?? ""}:${this.#sock.localPort ?? 0}`;
  }

  /** Wraps an accepted `node:net` socket. */
  constructor(sock: NetSocket) {
    this.#sock = sock;
    sock.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
      if (this.#buffered > NODE_SOCKET_READ_AHEAD) sock.pause();
      this.#wake();
    });
    sock.on("end", () => {
      this.#ended = true;
      this.#wake();
    });
    sock.on("error", (err: Error) => {
      this.#error = err;
      this.#wake();
    });
    sock.on("close", () => {
      this.#ended = true;
      this.#wake();
    });
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = null;
    if (w !== null) w();
  }

  /** Copies buffered bytes into `p`; waits for some; null at the client's EOF. */
  async read(p: Uint8Array): Promise<number | null> {
    while (this.#buffered === 0) {
      if (this.#error !== null) throw this.#error;
      if (this.#ended || this.#closed) return null;
      await new Promise<void>((r) => this.#waiter = r);
    }
    let n = 0;
    while (n < p.length && this.#chunks.length > 0) {
      const c = this.#chunks[0];
      const take = Math.min(p.length - n, c.length - this.#head);
      p.set(c.subarray(this.#head, this.#head + take), n);
      n += take;
      this.#head += take;
      if (this.#head === c.length) {
        this.#chunks.shift();
        this.#head = 0;
      }
    }
    this.#buffered -= n;
    if (this.#buffered <= NODE_SOCKET_READ_AHEAD && this.#sock.isPaused()) this.#sock.resume();
    return n;
  }

  /** Writes all of `p`; resolves when it left for the kernel. */
  write(p: Uint8Array): Promise<number> {
    if (this.#closed || this.#sock.destroyed) {
      return Promise.reject(new Error("socket closed"));
    }
    return new Promise((resolve, reject) => {
      this.#sock.write(p, (err) => err ? reject(err) : resolve(p.length));
    });
  }

  /** Sends FIN; the client may still send. */
  closeWrite(): Promise<void> {
    return new Promise((resolve) => this.#sock.end(() => resolve()));
  }

  /** Closes now. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#sock.destroy();
    this.#wake();
  }

  /** TCP_NODELAY. */
  setNoDelay(on: boolean): void {
    this.#sock.setNoDelay(on);
  }
}
