/**
 * End-to-end: the near cache (`cache:`) with real redis-server nodes and
 * real clients. A hot key is answered by shardgate (the replica's GET count
 * stops rising), in each protocol's exact bytes; writes straight to the
 * primary (another host's) reach readers through shardgate promptly, by the
 * replica's invalidation, also when shardgate itself was paused while they
 * queued up; a write through the writer port, a FLUSHALL, a key's TTL, a
 * replica kill and a reload turning the cache off each end what the cache
 * may answer.
 */

import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert/strict";
import { Redis } from "ioredis";
import { encodeCommand } from "../resp/mod.ts";
import {
  closeClient,
  redisClient,
  startRedis,
  startReplicaSet,
  startShardgate,
  type TestClient,
  waitFor,
} from "./helpers/mod.ts";
import { LagRelay, replicaThrough } from "./_lag_relay.ts";
import { commandCount, E2E, getCount, logTime, SHARD, shardYaml } from "./_health_helpers.ts";
import { frame, RawConn } from "./_raw.ts";
import { VARIANTS } from "./_client_variants.ts";
import { adminGet, adminPort, statusDoc, type StatusJson } from "./_admin_helpers.ts";
import { parseInfo, parsePrometheus, sampleValue } from "./helpers/mod.ts";

const CHECK = "check: { interval: 100ms, timeout: 500ms, rise: 1, fall: 1, max_lag: 60s }";
const CACHE = "cache: { min_reads: 1, max_age: 30s }";

/** The shard's `cache` object on `/status` of the admin port `port` (the cache is on). */
async function cacheStatus(port: number): Promise<NonNullable<StatusJson["shards"][0]["cache"]>> {
  const cache = (await statusDoc(port)).shards[0].cache;
  if (cache === null) throw new Error("/status shows no cache");
  return cache;
}

/** Reads `k` through `c` until shardgate (admin port `port`) holds it. */
async function readUntilCached(c: TestClient, port: number) {
  await waitFor(async () => {
    for (let i = 0; i < 5; i++) await c.get("k");
    return (await cacheStatus(port)).keys === 1;
  }, { message: "k cached" });
}

/** Sends one command on `conn` and reads its reply text up to `until`. */
async function ask(conn: RawConn, args: string[], until = (t: string) => t.endsWith("\r\n")) {
  await conn.send(encodeCommand(args));
  return await conn.readUntil(until, 10_000);
}

Deno.test("cache: a hot key is answered by shardgate, in each protocol's bytes", E2E, async () => {
  await using set = await startReplicaSet({ replicas: 1 });
  await set.primary.cli("SET", "hot", "v1");
  await set.waitSynced();
  await using sg = await startShardgate(
    "admin:\n  listen: 127.0.0.1:0\n" + shardYaml(set.addresses, [CHECK, CACHE]),
  );
  const c = await redisClient(sg.ports[SHARD].readers);
  const raw = await RawConn.open(sg.ports[SHARD].readers);
  try {
    // Filled after the first reads (admission 1/s): then the replica sees no GET of it.
    await waitFor(async () => {
      await c.get("hot");
      await c.get("nokey");
      const before = (await getCount(set.replicas[0])).calls;
      for (let i = 0; i < 20; i++) assertEquals(await c.get("hot"), "v1");
      for (let i = 0; i < 20; i++) assertEquals(await c.get("nokey"), null);
      return (await getCount(set.replicas[0])).calls === before;
    }, { message: "hot keys answered by shardgate" });
    assertEquals(await ask(raw, ["GET", "hot"], (t) => t.length >= 8), "$2\r\nv1\r\n");
    assertEquals(await ask(raw, ["GET", "nokey"]), "$-1\r\n");
    assertEquals(
      await ask(raw, ["MGET", "hot", "nokey"], (t) => t.length >= 17),
      "*2\r\n$2\r\nv1\r\n$-1\r\n",
    );
    await raw.send(encodeCommand(["HELLO", "3"]));
    await raw.readUntil((t) => t.includes("modules"), 10_000);
    assertEquals(await ask(raw, ["GET", "nokey"]), "_\r\n");
    assertEquals(
      await ask(raw, ["MGET", "hot", "nokey"], (t) => t.length >= 15),
      "*2\r\n$2\r\nv1\r\n_\r\n",
    );
    // Visible: /metrics and /status.
    const port = adminPort(sg);
    const m = parsePrometheus((await adminGet(port, "/metrics")).body);
    const shard = { shard: SHARD };
    assert((sampleValue(m, "shardgate_cache_hits_total", shard) ?? 0) >= 40);
    assert((sampleValue(m, "shardgate_cache_misses_total", shard) ?? 0) >= 2);
    assertEquals(sampleValue(m, "shardgate_cache_keys", shard), 2);
    assert((sampleValue(m, "shardgate_cache_bytes", shard) ?? 0) > 0);
    assert((sampleValue(m, "shardgate_cache_admissions_total", shard) ?? 0) >= 2);
    assertEquals(
      sampleValue(m, "shardgate_cache_evictions_total", { ...shard, reason: "flush" }),
      0,
    );
    const status = JSON.parse((await adminGet(port, "/status")).body);
    const cache = status.shards[0].cache;
    assertEquals(cache.node, set.replicas[0].address);
    assertEquals(cache.tracking, true);
    assertEquals(cache.keys, 2);
    assert(cache.hits >= 40);
  } finally {
    raw.close();
    await closeClient(c);
  }
});

