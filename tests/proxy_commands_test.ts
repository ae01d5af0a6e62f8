/**
 * End-to-end: every kind of command works through shardgate's readers and
 * writer ports, against a real primary with two replicas, driven by the
 * Node `redis` client and `redis-cli`.
 */

import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert/strict";
import {
  closeClient,
  redisClient,
  type ReplicaSet,
  type ShardgateProcess,
  startReplicaSet,
  startShardgate,
  waitFor,
  withClients,
} from "./helpers/mod.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

async function setup(
  extra = "",
): Promise<{ set: ReplicaSet; sg: ShardgateProcess; r: number; w: number }> {
  const set = await startReplicaSet({ replicas: 2 });
  try {
    const sg = await startShardgate(`
shards:
  main:
    readers: 127.0.0.1:0
    writer: 127.0.0.1:0
    nodes: [${set.addresses.join(", ")}]
${extra}`);
    return { set, sg, r: sg.ports.main.readers, w: sg.ports.main.writer! };
  } catch (e) {
    await set.stop();
    throw e;
  }
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("redis-cli", {
    args: ["-p", String(port), ...args],
    stdin: "null",
  })
    .output();
  return new TextDecoder().decode(out.stdout).trim();
}

Deno.test("proxy: GET/SET/MGET, pipelines, MULTI, WATCH, SELECT, big values", opts, async (t) => {
  const { set, sg, r, w } = await setup();
  try {
    const wc = await redisClient(w);
    const rc = await redisClient(r);
    try {
      await t.step("SET through the writer, GET and MGET through readers", async () => {
        assertEquals(await wc.set("k1", "v1"), "OK");
        assertEquals(await wc.set("k2", "v2"), "OK");
        await set.waitSynced();
        assertEquals(await rc.get("k1"), "v1");
        assertEquals(await rc.mGet(["k1", "k2", "missing"]), ["v1", "v2", null]);
      });

      await t.step("a pipeline of 1,000 commands keeps its order", async () => {
        const multi = wc.multi();
        for (let i = 0; i < 1000; i++) multi.set(`p${i}`, `v${i}`);
        // execAsPipeline sends without MULTI: 1,000 plain commands in one write.
        const replies = await multi.execAsPipeline();
        assertEquals(replies.length, 1000);
        await set.waitSynced();
        const reads = rc.multi();
        for (let i = 0; i < 1000; i++) reads.get(`p${i}`);
        const got = await reads.execAsPipeline();
        assertEquals(got, Array.from({ length: 1000 }, (_, i) => `v${i}`));
      });

      await t.step("MULTI/EXEC runs as one transaction", async () => {
        const res = await wc.multi().incr("ctr").incr("ctr").get("ctr").exec();
        assertEquals(res, [1, 2, "2"]);
      });

      await t.step("WATCH aborts EXEC when the key changed", async () => {
        const c = await redisClient(w);
        try {
          await c.watch("watched");
          await wc.set("watched", "by-someone-else");
          // node-redis reports EXEC's null reply as a WatchError.
          await rejects(c.multi().set("watched", "mine").exec(), /watched keys has been changed/);
          assertEquals(await wc.get("watched"), "by-someone-else");
        } finally {
          closeClient(c);
        }
      });

      await t.step("SELECT 3 keeps its own database", async () => {
        const c = await redisClient(w);
        try {
          await c.select(3);
          await c.set("db3key", "three");
          assertEquals(await c.get("db3key"), "three");
          assertEquals(await wc.get("db3key"), null);
          assertEquals(await cli(set.primary.port, "-n", "3", "get", "db3key"), "three");
        } finally {
          closeClient(c);
        }
      });

      await t.step("a 10 MB value goes both ways intact", async () => {
        const big = "x".repeat(10 * 1024 * 1024 - 7) + "-the-end";
        assertEquals(await wc.set("big", big), "OK");
        await set.waitSynced();
        const back = await rc.get("big");
        assertEquals(back?.length, big.length);
        assert(back === big);
      });

      await t.step("redis-cli works on both ports, inline commands too", async () => {
        assertEquals(await cli(w, "set", "clikey", "hello world"), "OK");
        await set.waitSynced();
        assertEquals(await cli(r, "get", "clikey"), "hello world");
        const inline = await Deno.connect({ port: r });
        try {
          await inline.write(new TextEncoder().encode('PING\r\nECHO "a b"\r\n'));
          const buf = new Uint8Array(64);
          let text = "";
          while (!text.includes("a b\r\n")) {
            const n = await inline.read(buf);
            if (n === null) break;
            text += new TextDecoder().decode(buf.subarray(0, n));
          }
          assertEquals(text, "+PONG\r\n$3\r\na b\r\n");
        } finally {
          inline.close();
        }
      });
    } finally {
      closeClient(wc);
      closeClient(rc);
    }
  } finally {
    await sg.stop();
    await set.stop();
  }
});

