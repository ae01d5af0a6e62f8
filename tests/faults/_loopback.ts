/**
 * The socket plumbing the suite's small servers share (the fault relay and
 * the fake replica): listen on a free loopback port, serve each accepted
 * connection, track what is open, close everything on demand.
 *
 * @module
 */

/** A TCP server on 127.0.0.1 (a free port) that hands each connection to `serve`. */
export abstract class LoopbackServer implements AsyncDisposable {
  readonly #listener: Deno.TcpListener;
  readonly #conns = new Set<Deno.Conn>();
  readonly #tasks = new Set<Promise<void>>();
  #accepting: Promise<void> | null = null;
  #closed = false;

  /** Binds the port; call {@linkcode LoopbackServer.listen} once the subclass is ready. */
  constructor() {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  }

  /** `127.0.0.1:port`, for a shardgate config. */
  get address(): string {
    return `127.0.0.1:${this.#listener.addr.port}`;
  }

  /** The bound port. */
  get port(): number {
    return this.#listener.addr.port;
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Open connections (accepted ones and any the subclass adopted). */
  get conns(): ReadonlySet<Deno.Conn> {
    return this.#conns;
  }

  /** Serves one accepted connection; it is closed when this resolves. */
  protected abstract serve(conn: Deno.Conn): Promise<void>;

  /** Starts accepting. */
  protected listen(): void {
    this.#accepting ??= this.#accept();
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        this.adopt(conn);
        this.run(this.serve(conn).finally(() => this.drop(conn)));
      }
    } catch {
      // listener closed
    }
  }

  /** Tracks `conn` so `close()` closes it. */
  protected adopt(conn: Deno.Conn): void {
    this.#conns.add(conn);
  }

  /** Tracks a task so `close()` waits for it; its failure is ignored. */
  protected run(task: Promise<void>): void {
    const tracked = task.catch(() => {}).finally(() => this.#tasks.delete(tracked));
    this.#tasks.add(tracked);
  }

  /** Closes and forgets `conn` (idempotent). */
  protected drop(conn: Deno.Conn): void {
    this.#conns.delete(conn);
    try {
      conn.close();
    } catch {
      // already closed
    }
  }

  /** Stops listening and closes every connection; resolves once every task ended. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#listener.close();
    } catch {
      // closed
    }
    for (const c of [...this.#conns]) this.drop(c);
    await this.#accepting;
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Writes every byte of `bytes` to `conn`. */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}