Deno.test(
  "cache: writes straight to the primary, FLUSHALL and expiry reach readers promptly",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    await using sg = await startShardgate(shardYaml(set.addresses, [CHECK, CACHE]));
    const c = await redisClient(sg.ports[SHARD].readers);
    const p = await redisClient(set.primary.port);
    try {
      await p.set("k", "0");
      await set.waitSynced();
      await waitFor(async () => (await c.get("k")) === "0");
      // Hot in the cache:
      await waitFor(async () => {
        const before = (await getCount(set.replicas[0])).calls;
        for (let i = 0; i < 10; i++) await c.get("k");
        return (await getCount(set.replicas[0])).calls === before;
      }, { message: "k cached" });
      for (let i = 1; i <= 20; i++) {
        await p.set("k", String(i));
        // As soon as the replica has it, shardgate answers it too (no max_age wait: it is 30 s).
        await waitFor(async () => (await set.replicas[0].cli("GET", "k")) === String(i));
        await waitFor(async () => (await c.get("k")) === String(i), {
          timeoutMs: 1000,
          message: `write ${i} seen through shardgate`,
        });
      }
      // FLUSHALL on the primary: a null invalidation empties the cache.
      await p.flushAll();
      await waitFor(async () => (await c.get("k")) === null, {
        timeoutMs: 1000,
        message: "flushed",
      });
      // A key with a TTL is never answered past it.
      await p.set("t", "x", { PX: 400 });
      await set.waitSynced();
      for (let i = 0; i < 5; i++) await c.get("t");
      await waitFor(async () => (await c.get("t")) === null, {
        timeoutMs: 2000,
        message: "expired key gone",
      });
    } finally {
      await closeClient(c);
      await closeClient(p);
    }
  },
);

Deno.test(
  "cache: large values answered from the cache come out whole and in order among small replies",
  E2E,
  async () => {
    // Hits of 8 KB or more go to the socket as the entry's own bytes, between copied replies.
    const big = "b".repeat(200_000), mid = "m".repeat(9_000);
    await using set = await startReplicaSet({ replicas: 1 });
    await set.primary.cli("SET", "small", "s");
    const p = await redisClient(set.primary.port);
    try {
      await p.set("big", big);
      await p.set("mid", mid);
    } finally {
      await closeClient(p);
    }
    await set.waitSynced();
    await using sg = await startShardgate(
      "admin:\n  listen: 127.0.0.1:0\n" + shardYaml(set.addresses, [CHECK, CACHE]),
    );
    const c = await redisClient(sg.ports[SHARD].readers);
    try {
      const port = adminPort(sg);
      await waitFor(async () => {
        await Promise.all([c.get("big"), c.get("mid"), c.get("small")]);
        return (await cacheStatus(port)).keys === 3;
      }, { message: "the three keys cached" });
      const before = (await getCount(set.replicas[0])).calls;
      // Pipelined on one connection: hits large and small, and misses (forwarded), interleaved.
      const keys = Array.from(
        { length: 300 },
        (_, i) => ["big", "small", "mid", `none:${i}`][i % 4],
      );
      const got = await Promise.all(keys.map((k) => c.get(k)));
      const want = keys.map((k) =>
        k === "big" ? big : k === "mid" ? mid : k === "small" ? "s" : null
      );
      for (let i = 0; i < keys.length; i++) {
        assert(got[i] === want[i], `reply ${i} (${keys[i]}): ${String(got[i]).slice(0, 20)}…`);
      }
      assertEquals(await c.mGet(["big", "small", "mid"]), [big, "s", mid]);
      // The cached three were not read from the replica; each of the 75 missing keys twice: the
      // read forwarded, and its fill (`min_reads: 1` admits a key at its first read).
      assertEquals((await getCount(set.replicas[0])).calls - before, 150);
    } finally {
      await closeClient(c);
    }
  },
);

