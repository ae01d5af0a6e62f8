/**
 * End-to-end: bad clients. Garbage bytes, a 4 GB bulk header and a client
 * that never reads its replies each affect only themselves; the process's
 * memory stays bounded. Also client_idle, max_clients and the client password.
 */

import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert/strict";
import { CLIENT_MAX_INFLIGHT } from "../config/defaults.ts";
import {
  closeClient,
  loadLoop,
  redisClient,
  rssBytes,
  type ShardgateProcess,
  startReplicaSet,
  startShardgate,
  waitFor,
} from "./helpers/mod.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const te = new TextEncoder();
const td = new TextDecoder();

/** Sends `bytes` on a fresh connection and reads until the server closes it. */
async function sendAndReadToClose(
  port: number,
  bytes: Uint8Array,
): Promise<{ text: string; closed: boolean }> {
  const conn = await Deno.connect({ port });
  try {
    await conn.write(bytes);
    const buf = new Uint8Array(4096);
    let text = "";
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const n = await conn.read(buf);
      if (n === null) return { text, closed: true };
      text += td.decode(buf.subarray(0, n));
    }
    return { text, closed: false };
  } finally {
    try {
      conn.close();
    } catch {
      // closed
    }
  }
}

async function withShard(
  extra: string,
  fn: (sg: ShardgateProcess, port: number) => Promise<void>,
): Promise<void> {
  await using set = await startReplicaSet({ replicas: 1 });
  await set.primary.cli("set", "k", "v");
  await set.primary.cli("setrange", "big", String(1024 * 1024 - 1), "x");
  await set.waitSynced();
  await using sg = await startShardgate(`
shards:
  main:
    readers: 127.0.0.1:0
    nodes: [${set.addresses.join(", ")}]
${extra}`);
  await fn(sg, sg.ports.main.readers);
}

Deno.test(
  "bad input: garbage, a 4 GB bulk and a non-reading client leave others unaffected",
  opts,
  async () => {
    await withShard("", async (sg, port) => {
      await using load = await loadLoop({
        port,
        clients: 10,
        op: async (c) => {
          if (await c.get("k") !== "v") throw new Error("wrong value");
        },
      });
      await load.waitForOk(200);

      // Malformed multibulk: Redis's own error, then that client is closed.
      const bad = await sendAndReadToClose(port, te.encode("*abc\r\n$3\r\nGET\r\n"));
      assertEquals(bad, {
        text: "-ERR Protocol error: invalid multibulk length\r\n",
        closed: true,
      });

      // Random binary garbage: an error reply and a close, or an unknown-command error; never a crash.
      const garbage = new Uint8Array(64 * 1024);
      crypto.getRandomValues(garbage);
      garbage[0] = 0x2a; // '*' so it is parsed as a (broken) multibulk
      const g = await sendAndReadToClose(port, garbage);
      assert(
        g.closed && g.text.startsWith("-ERR Protocol error"),
        JSON.stringify(g.text.slice(0, 80)),
      );

      // A 4 GB bulk declaration is refused at the header, before any body arrives.
      const rssBefore = rssBytes(sg.pid);
      const huge = await sendAndReadToClose(port, te.encode("*2\r\n$3\r\nSET\r\n$4294967296\r\n"));
      assertEquals(huge, { text: "-ERR Protocol error: invalid bulk length\r\n", closed: true });

      // A client that asks for 2 GB of replies and never reads them.
      const lazy = await Deno.connect({ port });
      try {
        const req = te.encode("GET big\r\n".repeat(2000));
        await lazy.write(req);
        // Wait until shardgate has stopped taking its commands (its output is full).
        let last = -1;
        await waitFor(() => {
          const rss = rssBytes(sg.pid);
          const settled = Math.abs(rss - last) < 4 * 1024 * 1024;
          last = rss;
          return settled && rss > rssBefore;
        }, { timeoutMs: 10_000, intervalMs: 300, message: "memory never settled" });
        const grown = rssBytes(sg.pid) - rssBefore;
        // Bounded by the replies it may have in flight (1 MB each), with slack for the heap.
        const bound = 2 * CLIENT_MAX_INFLIGHT * 1024 * 1024;
        assert(grown < bound, `RSS grew by ${(grown / 1048576).toFixed(0)} MB for 2 GB requested`);
        // Everyone else still gets served meanwhile.
        await load.waitForOk(500);
      } finally {
        lazy.close();
      }
      const stats = await load.stop();
      assertEquals(stats.failed, 0, JSON.stringify(stats.errorCounts));
    });
  },
);

