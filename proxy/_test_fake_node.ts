/**
 * Test-only fake Redis nodes, for what a real redis-server cannot do (a
 * reply that stalls half-way, a malformed or unasked-for reply, a node that
 * drops every command). Used by the proxy's unit tests.
 *
 * @module
 */

import { parseConfig } from "../config/mod.ts";
import { silentLogger } from "../telemetry/logger.ts";
import { CommandStats } from "../telemetry/mod.ts";
import type { PassiveErrorKind } from "../config/types.ts";
import { COMMAND_NAMES } from "../resp/mod.ts";
import { Shard } from "./mod.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/** How a fake node answers: the reply to its n-th command, or null for none. */
export type FakeReply = (n: number) => Uint8Array | null;

/** A fake node on a free loopback port. */
export class FakeNode {
  /** Its listening socket. */
  readonly listener: Deno.TcpListener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  /** Commands received so far (each `*N` multibulk counts once). */
  commands = 0;
  #conns: Deno.Conn[] = [];
  #reply: FakeReply;
  #dropAfterFirst: boolean;
  #done: Promise<void>;

  /**
   * A node answering each command with `reply(n)`; with `drop`, it closes
   * the connection as soon as a command arrives instead (a dying node).
   */
  constructor(reply: FakeReply, opts: { drop?: boolean } = {}) {
    this.#reply = reply;
    this.#dropAfterFirst = opts.drop ?? false;
    this.#done = this.#accept();
  }

  /** `127.0.0.1:port`. */
  get address(): string {
    return `127.0.0.1:${this.listener.addr.port}`;
  }

  async #accept(): Promise<void> {
    const serving: Promise<void>[] = [];
    try {
      for await (const c of this.listener) {
        this.#conns.push(c);
        serving.push(this.#serve(c));
      }
    } catch {
      // closed
    }
    await Promise.allSettled(serving);
  }

  async #serve(c: Deno.Conn): Promise<void> {
    const buf = new Uint8Array(4096);
    let pending = "";
    try {
      while (true) {
        const n = await c.read(buf);
        if (n === null) break;
        pending += td.decode(buf.subarray(0, n));
        // Commands here are small multibulks; one starts at each "*" line start.
        const count = pending.split(/(?:^|\r\n)\*/).length - 1;
        pending = pending.slice(pending.lastIndexOf("\r\n") + 2);
        for (let i = 0; i < count; i++) {
          this.commands++;
          if (this.#dropAfterFirst) {
            c.close();
            return;
          }
          const out = this.#reply(this.commands - 1);
          if (out !== null) await c.write(out);
        }
      }
    } catch {
      // reset
    }
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    this.listener.close();
    for (const c of this.#conns) {
      try {
        c.close();
      } catch {
        // closed
      }
    }
    await this.#done;
  }
}

/** A fixed reply for every command. */
export function always(text: string): FakeReply {
  const bytes = te.encode(text);
  return () => bytes;
}

/**
 * A proxy shard over `nodes`, with `extra` shard settings; it records
 * passive errors, and counts commands in a `commandStats` as app.ts wires it.
 */
export function testShard(
  nodes: string[],
  extra = "",
): { shard: Shard; errors: [string, PassiveErrorKind][] } {
  const errors: [string, PassiveErrorKind][] = [];
  const res = parseConfig(
    `shards:\n  s:\n    readers: 127.0.0.1:0\n    nodes: [${nodes.join(", ")}]\n${extra}`,
    "test.yaml",
    {},
  );
  if (res.config === null) throw new Error(JSON.stringify(res.issues));
  const shard = new Shard(res.config.shards[0], {
    logger: silentLogger,
    onNodeError: (id, kind) => errors.push([id, kind]),
    commandStats: new CommandStats(COMMAND_NAMES),
  });
  return { shard, errors };
}

/** Sends `payload` on a new connection and reads until `lines` CRLF-ended lines arrived. */
export async function request(port: number, payload: string, lines: number): Promise<string> {
  const c = await Deno.connect({ port });
  try {
    await c.write(te.encode(payload));
    const buf = new Uint8Array(4096);
    let text = "";
    const deadline = Date.now() + 10_000;
    while (text.split("\r\n").length - 1 < lines && Date.now() < deadline) {
      const n = await c.read(buf);
      if (n === null) break;
      text += td.decode(buf.subarray(0, n));
    }
    return text;
  } finally {
    c.close();
  }
}

/** One GET as a client sends it. */
export const GET = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