Deno.test(
  "cache: a hot key the node refuses to fill (a hash read with GET) costs the node no fill per read",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    await set.primary.cli("HSET", "h", "f", "v");
    await set.waitSynced();
    await using sg = await startShardgate(
      "admin:\n  listen: 127.0.0.1:0\n" + shardYaml(set.addresses, [CHECK, CACHE]),
    );
    const raw = await RawConn.open(sg.ports[SHARD].readers);
    try {
      const before = (await getCount(set.replicas[0])).calls;
      // 2,000 GETs, one at a time (each read a miss that may ask for a fill): each gets the node's
      // WRONGTYPE, as straight from Redis.
      const WRONGTYPE = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
      const one = encodeCommand(["GET", "h"]);
      for (let i = 0; i < 2_000; i++) {
        await raw.send(one);
        assertEquals(await raw.readUntil((t) => t.endsWith("\r\n"), 10_000), WRONGTYPE);
      }
      // Forwarded: 2,000 GETs; refused fills (a GET each): about one a second, not one a read.
      const gets = (await getCount(set.replicas[0])).calls - before;
      assert(gets >= 2_000 && gets < 2_100, `the replica ran ${gets} GETs for 2,000 reads`);
      const cache = await cacheStatus(adminPort(sg));
      assert(cache.refusedFills >= 1 && cache.refusedFills < 100, `refused ${cache.refusedFills}`);
    } finally {
      raw.close();
    }
  },
);

Deno.test(
  "cache: a node user without CLIENT TRACKING: reads go on, and the tracking connection backs off",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    for (const n of set.nodes) {
      const ok = await n.cli(
        "ACL",
        "SETUSER",
        "sg",
        "on",
        ">pw",
        "~*",
        "&*",
        "+@all",
        "-client|tracking",
      );
      assertEquals(ok, "OK");
    }
    await set.primary.cli("SET", "k", "v");
    await set.waitSynced();
    await using sg = await startShardgate(
      "admin:\n  listen: 127.0.0.1:0\n" +
        shardYaml(set.addresses, [CHECK, CACHE, "auth: { username: sg, password: pw }"]),
    );
    const ended = () => sg.records().filter((r) => r.msg === "cache tracking ended");
    // (A change of serving nodes while starting starts a streak afresh: the run up to the fifth.)
    await waitFor(() => ended().some((r) => r.streak === 5), {
      timeoutMs: 15_000,
      message: "five refused setups in a row",
    });
    const all = ended();
    const fifth = all.findIndex((r) => r.streak === 5);
    const e = all.slice(fifth - 4, fifth + 1);
    assertEquals(e.map((r) => [r.level, r.reason, r.streak, r.node]), [
      ["info", "setup refused", 1, e[0].node],
      ["debug", "setup refused", 2, e[0].node],
      ["debug", "setup refused", 3, e[0].node],
      ["debug", "setup refused", 4, e[0].node],
      ["debug", "setup refused", 5, e[0].node],
    ]);
    // The fifth attempt waited 800 ms after the fourth ended, not 100 ms (the timer's minimum).
    const gap = logTime(e[4]) - logTime(e[3]);
    assert(gap >= 700, `${gap} ms between the fourth and fifth refusals`);
    // Without tracking, the cache answers nothing, and every read goes to the node as without it.
    const c = await redisClient(sg.ports[SHARD].readers);
    try {
      for (let i = 0; i < 20; i++) assertEquals(await c.get("k"), "v");
      const cache = await cacheStatus(adminPort(sg));
      assertEquals([cache.hits, cache.tracking], [0, false]);
    } finally {
      await closeClient(c);
    }
  },
);

