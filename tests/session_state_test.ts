/**
 * End-to-end: what a client can observe of its connection through
 * shardgate, with real servers: RESP3 replies byte for byte, HELLO's
 * fields, SCAN cursors and scripts across replicas, pins that end with
 * their reason, the protocol edges Redis's own test suite checks, and
 * replication through the writer port.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  closeClient,
  loadLoop,
  redisClient,
  startRedis,
  startReplicaSet,
  startShardgate,
  waitFor,
  withClients,
} from "./helpers/mod.ts";
import { E2E, populate, shardYaml } from "./_health_helpers.ts";
import { proxyConnections } from "./_client_variants.ts";
import { frame, RawConn, resp3Reply } from "./_raw.ts";

const CHECK = "check: { interval: 100ms, timeout: 200ms, rise: 2, fall: 2 }";

/** True once `text` holds one complete RESP value (enough for these replies' shapes). */
function oneReply(text: string): boolean {
  return text.endsWith("\r\n") && text.length > 2;
}

Deno.test("session: RESP3 replies reach RESP3 clients byte for byte", E2E, async () => {
  await using set = await startReplicaSet({ replicas: 1, args: ["--enable-debug-command", "yes"] });
  const p = set.primary;
  await p.cli("HSET", "h", "a", "1", "b", "2", "c", "3");
  await p.cli("SADD", "s", "x", "y", "z");
  await p.cli("ZADD", "z", "1.5", "one", "2.25", "two");
  await set.waitSynced();
  await using sg = await startShardgate(shardYaml(set.addresses));
  const replica = set.replicas[0].port;
  const cases: string[][] = [
    ["HGETALL", "h"],
    ["SMEMBERS", "s"],
    ["ZRANGE", "z", "0", "-1", "WITHSCORES"],
    ["ZSCORE", "z", "one"],
    ["DEBUG", "PROTOCOL", "map"],
    ["DEBUG", "PROTOCOL", "set"],
    ["DEBUG", "PROTOCOL", "double"],
    ["DEBUG", "PROTOCOL", "bignum"],
    ["DEBUG", "PROTOCOL", "true"],
    ["DEBUG", "PROTOCOL", "false"],
    ["DEBUG", "PROTOCOL", "null"],
    ["DEBUG", "PROTOCOL", "verbatim"],
    ["DEBUG", "PROTOCOL", "attrib"],
  ];
  for (const cmd of cases) {
    // Direct and proxied replies are read the same way: until nothing more comes.
    const settle = (t: string) => oneReply(t) && t.split("\r\n").length > 1;
    const direct = await resp3Reply(replica, cmd, settle);
    const proxied = await resp3Reply(sg.ports.main.readers, cmd, (t) => t.length >= direct.length);
    assertEquals(proxied, direct, cmd.join(" "));
  }
  // An attribute precedes its reply: both arrive as one value.
  const attrib = await resp3Reply(
    sg.ports.main.readers,
    ["DEBUG", "PROTOCOL", "attrib"],
    (t) => t.includes("Some real reply"),
  );
  assert(attrib.startsWith("|1\r\n"), attrib);
});

Deno.test(
  "session: HELLO is answered with the node's fields and the session's own id",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    await using sg = await startShardgate(shardYaml(set.addresses));
    const fields = (t: string) => {
      const lines = t.split("\r\n");
      const out: Record<string, string> = {};
      for (let i = 0; i < lines.length; i++) {
        const key = ["server", "version", "proto", "mode", "role", "modules"].find((k) =>
          lines[i] === k
        );
        if (key !== undefined) {
          out[key] = lines[i + 1].startsWith("$") ? lines[i + 2] : lines[i + 1];
        }
      }
      return out;
    };
    const readHello = async (port: number, ver: string) => {
      using c = await RawConn.open(port);
      await c.send(frame("HELLO", ver));
      return await c.readUntil((t) =>
        t.includes("modules") && t.endsWith("\r\n") && /modules\r\n\*0\r\n$/.test(t)
      );
    };
    const direct = fields(await readHello(set.primary.port, "3"));
    const viaWriter = fields(await readHello(sg.ports.main.writer!, "3"));
    assertEquals(viaWriter, direct);
    const viaReaders2 = await readHello(sg.ports.main.readers, "2");
    assert(viaReaders2.startsWith("*14\r\n"), viaReaders2);
    assertEquals(fields(viaReaders2).role, "replica");
    assertEquals(fields(viaReaders2).proto, ":2");
    using c = await RawConn.open(sg.ports.main.readers);
    await c.send(frame("HELLO", "4"));
    assertEquals(await c.readUntil(oneReply), "-NOPROTO unsupported protocol version\r\n");
  },
);

