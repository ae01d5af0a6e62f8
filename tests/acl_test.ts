/**
 * End-to-end: a client's own ACL user keeps its identity through
 * shardgate, as behind a layer-4 proxy. Users are per node in Redis (not
 * replicated), so each test creates them on every node, as ElastiCache
 * RBAC does. The listener has no `client_password`: the node checks the
 * credentials, and the session's commands run on connections
 * authenticated as that user.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { Redis as IORedis } from "ioredis";
import { createClient } from "redis";
import {
  closeClient,
  errorText,
  loadLoop,
  type ReplicaSet,
  startReplicaSet,
  startShardgate,
  type TestClient,
  waitFor,
} from "./helpers/mod.ts";
import { E2E, shardYaml } from "./_health_helpers.ts";
import { proxyConnections } from "./_client_variants.ts";

const CHECK = "check: { interval: 100ms, timeout: 500ms, rise: 1, fall: 2 }";

/** Creates user `app` (password `secret`, keys `app:*` only) on every node. */
async function addUser(set: ReplicaSet): Promise<void> {
  for (const n of set.nodes) {
    assertEquals(await n.cli("ACL", "SETUSER", "app", "on", ">secret", "~app:*", "+@all"), "OK");
  }
}

/** What a command answers, or its error text. */
async function outcome(fn: () => Promise<unknown>): Promise<string> {
  try {
    return String(await fn());
  } catch (e) {
    return errorText(e);
  }
}

Deno.test(
  "acl: node-redis and ioredis with a username keep the user's rights on every port",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    await addUser(set);
    await set.primary.cli("SET", "other:1", "x");
    await set.waitSynced();
    await using sg = await startShardgate(shardYaml(set.addresses, [CHECK]));
    const { readers, writer } = sg.ports.main;
    // Directly, for comparison.
    const direct = createClient({
      socket: { host: "127.0.0.1", port: set.primary.port, reconnectStrategy: false },
      username: "app",
      password: "secret",
    });
    await direct.connect();
    const nr = createClient({
      socket: { host: "127.0.0.1", port: writer!, reconnectStrategy: false },
      username: "app",
      password: "secret",
    });
    await nr.connect();
    const io = new IORedis({
      host: "127.0.0.1",
      port: writer!,
      username: "app",
      password: "secret",
    });
    const ioReaders = new IORedis({
      host: "127.0.0.1",
      port: readers,
      username: "app",
      password: "secret",
    });
    try {
      const noperm = await outcome(() => direct.set("other:1", "y"));
      assert(noperm.startsWith("NOPERM"), noperm);
      assertEquals(await nr.set("app:1", "a"), "OK");
      assertEquals(await io.set("app:2", "b"), "OK");
      assertEquals(await outcome(() => nr.set("other:1", "y")), noperm, "node-redis, writer port");
      assertEquals(await outcome(() => io.set("other:1", "y")), noperm, "ioredis, writer port");
      assertEquals(
        await outcome(() => ioReaders.get("other:1")),
        await outcome(() => direct.get("other:1")),
        "ioredis, readers port",
      );
      assertEquals(await nr.sendCommand(["ACL", "WHOAMI"]), "app");
      assertEquals(await io.call("ACL", "WHOAMI"), "app");
      assertEquals(await set.primary.cli("GET", "other:1"), "x", "the refused write did not run");
      await set.waitSynced();
      assertEquals(await ioReaders.get("app:1"), "a");
    } finally {
      closeClient(direct as unknown as TestClient);
      closeClient(nr as unknown as TestClient);
      io.disconnect();
      ioReaders.disconnect();
    }
  },
);

Deno.test(
  "acl: a wrong password gets -WRONGPASS, and deleting the user ends its sessions",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    await addUser(set);
    await using sg = await startShardgate(shardYaml(set.addresses, [CHECK]));
    const writer = sg.ports.main.writer!;
    const bad = createClient({
      socket: { host: "127.0.0.1", port: writer, reconnectStrategy: false },
      username: "app",
      password: "nope",
    });
    bad.on("error", () => {});
    const refused = await outcome(() => bad.connect());
    assert(refused.startsWith("WRONGPASS"), refused);
    const nr = createClient({
      socket: { host: "127.0.0.1", port: writer, reconnectStrategy: false },
      username: "app",
      password: "secret",
    });
    nr.on("error", () => {});
    await nr.connect();
    try {
      assertEquals(await nr.set("app:k", "1"), "OK");
      for (const n of set.nodes) await n.cli("ACL", "DELUSER", "app");
      // Its connections are gone with the user; the next command gets the node's word, or a close.
      await waitFor(async () => {
        const r = await outcome(() => nr.set("app:k", "2"));
        return r !== "OK";
      }, { message: "the deleted user's session kept writing" });
      assertEquals(await set.primary.cli("GET", "app:k"), "1");
    } finally {
      closeClient(nr as unknown as TestClient);
    }
  },
);