Deno.test(
  "cache: clients logged in with the sidecar's own credentials are answered from it; another user is not",
  E2E,
  async () => {
    // The usual password-protected deployment: the apps use the same user and password as the
    // sidecar's `auth:`. Their AUTH still goes to the node (a wrong password gets its refusal).
    await using set = await startReplicaSet({ replicas: 1 });
    for (const n of set.nodes) {
      assertEquals(await n.cli("ACL", "SETUSER", "sg", "on", ">pw", "~*", "&*", "+@all"), "OK");
      assertEquals(await n.cli("ACL", "SETUSER", "app", "on", ">secret", "~*", "+@all"), "OK");
    }
    await set.primary.cli("SET", "hot", "v");
    await set.waitSynced();
    await using sg = await startShardgate(
      "admin:\n  listen: 127.0.0.1:0\n" +
        shardYaml(set.addresses, [CHECK, CACHE, "auth: { username: sg, password: pw }"]),
    );
    const port = sg.ports[SHARD].readers;
    const replicaGets = async () => (await getCount(set.replicas[0])).calls;
    /** 20 reads of `hot` through `read`: how many reached the replica. */
    const fromReplica = async (read: () => Promise<unknown>) => {
      const before = await replicaGets();
      for (let i = 0; i < 20; i++) assertEquals(await read(), "v");
      return (await replicaGets()) - before;
    };
    const resp2 = await redisClient(port, { username: "sg", password: "pw" });
    const resp3 = await redisClient(port, { resp: 3, username: "sg", password: "pw" });
    const io = new Redis({
      host: "127.0.0.1",
      port,
      username: "sg",
      password: "pw",
      lazyConnect: true,
    });
    const other = await redisClient(port, { username: "app", password: "secret" });
    try {
      await io.connect();
      // Filled at the first reads (min_reads: 1); then none of the three reaches the replica.
      await waitFor(async () => (await fromReplica(() => resp2.get("hot"))) === 0, {
        message: "hot answered from the cache",
      });
      assertEquals(await fromReplica(() => resp3.get("hot")), 0, "node-redis, HELLO 3 AUTH");
      assertEquals(await fromReplica(() => io.get("hot")), 0, "ioredis");
      // Another user is checked by the node, read by read.
      assertEquals(await fromReplica(() => other.get("hot")), 20, "user app");
      // Introspection names the user each runs as.
      assert(String(await resp2.sendCommand(["CLIENT", "INFO"])).includes(" user=sg "));
      assert(String(await other.sendCommand(["CLIENT", "INFO"])).includes(" user=app "));
      await rejects(
        () => redisClient(port, { username: "sg", password: "wrong" }),
        /WRONGPASS/,
      );
    } finally {
      closeClient(resp2);
      closeClient(resp3);
      closeClient(other);
      io.disconnect();
    }
  },
);

Deno.test("cache: a write through the writer port is read back at once", E2E, async () => {
  await using set = await startReplicaSet({ replicas: 1 });
  await using sg = await startShardgate(shardYaml(set.addresses, [CHECK, CACHE]));
  const r = await redisClient(sg.ports[SHARD].readers);
  const w = await redisClient(sg.ports[SHARD].writer!);
  try {
    await w.set("own", "a");
    await set.waitSynced();
    await waitFor(async () => {
      const before = (await getCount(set.replicas[0])).calls;
      for (let i = 0; i < 10; i++) assertEquals(await r.get("own"), "a");
      return (await getCount(set.replicas[0])).calls === before;
    }, { message: "own cached" });
    let stale = 0;
    for (let i = 0; i < 50; i++) {
      await w.set("own", `b${i}`);
      await w.sendCommand(["WAIT", "1", "1000"]);
      // Acknowledged and on the replica: the cache must not answer the old value.
      if ((await r.get("own")) !== `b${i}`) stale++;
    }
    assertEquals(stale, 0);
  } finally {
    await closeClient(r);
    await closeClient(w);
  }
});

Deno.test(
  "cache: with consistency: host, a write is never read back old from a lagging replica's cache",
  E2E,
  async () => {
    await using primary = await startRedis();
    await using relay = new LagRelay(primary.port);
    await using replica = await replicaThrough(relay);
    await primary.cli("SET", "k", "old");
    await waitFor(async () => (await replica.cli("GET", "k")).trim() === "old", {
      message: "the replica has k",
    });
    await using sg = await startShardgate(
      shardYaml([primary.address, replica.address], [CHECK, CACHE, "consistency: host"]),
    );
    const r = await redisClient(sg.ports[SHARD].readers);
    const w = await redisClient(sg.ports[SHARD].writer!);
    try {
      await waitFor(async () => {
        const before = (await getCount(replica)).calls;
        for (let i = 0; i < 10; i++) assertEquals(await r.get("k"), "old");
        return (await getCount(replica)).calls === before;
      }, { message: "k cached" });
      relay.pause(); // the replica applies no more writes: its old k may be filled again
      try {
        for (let i = 0; i < 5; i++) {
          await w.set("k", `new${i}`);
          // Each read misses or is refused by the cache; the gate sends it to the primary.
          for (let j = 0; j < 10; j++) {
            assertEquals(await r.get("k"), `new${i}`, `write ${i} read ${j}`);
          }
        }
      } finally {
        relay.resume();
      }
    } finally {
      await closeClient(r);
      await closeClient(w);
    }
  },
);