Deno.test(
  "session: a full SCAN and HSCAN through the readers port see every element",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 2 });
    await populate(set, 5000);
    const fieldsCount = 3000;
    const c0 = await redisClient(set.primary.port);
    try {
      const args = ["HSET", "big"];
      for (let i = 0; i < fieldsCount; i++) args.push(`f${i}`, String(i));
      await c0.sendCommand(args);
    } finally {
      closeClient(c0);
    }
    await set.waitSynced();
    await using sg = await startShardgate(shardYaml(set.addresses));
    const c = await redisClient(sg.ports.main.readers);
    try {
      const seen = new Set<string>();
      let calls = 0;
      let cursor = "0";
      do {
        const [next, keys] = await c.sendCommand(["SCAN", cursor, "COUNT", "50"]) as [
          string,
          string[],
        ];
        for (const k of keys) seen.add(k);
        cursor = next;
        calls++;
      } while (cursor !== "0");
      assertEquals(seen.size, 5001, `${seen.size} distinct keys in ${calls} calls`);
      const fields = new Set<string>();
      cursor = "0";
      do {
        const [next, kv] = await c.sendCommand(["HSCAN", "big", cursor, "COUNT", "40"]) as [
          string,
          string[],
        ];
        for (let i = 0; i < kv.length; i += 2) fields.add(kv[i]);
        cursor = next;
      } while (cursor !== "0");
      assertEquals(fields.size, fieldsCount);
    } finally {
      closeClient(c);
    }
  },
);

Deno.test("session: a SCAN whose node dies mid-scan is told to restart from 0", E2E, async () => {
  await using set = await startReplicaSet({ replicas: 2 });
  await populate(set, 2000);
  const [a, b] = set.replicas;
  // Reads go to `a` only (b has weight 0), so the scan starts there.
  await using sg = await startShardgate(`shards:
  main:
    readers: 127.0.0.1:0
    nodes: [${set.primary.address}, ${a.address}, { address: ${b.address}, weight: 0 }]
    fallback: none
    ${CHECK}
`);
  const c = await redisClient(sg.ports.main.readers);
  try {
    // Only `a` serves reads (b weighs 0, no fallback to the primary): wait until it does.
    await waitFor(async () => (await c.get("key:1").catch(() => null)) === "value:1");
    const [cursor] = await c.sendCommand(["SCAN", "0", "COUNT", "10"]) as [string, string[]];
    assert(cursor !== "0");
    await a.kill("SIGKILL");
    await assertRejects(
      () => c.sendCommand(["SCAN", cursor, "COUNT", "10"]),
      /restart the scan from cursor 0/,
    );
  } finally {
    closeClient(c);
  }
});

async function assertRejects(fn: () => Promise<unknown>, re: RegExp): Promise<void> {
  try {
    await fn();
  } catch (e) {
    assert(re.test((e as Error).message), (e as Error).message);
    return;
  }
  throw new Error(`expected a rejection matching ${re}`);
}

Deno.test(
  "session: SCRIPT LOAD through the readers port loads every replica; NOSCRIPT goes to the primary",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 2 });
    await using sg = await startShardgate(shardYaml(set.addresses));
    const c = await redisClient(sg.ports.main.readers);
    try {
      const sha = await c.sendCommand(["SCRIPT", "LOAD", "return 'hi'"]) as string;
      for (let i = 0; i < 20; i++) {
        assertEquals(await c.sendCommand(["EVALSHA_RO", sha, "0"]), "hi");
      }
      for (const n of set.nodes) assertEquals(await n.cli("SCRIPT", "EXISTS", sha), "1", n.address);
      // A script only the primary knows: the replicas' NOSCRIPT is retried there.
      const onlyPrimary = await set.primary.cli("SCRIPT", "LOAD", "return 'primary'");
      for (let i = 0; i < 6; i++) {
        assertEquals(await c.sendCommand(["EVALSHA_RO", onlyPrimary, "0"]), "primary");
      }
    } finally {
      closeClient(c);
    }
  },
);