Deno.test(
  "acl: authenticated reads survive a replica kill, on connections bounded per user",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 2 });
    await addUser(set);
    await set.primary.cli("SET", "app:r", "v");
    await set.waitSynced();
    await using sg = await startShardgate(shardYaml(set.addresses, [CHECK]));
    const port = sg.ports.main.readers;
    await using load = await loadLoop({
      clients: 20,
      connect: async () => {
        const c = createClient({
          socket: { host: "127.0.0.1", port, reconnectStrategy: false },
          username: "app",
          password: "secret",
        }) as unknown as TestClient;
        c.on("error", () => {});
        await c.connect();
        return c;
      },
      op: async (c) => {
        if (await c.get("app:r") !== "v") throw new Error("wrong value");
      },
    });
    await load.waitForOk(1000);
    for (const r of set.replicas) {
      const list = await r.cli("CLIENT", "LIST");
      const users = list.split("\n").filter((l) => l.includes(" user=app "));
      // connections_per_node per pool in use (RESP2 and RESP3 for node-redis 6's handshake), at most.
      assert(users.length <= 2 * 2, `${users.length} connections as app on ${r.port}:\n${list}`);
      assert(proxyConnections(list) <= 2 * 2 + 2 + 1, list);
    }
    await set.replicas[0].kill("SIGKILL");
    await load.waitForOk(2000);
    const stats = await load.stop();
    assertEquals(stats.errors, []);
    assertEquals(stats.failed, 0);
  },
);

Deno.test(
  "introspection: CLIENT LIST names every worker connected through shardgate; CLIENT KILL ID ends one",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    await using sg = await startShardgate(shardYaml(set.addresses, [CHECK]));
    const writer = sg.ports.main.writer!;
    const workers = await Promise.all(
      [0, 1, 2].map(async (i) => {
        const c = createClient({
          socket: { host: "127.0.0.1", port: writer, reconnectStrategy: false },
          name: `bull:worker:${i}`,
        });
        c.on("error", () => {});
        await c.connect();
        return c;
      }),
    );
    const other = await redisClientDirect(set.primary.port, "another-host");
    try {
      // As a queue library finds its workers: CLIENT LIST filtered by name.
      const list = String(await workers[0].sendCommand(["CLIENT", "LIST"]));
      const names = list.split("\n").map((l) => / name=(\S*)/.exec(l)?.[1]).filter(Boolean);
      for (const i of [0, 1, 2]) assert(names.includes(`bull:worker:${i}`), list);
      assert(names.includes("another-host"), "other hosts' connections as the node lists them");
      const info = String(await workers[1].sendCommand(["CLIENT", "INFO"]));
      assert(info.includes(" name=bull:worker:1 "), info);
      const id = /^id=(\d+) /.exec(info)![1];
      assertEquals(await workers[0].sendCommand(["CLIENT", "KILL", "ID", id]), 1);
      await waitFor(async () => (await outcome(() => workers[1].ping())) !== "PONG", {
        message: "the killed session closed",
      });
      assertEquals(await workers[2].ping(), "PONG", "the others go on");
    } finally {
      for (const w of workers) closeClient(w as unknown as TestClient);
      closeClient(other as unknown as TestClient);
    }
  },
);

async function redisClientDirect(port: number, name: string) {
  const c = createClient({ socket: { host: "127.0.0.1", port, reconnectStrategy: false }, name });
  c.on("error", () => {});
  await c.connect();
  return c;
}

Deno.test("acl: a user's rights hold on a router port too", E2E, async () => {
  await using a = await startReplicaSet({ replicas: 0 });
  await using b = await startReplicaSet({ replicas: 0 });
  await addUser(a);
  await addUser(b);
  await using sg = await startShardgate([
    "shards:",
    `  s0: { readers: 127.0.0.1:0, writer: 127.0.0.1:0, nodes: ["${a.primary.address}"], ${CHECK} }`,
    `  s1: { readers: 127.0.0.1:0, writer: 127.0.0.1:0, nodes: ["${b.primary.address}"], ${CHECK} }`,
    "routers:",
    "  r: { listen: 127.0.0.1:0, shards: [{ shard: s0 }, { shard: s1 }] }",
    "",
  ].join("\n"));
  const io = new IORedis({
    host: "127.0.0.1",
    port: sg.routerPorts.r,
    username: "app",
    password: "secret",
    enableReadyCheck: false, // a router port refuses INFO (it would see one shard)
  });
  try {
    for (let i = 0; i < 10; i++) assertEquals(await io.set(`app:${i}`, "v"), "OK");
    for (let i = 0; i < 10; i++) {
      const r = await outcome(() => io.set(`other:${i}`, "v"));
      assert(r.startsWith("NOPERM"), r);
    }
    assertEquals(await io.mget("app:1", "app:2", "app:3"), ["v", "v", "v"]);
  } finally {
    io.disconnect();
  }
});
