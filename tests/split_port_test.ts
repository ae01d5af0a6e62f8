/**
 * End-to-end: a shard's split port. Read-only commands land on the
 * replicas (counted by each node's `INFO commandstats`); writes,
 * transactions, scripts that may write and introspection go to the
 * primary, which the port looks like: `INFO replication` says
 * `role:master`, `ROLE` is the primary's, HELLO says `master`. node-redis
 * and ioredis defaults work on it, and so does a client that refuses any
 * endpoint whose `INFO replication` is not `role:master` at connect. A
 * replica killed under read load there fails no read.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { Redis } from "ioredis";
import {
  closeClient,
  parseInfo,
  redisClient,
  type RedisProcess,
  runShardgateCli,
  startRedis,
  startReplicaSet,
  startShardgate,
  type TestClient,
  waitFor,
} from "./helpers/mod.ts";
import { LagRelay, replicaThrough } from "./_lag_relay.ts";
import { frameText, pipeline } from "./_raw_resp.ts";
import { commandCount, E2E, populate, readLoad, statusChanged } from "./_health_helpers.ts";
import { field, reloaded, waitRefused } from "./_reload_helpers.ts";

const KEYS = 500;
const CHECK = "check: { interval: 100ms, timeout: 200ms, rise: 1, fall: 2 }";

/** One shard `main` with a split port (and a readers port to compare with). */
function splitYaml(nodes: readonly string[], extra = ""): string {
  return `shards:
  main:
    split: 127.0.0.1:0
    readers: 127.0.0.1:0
    nodes: [${nodes.join(", ")}]
    ${CHECK}
    ${extra}
`;
}

/** `calls` of `cmd` on `node` (`INFO commandstats`). */
async function calls(node: RedisProcess, cmd: string): Promise<number> {
  return commandCount(parseInfo(await node.cli("INFO", "commandstats")), cmd).calls;
}

/**
 * Connects as a client library that insists on a primary does: after
 * connecting it asks `INFO replication` and refuses anything but
 * `role:master`.
 */
async function primaryOnlyClient(port: number): Promise<TestClient> {
  const c = await redisClient(port, { resp: 2 });
  const info = parseInfo(String(await c.sendCommand(["INFO", "replication"])));
  if (info.role !== "master") {
    closeClient(c);
    throw new Error(`not a primary: role:${info.role}`);
  }
  return c;
}

Deno.test(
  "split: reads land on replicas, the rest on the primary, and the port looks like a primary",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 2 });
    // No hedges: a hedged GET may land on the primary, and this test counts where GETs land.
    await using sg = await startShardgate(splitYaml(set.addresses, "hedge: false"));
    const split = sg.ports.main.split!;
    for (const n of set.nodes) await n.cli("CONFIG", "RESETSTAT");

    // node-redis defaults (HELLO 3).
    const nr = (await import("redis")).createClient({ socket: { host: "127.0.0.1", port: split } });
    nr.on("error", () => {});
    await nr.connect();
    try {
      assertEquals(await nr.set("k", "v1"), "OK");
      await set.waitSynced();
      for (let i = 0; i < 100; i++) assertEquals(await nr.get("k"), "v1");
      const hello = await nr.sendCommand(["HELLO", "3"]) as unknown as Record<string, unknown>;
      assertEquals(hello.role, "master", "HELLO's role on the split port");
      const role = await nr.sendCommand(["ROLE"]) as unknown as unknown[];
      assertEquals(role[0], "master", "ROLE comes from the primary");
      const info = parseInfo(String(await nr.sendCommand(["INFO", "replication"])));
      assertEquals(info.role, "master");
      assertEquals(info.connected_slaves, "2", "the primary's own INFO");
      // A transaction and a script that writes run on the primary; a read-only script on a replica.
      const [, got] = await nr.multi().set("t", "1").get("t").exec();
      assertEquals(got, "1");
      assertEquals(await nr.sendCommand(["EVAL", "return redis.call('SET', 'e', '1')", "0"]), "OK");
      await set.waitSynced();
      assertEquals(
        await nr.sendCommand(["EVAL_RO", "return redis.call('GET', KEYS[1])", "1", "e"]),
        "1",
      );
    } finally {
      if (nr.isOpen) nr.destroy();
    }
    const primary = set.primary;
    const [r0, r1] = set.replicas;
    const replicaGets = (await calls(r0, "get")) + (await calls(r1, "get"));
    assert(replicaGets >= 100, `GETs on the replicas: ${replicaGets}`);
    assertEquals(await calls(primary, "get"), 1, "the only GET on the primary is the one in MULTI");
    // SET k, the SET in MULTI and the script's own SET.
    assertEquals(await calls(primary, "set"), 3, "the SETs ran on the primary");
    assertEquals(await calls(primary, "exec"), 1, "EXEC ran on the primary");
    assertEquals(await calls(primary, "eval"), 1, "EVAL ran on the primary");
    assertEquals(
      (await calls(r0, "eval_ro")) + (await calls(r1, "eval_ro")),
      1,
      "EVAL_RO on a replica",
    );
    assertEquals(await calls(primary, "eval_ro"), 0);

    // ioredis defaults (HELLO 3, CLIENT SETINFO, an INFO ready check).
    const io = new Redis({ host: "127.0.0.1", port: split, lazyConnect: true });
    io.on("error", () => {});
    try {
      await io.connect();
      assertEquals(await io.set("io", "x"), "OK");
      assertEquals(await io.get("io"), "x");
    } finally {
      io.disconnect();
    }

    // A client that requires role:master at connect: accepted by the split
    // port, refused (by itself) on the readers port, as directly on a replica.
    const strict = await primaryOnlyClient(split);
    try {
      assertEquals(await strict.set("s", "1"), "OK");
      await set.waitSynced();
      assertEquals(await strict.get("s"), "1");
    } finally {
      closeClient(strict);
    }
    let refused = "";
    await primaryOnlyClient(sg.ports.main.readers).then(closeClient, (e) => refused = String(e));
    assert(refused.includes("not a primary"), `readers port: ${refused}`);
  },
);