Deno.test(
  "cache: a killed replica's entries go; a reload turning the cache off ends hits",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 2 });
    await set.primary.cli("SET", "k", "v");
    await set.waitSynced();
    await using sg = await startShardgate(shardYaml(set.addresses, [CHECK, CACHE]));
    const c = await redisClient(sg.ports[SHARD].readers);
    const p = await redisClient(set.primary.port);
    try {
      const replicaGets = async () =>
        (await getCount(set.replicas[0])).calls + (await getCount(set.replicas[1])).calls;
      await waitFor(async () => {
        const before = await replicaGets();
        for (let i = 0; i < 10; i++) await c.get("k");
        return (await replicaGets()) === before;
      }, { message: "k cached" });
      // Kill both replicas one after the other; with each gone, writes still show through.
      await set.replicas[0].kill();
      await p.set("k", "v2");
      await waitFor(async () => (await c.get("k")) === "v2", { timeoutMs: 3000 });
      await set.replicas[0].restart();
      await set.waitSynced();
      await set.replicas[1].kill();
      await p.set("k", "v3");
      await waitFor(async () => (await c.get("k")) === "v3", { timeoutMs: 3000 });
      // Reload with the cache off: every GET reaches a node.
      await sg.writeConfig(shardYaml(set.addresses, [CHECK]));
      const liveGets = async () =>
        (await getCount(set.replicas[0])).calls + (await getCount(set.primary)).calls;
      await waitFor(async () => {
        const before = await liveGets();
        for (let i = 0; i < 5; i++) await c.get("k");
        return (await liveGets()) - before === 5;
      }, { message: "cache off after reload" });
    } finally {
      await closeClient(c);
      await closeClient(p);
    }
  },
);

Deno.test(
  "cache: a failover promoting the tracked replica drops its entries; writes to the new primary show",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 2 });
    await set.primary.cli("SET", "k", "0");
    await set.waitSynced();
    await using sg = await startShardgate(
      "admin:\n  listen: 127.0.0.1:0\n" + shardYaml(set.addresses, [CHECK, CACHE]),
    );
    const port = adminPort(sg);
    const cacheDoc = () => cacheStatus(port);
    const c = await redisClient(sg.ports[SHARD].readers);
    try {
      await readUntilCached(c, port);
      const node = (await cacheDoc()).node;
      const tracked = set.replicas.find((r) => r.address === node);
      assert(tracked !== undefined, "the cache tracks a replica");
      await set.failover(tracked);
      // The tracked node is the primary now: it no longer serves reads, so everything it fed goes.
      await waitFor(async () => (await cacheDoc()).evictions.node >= 1, {
        message: "entries dropped when the tracked node stopped serving reads",
      });
      const p = await redisClient(set.primary.port);
      try {
        for (let i = 1; i <= 10; i++) {
          await p.set("k", `after-${i}`);
          await waitFor(async () => (await c.get("k")) === `after-${i}`, {
            timeoutMs: 3000,
            message: `write ${i} to the new primary seen through shardgate`,
          });
        }
      } finally {
        await closeClient(p);
      }
      const after = await cacheDoc();
      assert(after.node !== tracked.address, `tracking moved off the new primary (${after.node})`);
    } finally {
      await closeClient(c);
    }
  },
);

