/**
 * A fake replica for what a real redis-server cannot do: a small RESP server
 * that passes shardgate's health checks as an in-sync replica (`PING`,
 * `INFO`) and answers every other command through a test-supplied policy,
 * which may send malformed bytes, unasked-for replies, or nothing at all.
 *
 * @module
 */

import { LoopbackServer, writeAll } from "./_loopback.ts";

const te = new TextEncoder();
const td = new TextDecoder();

const CR = 13;
const LF = 10;

/** One command as the fake received it (multibulk from shardgate, decoded as text). */
export type FakeCommand = readonly string[];

/** What the policy tells the fake to do with one command. */
export type FakeAction =
  | { readonly kind: "reply"; readonly bytes: Uint8Array }
  | { readonly kind: "reply-and-close"; readonly bytes: Uint8Array }
  | { readonly kind: "stream"; readonly head: Uint8Array; readonly chunk: Uint8Array }
  | { readonly kind: "silence" };

/** Decides how the fake answers a command other than PING, INFO and HELLO; `conn` numbers its connections from 0. */
export type FakePolicy = (cmd: FakeCommand, conn: number) => FakeAction;

/** Options of {@linkcode FakeReplica}. */
export interface FakeReplicaOptions {
  /** Port of the real primary, reported as `master_port` (informational). */
  primaryPort: number;
  /** How to answer commands other than PING and INFO. */
  policy: FakePolicy;
  /** The `availability_zone` it reports in INFO and HELLO, as Valkey 8.1+ does (default none). */
  availabilityZone?: string;
}

/** A RESP bulk string frame, as text. */
export function bulkText(text: string): string {
  return `$${te.encode(text).length}\r\n${text}\r\n`;
}

/** A RESP bulk string frame. */
export function bulk(text: string): Uint8Array {
  return te.encode(bulkText(text));
}

/** A fake replica listening on a free loopback port until {@linkcode FakeReplica.close}. */
export class FakeReplica extends LoopbackServer {
  /** Commands answered through the policy so far. */
  commands = 0;
  /** Health-check commands (PING, INFO) answered so far. */
  checks = 0;
  /** Bytes written by `stream` actions so far. */
  streamed = 0;
  readonly #opts: FakeReplicaOptions;
  readonly #runId = crypto.randomUUID().replaceAll("-", "").padEnd(40, "0");
  readonly #started = Date.now();
  #nextId = 0;
  /** The `availability_zone` it reports now (null: none); tests may change it. */
  availabilityZone: string | null;

  /** Listens on 127.0.0.1 (a free port) and serves every connection. */
  constructor(opts: FakeReplicaOptions) {
    super();
    this.#opts = opts;
    this.availabilityZone = opts.availabilityZone ?? null;
    this.listen();
  }

  /** Sends `bytes` unasked on every open connection (a reply nobody asked for); returns how many. */
  async broadcast(bytes: Uint8Array): Promise<number> {
    let sent = 0;
    for (const c of [...this.conns]) {
      try {
        await writeAll(c, bytes);
        sent++;
      } catch {
        // closed meanwhile
      }
    }
    return sent;
  }