Deno.test("proxy: pub/sub, BLPOP and HELLO 3 on pinned connections", opts, async (t) => {
  const { set, sg, r, w } = await setup();
  try {
    await t.step("SUBSCRIBE through readers receives PUBLISH through the writer", async () => {
      const sub = await redisClient(r);
      const pub = await redisClient(w);
      try {
        const got: string[] = [];
        await sub.subscribe("news", (m) => got.push(m));
        // A replica only sees messages published after its subscribe reached it.
        await waitFor(async () => {
          await pub.publish("news", "hello");
          return got.length > 0;
        }, { timeoutMs: 5000, message: "no message reached the subscriber" });
        assertEquals(got[0], "hello");
        assert(got.every((m) => m === "hello"));
      } finally {
        closeClient(sub);
        closeClient(pub);
      }
    });

    await t.step("BLPOP blocks and is woken by a push", async () => {
      const blocker = await redisClient(w);
      const pusher = await redisClient(w);
      try {
        const popped = blocker.blPop("queue", 10);
        // The blocked client shows up on the primary before we push.
        await waitFor(
          async () => (await set.primary.cli("info", "clients")).includes("blocked_clients:1"),
          {
            timeoutMs: 5000,
            message: "BLPOP never blocked on the primary",
          },
        );
        await pusher.rPush("queue", "job-1");
        assertEquals(await popped, { key: "queue", element: "job-1" });
      } finally {
        closeClient(blocker);
        closeClient(pusher);
      }
    });

    await t.step("HELLO 3 gets RESP3 replies (maps, doubles)", async () => {
      const c = await redisClient(w, { resp: 3 });
      try {
        await c.hSet("h3", { a: "1", b: "2" });
        const h = await c.hGetAll("h3");
        assertEquals({ ...h }, { a: "1", b: "2" });
        // RESP3 on the wire: a raw HELLO 3 gets a map (%) reply.
        const raw = await Deno.connect({ port: w });
        try {
          await raw.write(new TextEncoder().encode("*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n"));
          const buf = new Uint8Array(512);
          const n = await raw.read(buf);
          assertEquals(String.fromCharCode(buf[0]), "%");
          assert(n !== null && new TextDecoder().decode(buf.subarray(0, n)).includes("proto"));
        } finally {
          raw.close();
        }
      } finally {
        closeClient(c);
      }
    });
  } finally {
    await sg.stop();
    await set.stop();
  }
});

Deno.test("proxy: 200 concurrent clients each get their own replies", opts, async () => {
  const { set, sg, r, w } = await setup();
  try {
    await withClients(20, w, async (writers) => {
      await Promise.all(writers.map(async (c, i) => {
        for (let j = 0; j < 10; j++) await c.set(`own:${i * 10 + j}`, `value-${i * 10 + j}`);
      }));
    });
    await set.waitSynced();
    let checked = 0;
    await withClients(200, r, async (clients) => {
      await Promise.all(clients.map(async (c, i) => {
        for (let round = 0; round < 20; round++) {
          const k = (i + round * 7) % 200;
          const [a, b] = await Promise.all([
            c.get(`own:${k}`),
            c.echo(`client-${i}-round-${round}`),
          ]);
          assertEquals(a, `value-${k}`);
          assertEquals(b, `client-${i}-round-${round}`);
          checked++;
        }
      }));
    });
    assertEquals(checked, 200 * 20);
  } finally {
    await sg.stop();
    await set.stop();
  }
});