Deno.test(
  "session: after MULTI, BLPOP and SUBSCRIBE, 50 clients are back on pooled connections",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 2 });
    await set.primary.cli("SET", "k", "v");
    await set.waitSynced();
    await using sg = await startShardgate(shardYaml(set.addresses, [CHECK]));
    const { readers, writer } = sg.ports.main;
    await withClients(50, writer!, async (ws) => {
      await withClients(50, readers, async (rs) => {
        await Promise.all(ws.map(async (c, i) => {
          const [set1, get1] = await c.multi().set(`m:${i}`, "1").get(`m:${i}`).exec();
          assertEquals([set1, get1], ["OK", "1"]);
          const popped = c.blPop(`q:${i}`, 10);
          // Should a wait below fail, the test reports that, not the pop
          // rejected when the client is closed.
          popped.catch(() => {});
          await waitFor(async () =>
            (await set.primary.cli("CLIENT", "LIST")).includes(`cmd=blpop`)
          );
          await set.primary.cli("RPUSH", `q:${i}`, "job");
          assertEquals(await popped, { key: `q:${i}`, element: "job" });
        }));
        await Promise.all(rs.map(async (c) => {
          await c.subscribe("ch", () => {});
          await c.unsubscribe("ch");
          // node-redis with RESP 2 answers Buffers after a subscription, against Redis too.
          assertEquals(String(await c.get("k")), "v");
        }));
        const bound = 2 + 1; // connections_per_node, plus the health check
        await waitFor(async () => {
          const counts = await Promise.all(
            set.nodes.map(async (n) => proxyConnections(await n.cli("CLIENT", "LIST"))),
          );
          return counts.every((x) => x <= bound);
        }, { timeoutMs: 5000, message: "pinned connections were not given back" });
        // Their GETs still survive a replica kill.
        let i = 0;
        await using load = await loadLoop({
          connect: () => Promise.resolve(rs[i++ % rs.length]),
          clients: 50,
          op: async (c) => {
            if (String(await c.get("k")) !== "v") throw new Error("wrong value");
          },
        });
        await load.waitForOk(1000);
        await set.replicas[0].kill("SIGKILL");
        await load.waitForOk(2000);
        const stats = await load.stop();
        assertEquals(stats.errors, []);
        assertEquals(stats.failed, 0);
      });
    });
  },
);

Deno.test(
  "session: a protocol error, QUIT and max_clients replies arrive before a clean close",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    await using sg = await startShardgate(shardYaml(set.addresses, ["max_clients: 2"]));
    const port = sg.ports.main.writer!;
    const junk = "x".repeat(256 * 1024);
    {
      using c = await RawConn.open(port);
      await c.send(frame("SET", "a", "1") + "*1\r\n$x\r\n" + junk);
      const r = await c.readToEnd();
      assertEquals(r, {
        text: "+OK\r\n-ERR Protocol error: invalid bulk length\r\n",
        reset: false,
      });
    }
    {
      using c = await RawConn.open(port);
      await c.send(frame("GET", "a") + frame("QUIT") + frame("GET", "a").repeat(5000));
      const r = await c.readToEnd();
      assertEquals(r, { text: "$1\r\n1\r\n+OK\r\n", reset: false });
    }
    {
      using one = await RawConn.open(port);
      using two = await RawConn.open(port);
      await one.send(frame("PING"));
      await two.send(frame("PING"));
      await one.readUntil(oneReply);
      await two.readUntil(oneReply);
      using three = await RawConn.open(port);
      await three.send(frame("PING") + junk);
      const r = await three.readToEnd();
      assertEquals(r, { text: "-ERR max number of clients reached\r\n", reset: false });
    }
  },
);

Deno.test(
  "session: a replica attaches through the writer port (PSYNC relayed raw); readers refuse SYNC",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    await set.primary.cli("SET", "before", "1");
    await using sg = await startShardgate(shardYaml(set.addresses));
    await using extra = await startRedis();
    await extra.replicaOf(sg.ports.main.writer!);
    await waitFor(async () => (await extra.info()).master_link_status === "up", {
      timeoutMs: 10_000,
      message: "the replica behind the writer port never synced",
    });
    assertEquals(await extra.cli("GET", "before"), "1");
    await set.primary.cli("SET", "after", "2");
    await waitFor(async () => (await extra.cli("GET", "after")) === "2", { timeoutMs: 5000 });
    using r = await RawConn.open(sg.ports.main.readers);
    await r.send("SYNC\r\n");
    assertEquals(
      await r.readUntil(oneReply),
      "-ERR shardgate: 'SYNC' is only supported on the writer port\r\n",
    );
  },
);

Deno.test(
  "session: CLIENT ID names a real connection, so tracking redirects reach it",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    await set.primary.cli("SET", "tracked", "1");
    await using sg = await startShardgate(shardYaml(set.addresses));
    const port = sg.ports.main.writer!;
    using sink = await RawConn.open(port);
    await sink.send(frame("CLIENT", "ID"));
    const id = (await sink.readUntil(oneReply)).slice(1, -2);
    await sink.send(frame("SUBSCRIBE", "__redis__:invalidate"));
    await sink.readUntil((t) => t.includes(":1\r\n"));
    const reader = await redisClient(port);
    try {
      assertEquals(await reader.sendCommand(["CLIENT", "TRACKING", "ON", "REDIRECT", id]), "OK");
      assertEquals(await reader.get("tracked"), "1");
      await set.primary.cli("SET", "tracked", "2");
      const msg = await sink.readUntil((t) => t.includes("tracked"));
      assert(msg.includes("invalidate"), msg);
    } finally {
      closeClient(reader);
    }
  },
);