Deno.test(
  "cache: a key read steadily is fetched again before its max age and never expires into a miss",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    await set.primary.cli("SET", "k", "v");
    await set.waitSynced();
    await using sg = await startShardgate(
      "admin:\n  listen: 127.0.0.1:0\n" +
        shardYaml(set.addresses, [CHECK, "cache: { min_reads: 1, max_age: 1500ms }"]),
    );
    const port = adminPort(sg);
    const cacheDoc = () => cacheStatus(port);
    const c = await redisClient(sg.ports[SHARD].readers);
    try {
      await readUntilCached(c, port);
      const before = await cacheDoc();
      const gets = (await getCount(set.replicas[0])).calls;
      // Read on past the first max age (each refreshed from 1,125 ms of it on; a stall of
      // 375 ms before a refresh came back would show as a miss and an expiry).
      let reads = 0;
      await waitFor(async () => {
        for (let i = 0; i < 50; i++, reads++) assertEquals(await c.get("k"), "v");
        return (await cacheDoc()).refreshes >= before.refreshes + 2;
      }, { timeoutMs: 20_000, message: "two refreshes" });
      const after = await cacheDoc();
      // Reads the cache forwarded because the replica was slow to answer it (over 10 ms, which
      // the suite's load can cause) are counted apart: none of the others missed.
      const stalled = after.stalledReads - before.stalledReads;
      assertEquals(after.misses - stalled, before.misses, `no read of ${reads} missed`);
      assertEquals(after.evictions.expired, before.evictions.expired);
      assertEquals(after.admissions, before.admissions);
      const refreshes = after.refreshes - before.refreshes;
      const replicaGets = (await getCount(set.replicas[0])).calls - gets;
      // One GET per refresh on the tracking connection (one more may be on its way).
      assert(
        replicaGets <= refreshes + 1 + stalled,
        `${replicaGets} replica GETs for ${refreshes} refreshes and ${stalled} stalled reads`,
      );
      const m = parsePrometheus((await adminGet(port, "/metrics")).body);
      assertEquals(
        sampleValue(m, "shardgate_cache_refreshes_total", { shard: SHARD }),
        after.refreshes,
      );
    } finally {
      await closeClient(c);
    }
  },
);

Deno.test(
  "cache: over a keyspace with no hot set it goes lean (drops what it held), and back once a hot key answers",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    await set.primary.cli("SET", "hot", "H");
    await set.waitSynced();
    await using sg = await startShardgate(
      "admin:\n  listen: 127.0.0.1:0\n" +
        shardYaml(set.addresses, [CHECK, "cache: { min_reads: 2, max_keys: 500 }"]),
    );
    const port = adminPort(sg);
    const leanMetric = async () =>
      sampleValue(
        parsePrometheus((await adminGet(port, "/metrics")).body),
        "shardgate_cache_lean",
        { shard: SHARD },
      );
    const c = await redisClient(sg.ports[SHARD].readers);
    try {
      // 200,000 keys (none of them set) read uniformly, 200 at a time: each well under
      // `min_reads` a second, so only chance bursts get in, while the cache has room.
      let reads = 0;
      const cold = async () => {
        const got = await Promise.all(
          Array.from({ length: 200 }, () => c.get(`u:${Math.floor(Math.random() * 200_000)}`)),
        );
        for (const v of got) assertEquals(v, null);
        reads += got.length;
      };
      let peak = 0;
      await waitFor(async () => {
        for (let i = 0; i < 10; i++) await cold();
        const s = await cacheStatus(port);
        peak = Math.max(peak, s.keys);
        return s.lean;
      }, { timeoutMs: 40_000, message: "the cache goes lean" });
      const lean = await cacheStatus(port);
      assert(lean.admissions > 0 && peak > 0, `it had let warm keys in (peak ${peak} keys)`);
      assert(lean.evictions.lean > 0, `what it held went as lean: ${JSON.stringify(lean)}`);
      assert(lean.keys < peak, `${lean.keys} keys held once lean (${peak} before)`);
      assertEquals(await leanMetric(), 1);
      // A hot key taking most reads: in by the full bar, answered, and the cache comes back.
      await waitFor(async () => {
        for (let i = 0; i < 20; i++) {
          const got = await Promise.all(Array.from({ length: 200 }, () => c.get("hot")));
          for (const v of got) assertEquals(v, "H");
        }
        await cold();
        return !(await cacheStatus(port)).lean;
      }, { timeoutMs: 40_000, message: "the cache fills free space again" });
      const back = await cacheStatus(port);
      assert(back.hits > lean.hits, "the hot key was answered by the cache");
      assertEquals(await leanMetric(), 0);
      assert(reads > 4_000, `${reads} cold reads`);
    } finally {
      await closeClient(c);
    }
  },
);

