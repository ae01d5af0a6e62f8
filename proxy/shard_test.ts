/**
 * The proxy against fake nodes, for what a real redis-server cannot do: a
 * reply that stalls half-way, a malformed reply, a reply nobody asked for.
 * Everything else is tested against real servers under tests/.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { parseConfig } from "../config/mod.ts";
import { silentLogger } from "../telemetry/logger.ts";
import { type PassiveErrorKind, Shard } from "./mod.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/** A fake node: answers each complete inline/multibulk GET with `reply(n)` for the n-th command. */
class FakeNode {
  readonly listener: Deno.TcpListener;
  readonly conns: Deno.Conn[] = [];
  commands = 0;
  #reply: (n: number) => Uint8Array | null;
  #done: Promise<void>;

  constructor(reply: (n: number) => Uint8Array | null) {
    this.listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#reply = reply;
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
    const buf = new Uint8Array(4096);
    let text = "";
    try {
      while (true) {
        const n = await c.read(buf);
        if (n === null) break;
        text += td.decode(buf.subarray(0, n));
        // Count commands by their "*N" headers (tests send simple commands only).
        let i: number;
        while ((i = text.indexOf("GET\r\n")) >= 0) {
          const end = text.indexOf("\r\n", text.indexOf("\r\n", i + 5) + 2) + 2;
          if (end < 2) break;
          text = text.slice(end);
          const out = this.#reply(this.commands++);
          if (out !== null) await c.write(out);
        }
      }
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

function shardFor(nodes: string[], extra = ""): Shard {
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
  });
  (shard as unknown as { errors: typeof errors }).errors = errors;
  return shard;
}

async function request(port: number, payload: string, replies: number): Promise<string> {
  const c = await Deno.connect({ port });
  try {
    await c.write(te.encode(payload));
    const buf = new Uint8Array(4096);
    let text = "";
    const deadline = Date.now() + 10_000;
    // Each reply here is one line ("$N\r\nxxx\r\n" counts as two lines).
    while (text.split("\r\n").length - 1 < replies && Date.now() < deadline) {
      const n = await c.read(buf);
      if (n === null) break;
      text += td.decode(buf.subarray(0, n));
    }
    return text;
  } finally {
    c.close();
  }
}

const GET = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";

Deno.test("Shard retries a read whose reply stalls half-way past the server timeout", async () => {
  // The first node sends half a reply and stalls; the second answers properly.
  const stalling = new FakeNode(() => te.encode("$5\r\nhel"));
  const good = new FakeNode(() => te.encode("$5\r\nhello\r\n"));
  const shard = shardFor(
    [stalling.address, good.address],
    "    timeouts: { server: 200ms }\n    retries: 1",
  );
  try {
    shard.start();
    const port = shard.bound()[0].port;
    // Two sequential reads: round robin sends one of them to the stalling node.
    for (let i = 0; i < 2; i++) assertEquals(await request(port, GET, 2), "$5\r\nhello\r\n");
    assert(stalling.commands >= 1, "the stalling node never got a command");
    const errors = (shard as unknown as { errors: [string, string][] }).errors;
    assert(
      errors.some(([id, kind]) => id === stalling.address && kind === "timeout"),
      JSON.stringify(errors),
    );
  } finally {
    await shard.close(0);
    await stalling.close();
    await good.close();
  }
});

Deno.test("Shard treats a malformed reply as a protocol error and retries the read elsewhere", async () => {
  const broken = new FakeNode(() => te.encode("?garbage\r\n"));
  const good = new FakeNode(() => te.encode("+fine\r\n"));
  const shard = shardFor([broken.address, good.address], "    retries: 1");
  try {
    shard.start();
    const port = shard.bound()[0].port;
    for (let i = 0; i < 2; i++) assertEquals(await request(port, GET, 1), "+fine\r\n");
    const errors = (shard as unknown as { errors: [string, string][] }).errors;
    assert(
      errors.some(([id, kind]) => id === broken.address && kind === "protocol"),
      JSON.stringify(errors),
    );
  } finally {
    await shard.close(0);
    await broken.close();
    await good.close();
  }
});

Deno.test("Shard gives a read the error once retries are exhausted", async () => {
  const broken = new FakeNode(() => te.encode("?garbage\r\n"));
  const shard = shardFor([broken.address], "    retries: 1");
  try {
    shard.start();
    const port = shard.bound()[0].port;
    const text = await request(port, GET, 1);
    assert(
      /^-ERR shardgate: protocol error on 127\.0\.0\.1:\d+; read failed after 1 attempt\r\n$/.test(
        text,
      ),
      text,
    );
  } finally {
    await shard.close(0);
    await broken.close();
  }
});

Deno.test("Shard answers a write whose node sends two replies for one command without losing order", async () => {
  // One command, two replies: the second is unasked for; the connection is dropped.
  const chatty = new FakeNode(() => te.encode("+one\r\n+two\r\n"));
  const shard = shardFor([chatty.address]);
  try {
    shard.start();
    const port = shard.bound()[0].port;
    assertEquals(await request(port, GET, 1), "+one\r\n");
    const errors = (shard as unknown as { errors: [string, string][] }).errors;
    assert(errors.some(([, kind]) => kind === "protocol"), JSON.stringify(errors));
  } finally {
    await shard.close(0);
    await chatty.close();
  }
});