  /** Answers one connection's commands until it ends or an action ends it. */
  protected override async serve(c: Deno.Conn): Promise<void> {
    const id = this.#nextId++;
    const parser = new CommandReader();
    const buf = new Uint8Array(16 * 1024);
    try {
      for (;;) {
        const n = await c.read(buf);
        if (n === null) break;
        for (const cmd of parser.push(buf.subarray(0, n))) {
          if (!await this.#answer(c, id, cmd)) return;
        }
      }
    } catch {
      // reset, or closed by close()
    }
  }

  /** Answers one command; false when the connection is done. */
  async #answer(c: Deno.Conn, id: number, cmd: FakeCommand): Promise<boolean> {
    const name = (cmd[0] ?? "").toUpperCase();
    if (name === "PING") {
      this.checks++;
      await writeAll(c, te.encode("+PONG\r\n"));
      return true;
    }
    if (name === "INFO") {
      this.checks++;
      await writeAll(c, bulk(this.#info()));
      return true;
    }
    if (name === "HELLO") {
      await writeAll(c, this.#hello(cmd[1] === "3" ? 3 : 2));
      return true;
    }
    this.commands++;
    const action = this.#opts.policy(cmd, id);
    switch (action.kind) {
      case "reply":
        await writeAll(c, action.bytes);
        return true;
      case "reply-and-close":
        await writeAll(c, action.bytes);
        return false;
      case "silence":
        return true;
      case "stream":
        await writeAll(c, action.head);
        // Until shardgate gives up on the connection (its server timeout) or the fake closes.
        while (!this.closed) {
          await writeAll(c, action.chunk);
          this.streamed += action.chunk.length;
        }
        return false;
    }
  }

  /** HELLO's reply as a node gives it, a map in RESP3 and a flat array in RESP2. */
  #hello(proto: 2 | 3): Uint8Array {
    const fields: [string, string][] = [
      ["server", bulkText("redis")],
      ["version", bulkText("7.0.15")],
      ["proto", `:${proto}\r\n`],
      ["id", ":1\r\n"],
      ["mode", bulkText("standalone")],
      ["role", bulkText("replica")],
      ["modules", "*0\r\n"],
    ];
    const zone = this.availabilityZone;
    if (zone !== null) fields.push(["availability_zone", bulkText(zone)]);
    const head = proto === 3 ? `%${fields.length}\r\n` : `*${fields.length * 2}\r\n`;
    return te.encode(head + fields.map(([k, v]) => bulkText(k) + v).join(""));
  }

  #info(): string {
    const uptime = Math.floor((Date.now() - this.#started) / 1000);
    return [
      "# Server",
      "redis_version:7.0.15",
      `run_id:${this.#runId}`,
      `tcp_port:${this.port}`,
      `uptime_in_seconds:${uptime}`,
      ...(this.availabilityZone === null ? [] : [`availability_zone:${this.availabilityZone}`]),
      "# Replication",
      "role:slave",
      "master_host:127.0.0.1",
      `master_port:${this.#opts.primaryPort}`,
      "master_link_status:up",
      "master_last_io_seconds_ago:0",
      "master_sync_in_progress:0",
      "master_link_down_since_seconds:-1",
      "connected_slaves:0",
      "# Persistence",
      "loading:0",
      "async_loading:0",
      "",
    ].join("\r\n");
  }
}

/**
 * Splits the multibulk commands shardgate sends (always well formed) out of
 * a byte stream that arrives in arbitrary pieces.
 */
class CommandReader {
  #pending: Uint8Array = new Uint8Array(0);

  /** Appends bytes; returns the commands they complete. */
  push(bytes: Uint8Array): FakeCommand[] {
    const all = new Uint8Array(this.#pending.length + bytes.length);
    all.set(this.#pending);
    all.set(bytes, this.#pending.length);
    const out: FakeCommand[] = [];
    let pos = 0;
    for (;;) {
      const parsed = parseCommand(all, pos);
      if (parsed === null) break;
      out.push(parsed.args);
      pos = parsed.next;
    }
    this.#pending = all.slice(pos);
    return out;
  }
}

/** The line ending (CR offset) after `from`, or -1. */
function lineEnd(buf: Uint8Array, from: number): number {
  for (let i = from; i + 1 < buf.length; i++) if (buf[i] === CR && buf[i + 1] === LF) return i;
  return -1;
}

function parseCommand(buf: Uint8Array, pos: number): { args: string[]; next: number } | null {
  const head = lineEnd(buf, pos);
  if (head < 0) return null;
  const count = Number(td.decode(buf.subarray(pos + 1, head)));
  let p = head + 2;
  const args: string[] = [];
  for (let i = 0; i < count; i++) {
    const e = lineEnd(buf, p);
    if (e < 0) return null;
    const len = Number(td.decode(buf.subarray(p + 1, e)));
    const start = e + 2;
    if (start + len + 2 > buf.length) return null;
    args.push(td.decode(buf.subarray(start, start + len)));
    p = start + len + 2;
  }
  return { args, next: p };
}