Deno.test(
  "cache: each client library, in its default handshake and common variants, reads the right value; database 2 never gets database 0's entry",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    await set.primary.cli("SET", "k", "db0");
    await set.primary.cli("-n", "2", "SET", "k", "db2");
    await set.primary.cli("HSET", "h", "f", "db0", "g", "x");
    await set.primary.cli("-n", "2", "HSET", "h", "f", "db2");
    await set.waitSynced();
    await using sg = await startShardgate(
      "admin:\n  listen: 127.0.0.1:0\n" + shardYaml(set.addresses, [CHECK, CACHE]),
    );
    const port = adminPort(sg);
    const readers = sg.ports[SHARD].readers;
    // Database 0 cached first, so a client on database 2 could only be wrong by being answered.
    const c = await redisClient(readers);
    try {
      await readUntilCached(c, port);
    } finally {
      await closeClient(c);
    }
    const before = await cacheStatus(port);
    const drivers = await Promise.all(
      VARIANTS.map(async (v) => ({ v, d: await v.connect(readers) })),
    );
    try {
      for (let i = 0; i < 20; i++) {
        for (const { v, d } of drivers) {
          const db2 = v.pool.endsWith("/2");
          assertEquals(await d.get("k"), db2 ? "db2" : "db0", v.name);
          // HGETALL is kept as a RESP3 map and answered to RESP2 clients as an array: each
          // library parses its own protocol's form.
          assertEquals(await d.hgetall("h"), db2 ? { f: "db2" } : { f: "db0", g: "x" }, v.name);
        }
      }
    } finally {
      for (const { d } of drivers) await d.close();
    }
    for (let i = 0; i < 3; i++) {
      const out = await new Deno.Command("redis-cli", {
        args: ["-3", "-p", String(readers), "GET", "k"],
        stdin: "null",
      }).output();
      assertEquals(new TextDecoder().decode(out.stdout).trim(), "db0", "redis-cli -3");
    }
    const after = await cacheStatus(port);
    // Six variants on database 0 read 20 times each (a GET and an HGETALL), and redis-cli 3 times.
    // Less the first rounds' HGETALLs: h gets in at its first read (min_reads: 1), and reads miss
    // until its fill is back (allowed: two rounds of them).
    const db0Variants = VARIANTS.filter((v) => !v.pool.endsWith("/2")).length;
    const db0Reads = 20 * db0Variants * 2 + 3 - 2 * db0Variants;
    // Apart from reads forwarded because the replica was slow to answer the cache (the suite's
    // load can make it take over 10 ms): those are still right, from the replica.
    const hits = after.hits - before.hits;
    const stalled = after.stalledReads - before.stalledReads;
    assert(hits + stalled >= db0Reads, `hits ${hits} and ${stalled} stalled of ${db0Reads}`);
    assertEquals(after.keys, 2, "database 2's reads were not cached (k and h's HGETALL were)");
  },
);

Deno.test(
  "cache: reads queued while shardgate itself was paused get what was written meanwhile",
  E2E,
  async () => {
    // shardgate descheduled (a starved CPU, a long GC): the tracked replica's invalidation and
    // reads sent after the write both wait in socket buffers. When it runs again, no read may be
    // answered from the entry the invalidation ends.
    const CONNS = 8, ROUNDS = 10;
    await using set = await startReplicaSet({ replicas: 1 });
    await set.primary.cli("SET", "k", "0");
    await set.waitSynced();
    await using sg = await startShardgate(
      "admin:\n  listen: 127.0.0.1:0\n" + shardYaml(set.addresses, [CHECK, CACHE]),
    );
    const admin = adminPort(sg);
    const c = await redisClient(sg.ports[SHARD].readers);
    const conns: RawConn[] = [];
    try {
      for (let i = 0; i < CONNS; i++) conns.push(await RawConn.open(sg.ports[SHARD].readers));
      await readUntilCached(c, admin);
      const get = encodeCommand(["GET", "k"]);
      for (let v = 1; v <= ROUNDS; v++) {
        // Answered by the cache right before the pause (the replica's GET count stays put).
        const before = (await getCount(set.replicas[0])).calls;
        for (let i = 0; i < 10; i++) assertEquals(await c.get("k"), String(v - 1));
        assertEquals((await getCount(set.replicas[0])).calls, before, `round ${v}: cached`);
        sg.signal("SIGSTOP");
        try {
          await set.primary.cli("SET", "k", String(v));
          await waitFor(async () => (await set.replicas[0].cli("GET", "k")).trim() === String(v), {
            message: `round ${v}: the replica has it`,
          });
          for (const conn of conns) await conn.send(get);
        } finally {
          sg.signal("SIGCONT");
        }
        for (const [i, conn] of conns.entries()) {
          const reply = await conn.readUntil((t) => t.split("\r\n").length >= 3);
          assertEquals(reply, `$${String(v).length}\r\n${v}\r\n`, `round ${v}, connection ${i}`);
        }
      }
      const cache = await cacheStatus(admin);
      assert(cache.evictions.invalidated >= ROUNDS, `invalidated ${cache.evictions.invalidated}`);
    } finally {
      for (const conn of conns) conn.close();
      await closeClient(c);
    }
  },
);