Deno.test("bad input: idle clients are closed after client_idle", opts, async () => {
  await withShard("    timeouts: { client_idle: 300ms }", async (_sg, port) => {
    const c = await redisClient(port);
    try {
      assertEquals(await c.get("k"), "v");
      await waitFor(() => !c.isReady, { timeoutMs: 5000, message: "idle client not closed" });
    } finally {
      closeClient(c);
    }
  });
});

Deno.test("bad input: past max_clients a client gets Redis's error", opts, async () => {
  await withShard("    max_clients: 2", async (_sg, port) => {
    const a = await redisClient(port);
    const b = await redisClient(port);
    try {
      const third = await sendAndReadToClose(port, te.encode("PING\r\n"));
      assertEquals(third, { text: "-ERR max number of clients reached\r\n", closed: true });
      assertEquals(await a.get("k"), "v");
    } finally {
      closeClient(a);
      closeClient(b);
    }
  });
});

Deno.test("bad input: a listener with client_password wants AUTH first", opts, async () => {
  await withShard("    client_password: s3cret", async (_sg, port) => {
    const anon = await sendAndReadToClose(port, te.encode("GET k\r\nAUTH wrong\r\nQUIT\r\n"));
    assertEquals(
      anon.text,
      "-NOAUTH Authentication required.\r\n" +
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n+OK\r\n",
    );
    const c = await redisClient(port, { password: "s3cret" });
    try {
      assertEquals(await c.get("k"), "v");
    } finally {
      closeClient(c);
    }
    await rejects(redisClient(port, { password: "nope" }), /WRONGPASS/);
    // RESP3 clients authenticate inside HELLO: checked here, not sent to the node.
    const r3 = await redisClient(port, { resp: 3, password: "s3cret" });
    try {
      assertEquals(await r3.get("k"), "v");
    } finally {
      closeClient(r3);
    }
    await rejects(redisClient(port, { resp: 3, password: "nope" }), /WRONGPASS/);
  });
});

Deno.test(
  "bad input: a client writing faster than its node takes bytes is paused, memory stays bounded",
  opts,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    await using sg = await startShardgate(`
shards:
  main:
    readers: 127.0.0.1:0
    writer: 127.0.0.1:0
    timeouts: { server: 60s }
    nodes: [${set.addresses.join(", ")}]
`);
    const rssBefore = rssBytes(sg.pid);
    set.primary.pause();
    const conn = await Deno.connect({ port: sg.ports.main.writer! });
    let written = 0;
    let stop = false;
    const value = "x".repeat(1024 * 1024);
    const frame = te.encode(`*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$${value.length}\r\n${value}\r\n`);
    const writer = (async () => {
      try {
        // Up to 300 MB of SETs to a node that reads nothing.
        for (let i = 0; i < 300 && !stop; i++) {
          let off = 0;
          while (off < frame.length) off += await conn.write(frame.subarray(off));
          written += frame.length;
        }
      } catch {
        // closed at the end of the test
      }
    })();
    try {
      // Settled: shardgate stopped taking bytes from this client.
      let last = -1;
      await waitFor(() => {
        const settled = written === last;
        last = written;
        return settled;
      }, { timeoutMs: 20_000, intervalMs: 500, message: "the client was never paused" });
      const grown = rssBytes(sg.pid) - rssBefore;
      console.log(
        `stalled node: client paused after ${(written / 1048576).toFixed(0)} MB; RSS +${
          (grown / 1048576).toFixed(0)
        } MB`,
      );
      assert(written < 64 * 1024 * 1024, `shardgate took ${(written / 1048576).toFixed(0)} MB`);
      assert(grown < 96 * 1024 * 1024, `RSS grew by ${(grown / 1048576).toFixed(0)} MB`);
      // Reads through the readers port (the replica) still work meanwhile.
      const c = await redisClient(sg.ports.main.readers);
      try {
        assertEquals(await c.ping(), "PONG");
      } finally {
        closeClient(c);
      }
    } finally {
      stop = true;
      set.primary.resume();
      conn.close();
      await writer;
    }
  },
);
