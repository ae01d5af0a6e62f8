/**
 * End-to-end: node failures under load. Reads in flight on a node that dies
 * or stalls are retried elsewhere (zero failed reads); a write in flight is
 * answered with an error, never silently lost; a pinned session whose node
 * dies is closed; backend connections stay pooled.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  closeClient,
  freePort,
  loadLoop,
  redisClient,
  startReplicaSet,
  startShardgate,
  unreadBytes,
  waitFor,
  withClients,
} from "./helpers/mod.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function shardYaml(nodes: string[], extra = ""): string {
  return `
shards:
  main:
    readers: 127.0.0.1:0
    writer: 127.0.0.1:0
    nodes: [${nodes.join(", ")}]
${extra}`;
}

Deno.test(
  "failures: kill -9 of a replica under 50 reading clients fails no read",
  opts,
  async () => {
    await using set = await startReplicaSet({ replicas: 2 });
    await set.primary.cli("set", "k", "v");
    await set.waitSynced();
    await using sg = await startShardgate(shardYaml(set.addresses));
    await using load = await loadLoop({
      port: sg.ports.main.readers,
      clients: 50,
      op: async (c) => {
        const v = await c.get("k");
        if (v !== "v") throw new Error(`wrong value ${v}`);
      },
    });
    await load.waitForOk(2000);
    await set.replicas[0].kill("SIGKILL");
    await load.waitForOk(5000);
    const stats = await load.stop();
    assertEquals(stats.errors, []);
    assertEquals(stats.failed, 0);
    assert(stats.ok >= 7000);
  },
);

Deno.test(
  "failures: reads stalled on a SIGSTOPped replica are retried after the server timeout",
  opts,
  async () => {
    await using set = await startReplicaSet({ replicas: 2 });
    await set.primary.cli("set", "k", "v");
    await set.waitSynced();
    await using sg = await startShardgate(
      shardYaml(set.addresses, "    timeouts: { server: 300ms }\n    hedge: false"),
    );
    await using load = await loadLoop({
      port: sg.ports.main.readers,
      clients: 20,
      op: async (c) => {
        const v = await c.get("k");
        if (v !== "v") throw new Error(`wrong value ${v}`);
      },
    });
    await load.waitForOk(500);
    set.replicas[1].pause();
    try {
      await load.waitForOk(300, 15_000);
      // Some reads did wait for the timeout: proof they were on the paused node.
      const during = load.stats();
      assert(during.maxLatencyMs >= 250, `max latency ${during.maxLatencyMs} ms`);
    } finally {
      set.replicas[1].resume();
    }
    const stats = await load.stop();
    assertEquals(stats.errors, []);
    assertEquals(stats.failed, 0);
  },
);

Deno.test(
  "failures: reads on a SIGSTOPped replica are hedged to the other one in milliseconds",
  opts,
  async () => {
    await using set = await startReplicaSet({ replicas: 2 });
    await set.primary.cli("set", "k", "v");
    await set.waitSynced();
    await using sg = await startShardgate(shardYaml(set.addresses)); // server timeout 2 s
    await using load = await loadLoop({
      port: sg.ports.main.readers,
      clients: 20,
      slowMs: 200,
      op: async (c) => {
        const v = await c.get("k");
        if (v !== "v") throw new Error(`wrong value ${v}`);
      },
    });
    await load.waitForOk(500);
    const calls = async () =>
      Number(
        /cmdstat_get:calls=(\d+)/.exec(
          await set.replicas[1].cli("INFO", "commandstats"),
        )?.[1] ?? 0,
      );
    const before = await calls();
    set.replicas[1].pause();
    try {
      await load.waitForOk(3000, 15_000);
    } finally {
      set.replicas[1].resume();
    }
    const stats = await load.stop();
    assertEquals(stats.errors, []);
    assertEquals(stats.failed, 0);
    // Reads did reach the paused node (they were hedged, not avoided by luck)...
    assert((await calls()) > before, "no read reached the paused replica");
    // ...and none waited anywhere near the 2 s server timeout.
    assertEquals(stats.slow, 0, `max latency ${stats.maxLatencyMs} ms`);
  },
);

Deno.test(
  "failures: a write in flight on a primary that dies gets an error, not silence",
  opts,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    await using sg = await startShardgate(
      shardYaml(set.addresses, "    timeouts: { server: 10s }"),
    );
    const c = await redisClient(sg.ports.main.writer!);
    try {
      assertEquals(await c.set("before", "1"), "OK");
      set.primary.pause();
      const inflight = c.set("lost?", "maybe").then(
        (v) => ({ ok: true as const, v }),
        (e: Error) => ({ ok: false as const, e: e.message }),
      );
      // The SET reached the paused node's socket before we kill it.
      await waitFor(() => unreadBytes(set.primary.port) > 0, {
        timeoutMs: 5000,
        message: "the SET never reached the primary's socket",
      });
      await set.primary.kill("SIGKILL");
      const res = await inflight;
      assertEquals(res.ok, false);
      assert(
        !res.ok && /shardgate: connection lost on 127\.0\.0\.1:\d+ before the reply/.test(res.e),
        String(!res.ok && res.e),
      );
    } finally {
      closeClient(c);
    }
  },
);

Deno.test("failures: a node that refuses connections is skipped by reads", opts, async () => {
  await using set = await startReplicaSet({ replicas: 1 });
  await set.primary.cli("set", "k", "v");
  await set.waitSynced();
  const dead = `127.0.0.1:${await freePort()}`;
  await using sg = await startShardgate(shardYaml([...set.addresses, dead]));
  await withClients(10, sg.ports.main.readers, async (clients) => {
    for (let i = 0; i < 50; i++) {
      const got = await Promise.all(clients.map((c) => c.get("k")));
      assert(got.every((v) => v === "v"));
    }
  });
});

Deno.test("failures: a pinned session whose node dies is closed", opts, async () => {
  await using set = await startReplicaSet({ replicas: 1 });
  // Readers only on the replica, so the subscriber is pinned to it.
  await using sg = await startShardgate(`
shards:
  main:
    readers: 127.0.0.1:0
    nodes: [${set.addresses[1]}]
`);
  const sub = await redisClient(sg.ports.main.readers);
  try {
    await sub.subscribe("ch", () => {});
    await set.replicas[0].kill("SIGKILL");
    await waitFor(() => !sub.isReady, { timeoutMs: 5000, message: "subscriber still connected" });
  } finally {
    closeClient(sub);
  }
});

Deno.test(
  "failures: 200 clients share nodes × connections_per_node backend connections",
  opts,
  async () => {
    await using set = await startReplicaSet({ replicas: 2 });
    await set.primary.cli("set", "k", "v");
    await set.waitSynced();
    await using sg = await startShardgate(shardYaml(set.addresses, "    connections_per_node: 2"));
    const before = await Promise.all(set.nodes.map((n) => n.info("clients")));
    const base = before.map((i) => Number(i.connected_clients));
    await withClients(200, sg.ports.main.readers, async (clients) => {
      await Promise.all(clients.map(async (c) => {
        for (let i = 0; i < 5; i++) assertEquals(await c.get("k"), "v");
      }));
      const after = await Promise.all(set.nodes.map((n) => n.info("clients")));
      const added = after.map((i, k) => Number(i.connected_clients) - base[k]);
      for (const n of added) assert(n <= 2, `a node got ${n} connections from shardgate`);
      // Reads were spread: every node carries some of them.
      assertEquals(added.reduce((a, b) => a + b, 0) > 0, true);
    });
  },
);
