/**
 * Backend availability against fake nodes: a node whose connection breaks
 * with commands in flight is avoided for a moment, so the retries of its
 * reads reach a node that can answer instead of running out on dead ones.
 */

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { parseConfig } from "../config/mod.ts";
import { silentLogger } from "../telemetry/logger.ts";
import { Shard } from "./mod.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/** A fake node that closes every connection as soon as a command arrives (a dying node). */
class DyingNode {
  readonly listener: Deno.TcpListener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  received = 0;
  #done: Promise<void>;

  constructor() {
    this.#done = this.#accept();
  }

  get address(): string {
    return `127.0.0.1:${this.listener.addr.port}`;
  }

  async #accept(): Promise<void> {
    const serving: Promise<void>[] = [];
    try {
      for await (const c of this.listener) serving.push(this.#serve(c));
    } catch {
      // closed
    }
    await Promise.allSettled(serving);
  }

  async #serve(c: Deno.Conn): Promise<void> {
    try {
      if (await c.read(new Uint8Array(1024)) !== null) this.received++;
    } catch {
      // reset
    }
    try {
      c.close();
    } catch {
      // closed
    }
  }

  async close(): Promise<void> {
    this.listener.close();
    await this.#done;
  }
}

/** A fake node that answers every command with `+PONG` (commands are read loosely). */
class AnsweringNode {
  readonly listener: Deno.TcpListener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  readonly conns: Deno.Conn[] = [];
  #done: Promise<void>;

  constructor() {
    this.#done = this.#accept();
  }

  get address(): string {
    return `127.0.0.1:${this.listener.addr.port}`;
  }

  async #accept(): Promise<void> {
    const serving: Promise<void>[] = [];
    try {
      for await (const c of this.listener) {
        this.conns.push(c);
        serving.push(this.#serve(c));
      }
    } catch {
      // closed
    }
    await Promise.allSettled(serving);
  }

  async #serve(c: Deno.Conn): Promise<void> {
    const buf = new Uint8Array(1024);
    try {
      while (await c.read(buf) !== null) await c.write(te.encode("+PONG\r\n"));
    } catch {
      // reset
    }
  }

  async close(): Promise<void> {
    this.listener.close();
    for (const c of this.conns) {
      try {
        c.close();
      } catch {
        // closed
      }
    }
    await this.#done;
  }
}

Deno.test("Backend avoids a node whose connection broke with commands in flight, so retries reach the primary", async () => {
  const a = new DyingNode();
  const b = new DyingNode();
  const primary = new AnsweringNode();
  const res = parseConfig(
    `shards:\n  s:\n    readers: 127.0.0.1:0\n    retries: 2\n    fallback: primary\n` +
      `    nodes: [${a.address}, ${b.address}, ${primary.address}]\n`,
    "test.yaml",
    {},
  );
  if (res.config === null) throw new Error(JSON.stringify(res.issues));
  const shard = new Shard(res.config.shards[0], { logger: silentLogger });
  // Both replicas still look healthy: the health checker has not noticed yet.
  shard.setRoutes({
    readers: [a.address, b.address],
    primary: primary.address,
    primaryProblem: null,
  });
  const c = { conn: null as Deno.TcpConn | null };
  try {
    shard.start();
    c.conn = await Deno.connect({ port: shard.bound()[0].port });
    await c.conn.write(te.encode("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"));
    const buf = new Uint8Array(1024);
    let text = "";
    while (!text.endsWith("\r\n")) {
      const n = await c.conn.read(buf);
      if (n === null) break;
      text += td.decode(buf.subarray(0, n));
    }
    // One attempt on each dying replica, then the primary: not a third try
    // on a replica that just dropped the command.
    assertEquals(text, "+PONG\r\n");
    assertEquals(a.received + b.received, 2);
  } finally {
    c.conn?.close();
    await shard.close(0);
    await Promise.all([a.close(), b.close(), primary.close()]);
  }
});
