/**
 * Raw TCP exchanges with a shardgate port, for clients no library would
 * be: garbage, half frames, one byte at a time, thousands of idle sockets.
 *
 * @module
 */

import { writeAll } from "./_loopback.ts";

/** How long a read waits for the next byte before it calls the peer quiet. */
const DEFAULT_IDLE_MS = 300;
/** How long `ask` waits for a reply it knows is due (a busy machine, thousands of sockets). */
const EXPECTED_REPLY_MS = 5_000;
const READ_SIZE = 64 * 1024;

/** What came back. */
export interface Exchanged {
  /** Everything received, decoded as UTF-8 (lossy). */
  text: string;
  /** Bytes received. */
  bytes: number;
  /** True when the server closed (or reset) the connection; false when it went silent. */
  closed: boolean;
}

/**
 * A raw client connection. A read that is still waiting when the peer was
 * called quiet stays pending for the next call, so no byte is lost between
 * two exchanges on one connection.
 */
export class RawConn implements Disposable {
  readonly #conn: Deno.Conn;
  readonly #buf = new Uint8Array(READ_SIZE);
  readonly #td = new TextDecoder();
  #pending: Promise<number | null> | null = null;
  #ended = false;

  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Connects to 127.0.0.1:`port`. */
  static async open(port: number): Promise<RawConn> {
    return new RawConn(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Writes `data`; throws if the server closed or reset the connection. */
  async send(data: Uint8Array | string): Promise<void> {
    await writeAll(this.#conn, typeof data === "string" ? new TextEncoder().encode(data) : data);
  }

  /** Half-closes: the server reads end of stream after what was sent. */
  async shutdownWrite(): Promise<void> {
    await this.#conn.closeWrite();
  }

  /**
   * Reads until the server closes the connection or `idleMs` pass without a
   * byte; the idle clock starts only once `after` settled (e.g. the writes).
   * With `until`, returns as soon as what arrived satisfies it.
   */
  async readQuiet(
    idleMs = DEFAULT_IDLE_MS,
    after?: Promise<unknown>,
    until?: (text: string) => boolean,
  ): Promise<Exchanged> {
    const chunks: string[] = [];
    let bytes = 0;
    while (!this.#ended) {
      if (until !== undefined && bytes > 0 && until(chunks.join(""))) {
        return { text: chunks.join(""), bytes, closed: false };
      }
      this.#pending ??= this.#conn.read(this.#buf).catch(() => null);
      let timer: ReturnType<typeof setTimeout> | undefined;
      let raced = false;
      const quiet = (after ?? Promise.resolve()).then(() =>
        new Promise<"quiet">((r) => {
          if (!raced) timer = setTimeout(() => r("quiet"), idleMs);
        })
      );
      const n = await Promise.race([this.#pending, quiet]).finally(() => {
        raced = true;
        clearTimeout(timer);
      });
      if (n === "quiet") return { text: chunks.join(""), bytes, closed: false };
      this.#pending = null;
      if (n === null) {
        this.#ended = true;
        break;
      }
      bytes += n;
      chunks.push(this.#td.decode(this.#buf.subarray(0, n), { stream: true }));
    }
    return { text: chunks.join(""), bytes, closed: true };
  }

  /**
   * Writes `data` and returns what comes back until the server goes quiet
   * or closes, or (with `expected`) as soon as that much has arrived.
   */
  async ask(data: Uint8Array | string, expected?: string): Promise<Exchanged> {
    await this.send(data);
    if (expected === undefined) return await this.readQuiet();
    // A reply is due: only a long silence means there is none.
    return await this.readQuiet(EXPECTED_REPLY_MS, undefined, (t) => t.length >= expected.length);
  }

  /** Closes the connection (idempotent). */
  close(): void {
    try {
      this.#conn.close();
    } catch {
      // closed
    }
  }

  /** Same as `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** Options of {@linkcode exchange}. */
export interface ExchangeOptions {
  /** Stop reading after this long without a byte (the server waits for more); default 300 ms. */
  idleMs?: number;
  /** Pause between two pieces; default 0. */
  gapMs?: number;
  /** Half-close after the last piece. */
  shutdownWrite?: boolean;
}

/**
 * One-shot: connects to 127.0.0.1:`port`, writes `pieces` in order, then
 * reads until the server closes the connection or stays silent for
 * `idleMs`. A write the server refused (it already closed) ends the
 * writing, not the call.
 */
export async function exchange(
  port: number,
  pieces: readonly (Uint8Array | string)[],
  opts: ExchangeOptions = {},
): Promise<Exchanged> {
  using conn = await RawConn.open(port);
  const writing = (async () => {
    for (const p of pieces) {
      await conn.send(p);
      if (opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
    }
    if (opts.shutdownWrite) await conn.shutdownWrite();
  })().catch(() => {
    // the server closed or reset the connection: what it said is being read
  });
  // Read while writing (a server that answers early must not block on us).
  return await conn.readQuiet(opts.idleMs, writing);
}

/**
 * Makes sure this process (and what it spawns from now on) may open `n`
 * files: raises the soft limit with `prlimit` when the hard limit allows,
 * else throws saying what is needed.
 */
export async function ensureOpenFiles(n: number): Promise<void> {
  const limits = () => {
    const line = Deno.readTextFileSync("/proc/self/limits").split("\n")
      .find((l) => l.startsWith("Max open files")) ?? "";
    const [soft, hard] = line.replace("Max open files", "").trim().split(/\s+/);
    const num = (v: string) => v === "unlimited" ? Infinity : Number(v);
    return { soft: num(soft), hard: num(hard) };
  };
  const { soft, hard } = limits();
  if (soft >= n) return;
  if (hard >= n) {
    await new Deno.Command("prlimit", {
      args: ["--pid", String(Deno.pid), `--nofile=${n}:${hard === Infinity ? "unlimited" : hard}`],
      stdout: "null",
      stderr: "null",
    }).output().catch(() => null);
    if (limits().soft >= n) return;
  }
  throw new Error(`this test needs ${n} open files (ulimit -n is ${soft}, hard ${hard})`);
}