Deno.test("split: a replica killed under read load fails no read there", E2E, async () => {
  await using set = await startReplicaSet({ replicas: 2 });
  await populate(set, KEYS);
  await using sg = await startShardgate(splitYaml(set.addresses));
  await using load = await readLoad(sg.ports.main.split!, KEYS);
  await load.waitForOk(1000);
  const victim = set.replicas[0];
  const from = sg.logs().length;
  // Reads go on, on the other replica (or, where it is avoided for a moment, the primary).
  const served = async () =>
    (await calls(set.replicas[1], "get")) + (await calls(set.primary, "get"));
  const before = await served();
  await victim.kill("SIGKILL");
  await sg.waitForLog(statusChanged(victim, "down"), 5000, { from });
  await load.waitForOk(1000);
  const stats = await load.stop();
  assertEquals(stats.failed, 0, `failed reads: ${stats.errors.join("; ")}`);
  assert((await served()) > before, "the other nodes took the reads");
});

Deno.test(
  "split: a reload adds and removes the split port; check accepts a split-only shard",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    const plain = `shards:\n  main:\n    readers: 127.0.0.1:0\n    nodes: [${
      set.addresses.join(", ")
    }]\n`;
    await using sg = await startShardgate(plain);
    assertEquals(sg.ports.main.split, undefined);

    let from = sg.logs().length;
    await sg.writeConfig(splitYaml(set.addresses));
    const rec = await reloaded(sg, from);
    assert(field(rec, "changes").includes("split none→127.0.0.1:0"), field(rec, "changes"));
    await sg.waitForLog((l) => l.msg === "listening" && l.role === "split", 5_000, { from });
    const port = sg.ports.main.split!;
    const c = await redisClient(port);
    try {
      assertEquals(await c.set("r", "1"), "OK");
      assertEquals(await set.primary.cli("GET", "r"), "1");
    } finally {
      closeClient(c);
    }

    from = sg.logs().length;
    await sg.writeConfig(plain);
    await reloaded(sg, from);
    await waitRefused(port);

    // `shardgate check`: a shard with only a split port is valid; one with no port is not.
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(
        `${dir}/ok.yaml`,
        `shards:\n  s:\n    split: 127.0.0.1:7300\n    nodes: [127.0.0.1:6379]\n`,
      );
      await Deno.writeTextFile(`${dir}/bad.yaml`, `shards:\n  s:\n    nodes: [127.0.0.1:6379]\n`);
      assertEquals((await runShardgateCli(["check", "--config", `${dir}/ok.yaml`])).code, 0);
      const bad = await runShardgateCli(["check", "--config", `${dir}/bad.yaml`]);
      assertEquals(bad.code, 2);
      assert(
        bad.stderr.includes(
          `bad.yaml:2:3: shards.s: a shard needs at least one of "readers", "writer", "split"`,
        ),
        bad.stderr,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "split: with consistency: session, a read pipelined behind the session's own unanswered write sees it",
  E2E,
  async () => {
    await using primary = await startRedis();
    await using relay = new LagRelay(primary.port);
    await using replica = await replicaThrough(relay);
    await using sg = await startShardgate(
      splitYaml([primary.address, replica.address], "consistency: session"),
    );
    const port = sg.ports.main.split!;
    // The replica serves the port's reads (a GET lands there).
    await primary.cli("SET", "warm", "1");
    await waitFor(async () => {
      const before = await calls(replica, "get");
      await pipeline(port, [["GET", "warm"]]);
      return (await calls(replica, "get")) > before;
    }, { message: "the replica serves reads" });
    relay.pause(); // the replica gets no more writes: any read there is stale
    try {
      for (let i = 0; i < 20; i++) {
        const replies = await pipeline(port, [["SET", "k", `v${i}`], ["GET", "k"]]);
        assertEquals(replies.map(frameText), ["+OK", `$${`v${i}`.length}\r\nv${i}`]);
      }
    } finally {
      relay.resume();
    }
  },
);
