/**
 * A minimal RESP2 client for the benchmark's own chores (populate keys, read
 * INFO, hold idle sessions). Kept inside `bench/` so the benchmark measures
 * shardgate without depending on its code.
 *
 * @module
 */

import { type Supervisor, waitFor } from "./_procs.ts";

/** An error reply (`-ERR …`). */
export class ReplyError extends Error {
  /** Wraps the text of an error reply. */
  constructor(message: string) {
    super(message);
    this.name = "ReplyError";
  }
}

/** A decoded RESP2 reply. */
export type Reply = string | number | null | ReplyError | Reply[];

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes one command as a RESP array of bulk strings. */
export function encodeCommand(args: readonly string[]): Uint8Array {
  let text = `*${args.length}\r\n`;
  for (const a of args) text += `$${encoder.encode(a).length}\r\n${a}\r\n`;
  return encoder.encode(text);
}

/** Result of {@link decodeReply}: the reply and the offset after it, or null if incomplete. */
export type Decoded = { readonly reply: Reply; readonly end: number } | null;

function lineEnd(buf: Uint8Array, from: number, to: number): number {
  for (let i = from; i + 1 < to; i++) {
    if (buf[i] === 13 && buf[i + 1] === 10) return i;
  }
  return -1;
}

/**
 * Decodes one RESP2 reply from `buf[start..end)` (and the RESP3 types a
 * HELLO 3 reply uses: a map, as a flat array, and the null); null when more
 * bytes are needed.
 */
export function decodeReply(buf: Uint8Array, start: number, end: number): Decoded {
  if (start >= end) return null;
  const eol = lineEnd(buf, start + 1, end);
  if (eol < 0) return null;
  const head = decoder.decode(buf.subarray(start + 1, eol));
  const next = eol + 2;
  switch (buf[start]) {
    case 43: // +
      return { reply: head, end: next };
    case 45: // -
      return { reply: new ReplyError(head), end: next };
    case 58: // :
      return { reply: Number(head), end: next };
    case 36: { // $
      const len = Number(head);
      if (len < 0) return { reply: null, end: next };
      if (next + len + 2 > end) return null;
      return { reply: decoder.decode(buf.subarray(next, next + len)), end: next + len + 2 };
    }
    case 95: // _ (RESP3 null)
      return { reply: null, end: next };
    case 37: // % (RESP3 map: key, value, key, value...)
    case 42: { // *
      const n = Number(head) * (buf[start] === 37 ? 2 : 1);
      if (n < 0) return { reply: null, end: next };
      const items: Reply[] = [];
      let at = next;
      for (let i = 0; i < n; i++) {
        const d = decodeReply(buf, at, end);
        if (d === null) return null;
        items.push(d.reply);
        at = d.end;
      }
      return { reply: items, end: at };
    }
    default:
      throw new Error(`not a RESP reply (first byte ${buf[start]})`);
  }
}

/**
 * redis-server's arguments for a benchmark node named `name` on
 * `host:port`: no persistence, its files and log in `dir`, replicas synced
 * without delay, then `extra`.
 */
export function redisServerArgs(
  name: string,
  host: string,
  port: number,
  dir: string,
  extra: readonly string[] = [],
): string[] {
  return [
    "--port",
    String(port),
    "--bind",
    host,
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    dir,
    "--dbfilename",
    `${name}.rdb`,
    "--logfile",
    `${dir}/${name}.log`,
    "--repl-diskless-sync-delay",
    "0",
    ...extra,
  ];
}

/**
 * Starts a benchmark redis-server named `name` on 127.0.0.1:`port` under
 * `sup` (its files in a new temporary directory, then `extra` arguments);
 * resolves to a connection to it once it answers.
 */
export async function startRedisServer(
  sup: Supervisor,
  name: string,
  port: number,
  extra: readonly string[] = [],
): Promise<MiniRedis> {
  const dir = Deno.makeTempDirSync();
  sup.spawn(name, "redis-server", redisServerArgs(name, "127.0.0.1", port, dir, extra));
  return await waitFor(`redis ${port}`, 30_000, async () => {
    try {
      return await MiniRedis.connect("127.0.0.1", port);
    } catch {
      return undefined;
    }
  });
}

/** How long one command may take before the connection is closed. */
export const COMMAND_TIMEOUT_MS = 30_000;

/** One connection; commands are sent in order and replies read in order. */
export class MiniRedis {
  #conn: Deno.TcpConn;
  #buf = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;
  #closed = false;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  /** Connects to `host:port`. */
  static async connect(host: string, port: number): Promise<MiniRedis> {
    const conn = await Deno.connect({ hostname: host, port });
    conn.setNoDelay(true);
    return new MiniRedis(conn);
  }

  /** Sends one command and returns its reply (an error reply is returned, not thrown). */
  async command(...args: string[]): Promise<Reply> {
    const [reply] = await this.pipeline([args]);
    return reply;
  }

  /** Sends commands in one write and returns their replies in order. */
  async pipeline(commands: readonly (readonly string[])[]): Promise<Reply[]> {
    const parts = commands.map(encodeCommand);
    const total = parts.reduce((n, p) => n + p.length, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    const timer = setTimeout(() => this.close(), COMMAND_TIMEOUT_MS);
    try {
      await this.#writeAll(out);
      const replies: Reply[] = [];
      while (replies.length < commands.length) replies.push(await this.#readReply());
      return replies;
    } finally {
      clearTimeout(timer);
    }
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.length) at += await this.#conn.write(bytes.subarray(at));
  }

  async #readReply(): Promise<Reply> {
    while (true) {
      const d = decodeReply(this.#buf, this.#start, this.#end);
      if (d !== null) {
        this.#start = d.end;
        return d.reply;
      }
      if (this.#start > 0) {
        this.#buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      }
      if (this.#end === this.#buf.length) {
        const bigger = new Uint8Array(this.#buf.length * 2);
        bigger.set(this.#buf.subarray(0, this.#end));
        this.#buf = bigger;
      }
      const n = await this.#conn.read(this.#buf.subarray(this.#end));
      if (n === null) throw new Error("connection closed by the server");
      this.#end += n;
    }
  }

  /** Closes the connection (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }
}

/** Parses `INFO` text into a map of `field → value` (section headers skipped). */
export function parseInfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (line === "" || line.startsWith("#")) continue;
    const i = line.indexOf(":");
    if (i > 0) out.set(line.slice(0, i), line.slice(i + 1));
  }
  return out;
}

/** One entry of `CLIENT LIST`: its `key=value` fields. */
export type ClientEntry = ReadonlyMap<string, string>;

/** Parses `CLIENT LIST` text. */
export function parseClientList(text: string): ClientEntry[] {
  return text.split(/\r?\n/).filter((l) => l.trim() !== "").map((line) => {
    const m = new Map<string, string>();
    for (const part of line.trim().split(" ")) {
      const i = part.indexOf("=");
      if (i > 0) m.set(part.slice(0, i), part.slice(i + 1));
    }
    return m;
  });
}