Deno.test(
  "cache: HGET, HGETALL and EXISTS are answered by shardgate in each protocol's bytes, and kept fresh",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    await set.primary.cli("HSET", "h", "f", "v", "g", "w", "e", "");
    await set.primary.cli("SET", "s", "x");
    await set.waitSynced();
    await using sg = await startShardgate(
      "admin:\n  listen: 127.0.0.1:0\n" + shardYaml(set.addresses, [CHECK, CACHE]),
    );
    const replica = set.replicas[0];
    const READS = [
      ["HGET", "h", "f"],
      ["HGET", "h", "nope"],
      ["HGET", "nokey", "f"],
      ["HGETALL", "h"],
      ["HGETALL", "nokey"],
      ["EXISTS", "h"],
      ["EXISTS", "nokey"],
    ];
    const nodeReads = async () => {
      const info = parseInfo(await replica.cli("INFO", "commandstats"));
      return ["hget", "hgetall", "exists"].reduce((n, c) => n + commandCount(info, c).calls, 0);
    };
    /** A connection speaking `proto` (HELLO 3 for RESP3), through shardgate or straight to the replica. */
    const open = async (port: number, proto: 2 | 3) => {
      const conn = await RawConn.open(port);
      if (proto === 3) {
        await conn.send(frame("HELLO", "3") + frame("PING"));
        await conn.readUntil((t) => t.endsWith("+PONG\r\n"));
      }
      return conn;
    };
    /** Every read's reply, in order, up to the closing PING's. */
    const replies = async (conn: RawConn) => {
      await conn.send(READS.map((a) => frame(...a)).join("") + frame("PING"));
      return await conn.readUntil((t) => t.endsWith("+PONG\r\n"));
    };
    const conns: RawConn[] = [];
    try {
      for (const proto of [2, 3] as const) {
        const via = await open(sg.ports[SHARD].readers, proto);
        const direct = await open(replica.port, proto);
        conns.push(via, direct);
        const want = await replies(direct);
        // Read until every one of them is answered by shardgate (the replica counts none of them).
        await waitFor(async () => {
          const before = await nodeReads();
          assertEquals(await replies(via), want, `RESP${proto}`);
          return (await nodeReads()) === before;
        }, { message: `RESP${proto}: every read answered by shardgate` });
        assertEquals(await replies(via), want, `RESP${proto}, from the cache`);
      }
      const hits = (await cacheStatus(adminPort(sg))).hits;
      assert(hits >= 2 * READS.length, `hits ${hits}`);
      // Writes straight to the primary reach them all: a field changed, one removed, the key gone.
      const via = conns[0];
      const read = async (args: string[]) => {
        await via.send(frame(...args));
        return await via.readUntil((t) =>
          /^(\$-1|\$\d+\r\n.*|[:*]\d+)\r\n/s.test(t) && complete(t)
        );
      };
      await set.primary.cli("HSET", "h", "f", "v2");
      await waitFor(async () => (await read(["HGET", "h", "f"])) === "$2\r\nv2\r\n", {
        timeoutMs: 2000,
        message: "HSET seen",
      });
      await set.primary.cli("HDEL", "h", "g", "e");
      await waitFor(
        async () => (await read(["HGETALL", "h"])) === "*2\r\n$1\r\nf\r\n$2\r\nv2\r\n",
        {
          timeoutMs: 2000,
          message: "HDEL seen",
        },
      );
      await set.primary.cli("DEL", "h");
      await waitFor(async () => (await read(["EXISTS", "h"])) === ":0\r\n", {
        timeoutMs: 2000,
        message: "DEL seen",
      });
      assertEquals(await read(["HGET", "h", "f"]), "$-1\r\n");
    } finally {
      for (const c of conns) c.close();
    }
  },
);

/** True when `t` holds exactly one complete reply of the kinds the test above reads. */
function complete(t: string): boolean {
  if (t.startsWith(":") || t === "$-1\r\n") return t.endsWith("\r\n");
  if (t.startsWith("$")) {
    const n = Number(t.slice(1, t.indexOf("\r\n")));
    return t.length === t.indexOf("\r\n") + 2 + n + 2;
  }
  // An array of bulk strings.
  const n = Number(t.slice(1, t.indexOf("\r\n")));
  let p = t.indexOf("\r\n") + 2;
  for (let i = 0; i < n; i++) {
    const e = t.indexOf("\r\n", p);
    if (e < 0) return false;
    p = e + 2 + Number(t.slice(p + 1, e)) + 2;
  }
  return p === t.length;
}
