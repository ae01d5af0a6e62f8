/**
 * A raw TCP client for the protocol edges real libraries hide: exact reply
 * bytes, RESP3 without a library's decoding, and whether the connection
 * ended with a FIN or a reset.
 *
 * @module
 */

const te = new TextEncoder();

/** What a raw exchange read. */
export interface RawResult {
  /** Every byte read, as latin1 text (byte-exact). */
  readonly text: string;
  /** True when the connection ended with a reset instead of a clean EOF. */
  readonly reset: boolean;
}

/** A raw connection to 127.0.0.1:`port`. */
export class RawConn {
  #conn: Deno.TcpConn;
  #buf = new Uint8Array(64 * 1024);
  #have = "";

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  /** Connects. */
  static async open(port: number): Promise<RawConn> {
    return new RawConn(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Sends bytes (a string is sent as latin1/UTF-8 text). */
  async send(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? te.encode(data) : data;
    let off = 0;
    while (off < bytes.length) off += await this.#conn.write(bytes.subarray(off));
  }

  /** Reads until the text read so far satisfies `done` (or EOF); returns all of it and clears it. */
  async readUntil(done: (text: string) => boolean, timeoutMs = 5000): Promise<string> {
    const deadline = setTimeout(() => this.close(), timeoutMs);
    try {
      while (!done(this.#have)) {
        const n = await this.#conn.read(this.#buf);
        if (n === null) break;
        this.#have += latin1(this.#buf.subarray(0, n));
      }
    } finally {
      clearTimeout(deadline);
    }
    const out = this.#have;
    this.#have = "";
    return out;
  }

  /** Reads to EOF; tells whether it ended with a reset. */
  async readToEnd(timeoutMs = 5000): Promise<RawResult> {
    const deadline = setTimeout(() => this.close(), timeoutMs);
    let reset = false;
    try {
      for (;;) {
        const n = await this.#conn.read(this.#buf);
        if (n === null) break;
        this.#have += latin1(this.#buf.subarray(0, n));
      }
    } catch (e) {
      reset = e instanceof Deno.errors.ConnectionReset;
      if (!reset) throw e;
    } finally {
      clearTimeout(deadline);
    }
    const text = this.#have;
    this.#have = "";
    return { text, reset };
  }

  /** Closes it (idempotent). */
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

function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
}

/** A command as a RESP multibulk frame. */
export function frame(...args: string[]): string {
  return `*${args.length}\r\n` + args.map((a) => `$${te.encode(a).length}\r\n${a}\r\n`).join("");
}

/**
 * Sends `command` on a fresh RESP3 connection (after HELLO 3) and returns
 * the reply's exact bytes, read until `complete` says the reply is whole.
 */
export async function resp3Reply(
  port: number,
  command: string[],
  complete: (text: string) => boolean,
): Promise<string> {
  using c = await RawConn.open(port);
  await c.send(frame("HELLO", "3"));
  await c.readUntil((t) => t.includes("modules"));
  await c.send(frame(...command));
  return await c.readUntil(complete);
}
