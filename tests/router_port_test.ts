/**
 * End-to-end: a router port over three real shards. Keys written through
 * Debian's nutcracker are found through the router port and the other way
 * round (the same ketama ring, non-ASCII keys included); MGET of keys on
 * three shards survives one shard's death with errors in place of its keys
 * only; transactions stay on one shard; commands that would see one shard
 * are refused with the shards' own ports.
 */

import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert/strict";
import {
  closeClient,
  freePort,
  redisClient,
  type RedisProcess,
  startRedis,
  startShardgate,
  waitFor,
} from "./helpers/mod.ts";
import { bulkArray, frameText, pipeline } from "./_raw_resp.ts";
import { KetamaDistribution, md5 } from "../router/mod.ts";
import { E2E } from "./_health_helpers.ts";
import { nutcrackerPool, type NutcrackerRing, withNutcracker } from "./_nutcracker.ts";

const KEYS = 10_000;
const CHUNK = 500;
const utf8 = new TextEncoder();

/** Keys of many shapes: ASCII, Cyrillic, CJK, emoji, raw bytes, hash tags. */
function keys(n: number, prefix: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    switch (i % 6) {
      case 0:
        out.push(utf8.encode(`${prefix}user:${i}`));
        break;
      case 1:
        out.push(utf8.encode(`${prefix}ключ:${i}`));
        break;
      case 2:
        out.push(utf8.encode(`${prefix}鍵🔑:${i}`));
        break;
      case 3:
        out.push(
          Uint8Array.of(...utf8.encode(prefix), 0x80 + (i % 128), 0xfe, ...utf8.encode(`${i}`)),
        );
        break;
      case 4:
        out.push(utf8.encode(`${prefix}{user${i % 97}}:cart:${i}`));
        break;
      default:
        out.push(utf8.encode(`${prefix}k:${i}`));
    }
  }
  return out;
}

/** Three single-node shards s0..s2 and a router `r` over them, as shardgate config text. */
function shardgateYaml(
  servers: readonly RedisProcess[],
  ring: NutcrackerRing,
  admin = false,
): string {
  const entries = servers.map((_, i) => {
    const name = ring.names === undefined ? "" : `, name: "${ring.names[i]}"`;
    return `{ shard: s${i}, weight: ${ring.weights?.[i] ?? 1}${name} }`;
  });
  return [
    ...(admin ? ["admin:", "  listen: 127.0.0.1:0"] : []),
    "shards:",
    ...servers.map((s, i) =>
      `  s${i}: { readers: 127.0.0.1:0, writer: 127.0.0.1:0, nodes: ["127.0.0.1:${s.port}"], check: { interval: 100ms, timeout: 200ms } }`
    ),
    "routers:",
    "  r:",
    "    listen: 127.0.0.1:0",
    `    hash: ${ring.hash}`,
    ...(ring.hashTag === undefined ? [] : [`    hash_tag: "${ring.hashTag}"`]),
    `    shards: [${entries.join(", ")}]`,
    "",
  ].join("\n");
}

/** SETs `keys` (value: the key's index) through `port` in pipelined chunks. */
async function writeAll(
  port: number,
  list: readonly Uint8Array[],
  useMset: boolean,
): Promise<void> {
  for (let i = 0; i < list.length; i += CHUNK) {
    const chunk = list.slice(i, i + CHUNK);
    if (useMset) {
      const args: (string | Uint8Array)[] = ["MSET"];
      chunk.forEach((k, j) => args.push(k, String(i + j)));
      const [reply] = await pipeline(port, [args]);
      assertEquals(frameText(reply), "+OK");
    } else {
      const replies = await pipeline(port, chunk.map((k, j) => ["SET", k, String(i + j)]));
      assertEquals(replies.map(frameText).filter((t) => t !== "+OK").slice(0, 3), []);
    }
  }
}

/** The value of a bulk string reply, or null for `$-1`. */
function bulkValue(frame: Uint8Array): Uint8Array | null {
  const text = new TextDecoder().decode(frame);
  if (text.startsWith("$-1")) return null;
  const crlf = text.indexOf("\r\n");
  return frame.subarray(crlf + 2, frame.length - 2);
}

/** Keys whose value through `port` is not their index (MGET in chunks, or GETs). */
async function misses(
  port: number,
  list: readonly Uint8Array[],
  useMget: boolean,
): Promise<string[]> {
  const wrong: string[] = [];
  for (let i = 0; i < list.length; i += CHUNK) {
    const chunk = list.slice(i, i + CHUNK);
    let values: (Uint8Array | null)[];
    if (useMget) {
      const [reply] = await pipeline(port, [["MGET", ...chunk]]);
      values = bulkArray(reply);
    } else {
      values = (await pipeline(port, chunk.map((k) => ["GET", k]))).map(bulkValue);
    }
    values.forEach((v, j) => {
      const got = v === null ? null : new TextDecoder().decode(v);
      if (got !== String(i + j)) wrong.push(`${i + j}: ${got}`);
    });
  }
  return wrong;
}

for (
  const ring of [
    { hash: "fnv1a_64" },
    { hash: "md5", weights: [2, 1, 1], names: ["alpha", "бета", "gamma"], hashTag: "{}" },
  ] as NutcrackerRing[]
) {
  Deno.test(
    `router: keys written through nutcracker are found through the router port and back (${
      JSON.stringify(ring)
    })`,
    E2E,
    async () => {
      const servers = await Promise.all([0, 1, 2].map(() => startRedis()));
      try {
        await using sg = await startShardgate(shardgateYaml(servers, ring));
        const router = sg.routerPorts.r;
        const nc = await freePort();
        await withNutcracker(nutcrackerPool(ring, servers, nc), [nc], async () => {
          const viaNutcracker = keys(KEYS, "nc:");
          await writeAll(nc, viaNutcracker, false);
          assertEquals(await misses(router, viaNutcracker, true), [], "MGET through the router");
          assertEquals(await misses(router, viaNutcracker.slice(0, 2000), false), [], "GET");
          const viaRouter = keys(KEYS, "sg:");
          await writeAll(router, viaRouter, true);
          assertEquals(await misses(nc, viaRouter, false), [], "GET through nutcracker");
        });
        // Every key landed on one server, spread over all three.
        const sizes = await Promise.all(servers.map(async (s) => Number(await s.cli("DBSIZE"))));
        assertEquals(sizes.reduce((a, b) => a + b, 0), 2 * KEYS);
        assert(sizes.every((n) => n > 0), `spread ${sizes}`);
      } finally {
        await Promise.all(servers.map((s) => s.stop()));
      }
    },
  );
}

Deno.test(
  "router: MGET over 3 shards with one shard dead answers the rest, errors for its keys",
  E2E,
  async () => {
    const servers = await Promise.all([0, 1, 2].map(() => startRedis()));
    try {
      // md5 spreads these keys over all three servers whatever their (free) ports.
      await using sg = await startShardgate(shardgateYaml(servers, { hash: "md5" }));
      const router = sg.routerPorts.r;
      const list = Array.from({ length: 100 }, (_, i) => `m:${i}`);
      const c = await redisClient(router);
      try {
        await c.mSet(list.map((k, i) => [k, String(i)] as [string, string]));
        const held = await Promise.all(
          servers.map(async (s) => (await s.cli("KEYS", "m:*")).split("\n").filter((k) => k)),
        );
        // The dead shard: one holding some of the keys, not all.
        const victim = held.findIndex((keys) => keys.length > 0 && keys.length < 100);
        assert(victim >= 0, `key spread ${held.map((k) => k.length)}`);
        const dead = servers[victim];
        const onDead = new Set(held[victim]);
        await dead.kill("SIGKILL");
        const t0 = performance.now();
        const raw = await pipeline(router, [["MGET", ...list]]);
        const took = performance.now() - t0;
        const text = new TextDecoder().decode(raw[0]);
        const elements = text.split("\r\n");
        assertEquals(elements[0], "*100");
        // Per key: its value, or an error naming the dead shard.
        let values = 0, errors = 0;
        for (let i = 0, at = 1; i < 100; i++) {
          const head = elements[at];
          if (head.startsWith("-")) {
            assert(onDead.has(list[i]), `${list[i]} failed but lives on a live shard`);
            assert(head.includes(`shard 's${victim}'`), head);
            errors++;
            at += 1;
          } else {
            assert(!onDead.has(list[i]), `${list[i]} answered from the dead shard`);
            assertEquals(elements[at + 1], String(i));
            values++;
            at += 2;
          }
        }
        assertEquals([values, errors], [100 - onDead.size, onDead.size]);
        assert(took < 2000, `MGET took ${took} ms`);
        // DEL names the failed shard; the live shards applied their part.
        const del = await pipeline(router, [["DEL", ...list]]);
        assert(frameText(del[0]).includes(`'s${victim}'`), frameText(del[0]));
      } finally {
        closeClient(c);
      }
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  },
);

Deno.test(
  "router: transactions stay on one shard; one-shard commands are refused with the ports",
  E2E,
  async () => {
    const servers = await Promise.all([0, 1, 2].map(() => startRedis()));
    try {
      await using sg = await startShardgate(
        shardgateYaml(servers, { hash: "fnv1a_64", hashTag: "{}" }),
      );
      const router = sg.routerPorts.r;
      const c = await redisClient(router);
      try {
        // MULTI before any key: held until SET picks the shard; node-redis pipelines it all.
        assertEquals(await c.multi().set("{u1}:a", "1").incr("{u1}:a").get("{u1}:a").exec(), [
          "OK",
          2,
          "2",
        ]);
        // WATCH binds too; a watched key changed elsewhere aborts the transaction.
        const other = await redisClient(router);
        try {
          await c.watch("{u2}:w");
          await other.set("{u2}:w", "changed");
          // node-redis reports the aborted EXEC (a nil reply) as this error.
          await rejects(c.multi().set("{u2}:w", "mine").exec(), /watched keys has been changed/);
          assertEquals(await c.get("{u2}:w"), "changed");
        } finally {
          closeClient(other);
        }
        // Two shards in one transaction: refused, and EXEC aborts.
        // Two keys on different shards.
        const shardOf = async (k: string) => {
          await c.set(k, "v");
          const where = await Promise.all(servers.map((srv) => srv.cli("EXISTS", k)));
          return where.indexOf("1");
        };
        const k1 = "x0";
        const s1 = await shardOf(k1);
        let k2 = "";
        for (let i = 1; k2 === ""; i++) if (await shardOf(`x${i}`) !== s1) k2 = `x${i}`;
        const tx = await pipeline(router, [["MULTI"], ["SET", k1, "1"], ["SET", k2, "2"], [
          "EXEC",
        ]]);
        assertEquals(frameText(tx[0]), "+OK");
        assertEquals(frameText(tx[1]), "+QUEUED");
        assert(frameText(tx[2]).includes("this transaction is on shard"), frameText(tx[2]));
        assert(frameText(tx[3]).startsWith("-EXECABORT"), frameText(tx[3]));
        // Keyless ones answered here or refused with the shards' own ports.
        assertEquals(await c.ping(), "PONG");
        const scan = await pipeline(router, [["SCAN", "0"]]);
        assert(/send it to each shard's own port: s0 127\.0\.0\.1:\d+/.test(frameText(scan[0])));
        // A blocking command by key pins to its shard for its reply, then un-pins.
        const popped = c.blPop("{q}:jobs", 5);
        await waitFor(async () => {
          const blocked = await Promise.all(
            servers.map(async (srv) => (await srv.info("clients")).blocked_clients),
          );
          return blocked.includes("1");
        }, { message: "BLPOP blocked on its shard" });
        const pusher = await redisClient(router);
        try {
          await pusher.rPush("{q}:jobs", "job-1");
        } finally {
          closeClient(pusher);
        }
        assertEquals(await popped, { key: "{q}:jobs", element: "job-1" });
        assertEquals(await c.get("{u1}:a"), "2");
      } finally {
        closeClient(c);
      }
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  },
);

Deno.test(
  "router: a reload that changes the ring logs how many sample keys move, and new commands follow it",
  E2E,
  async () => {
    const servers = await Promise.all([0, 1, 2].map(() => startRedis()));
    try {
      const before = shardgateYaml(servers, { hash: "fnv1a_64" }, true);
      await using sg = await startShardgate(before);
      const router = sg.routerPorts.r;
      const c = await redisClient(router);
      try {
        await c.set("probe", "1");
        const from = sg.logs().length;
        await sg.writeConfig(shardgateYaml(servers, { hash: "md5", weights: [1, 1, 3] }, true));
        const line = await sg.waitForLog((l) => l.msg === "router ring changed", 10_000, { from });
        const moved = Number(line.keys_moved_of_10000);
        assert(moved > 1000 && moved < 10_000, `${moved} of 10,000 sample keys moved`);
        // The same client connection goes on, on the new ring: every key where that ring puts it
        // (its points are named by the servers' free ports, so s2's share varies by run: 88 to 146
        // of these 200 keys over 3,000 simulated port choices, about 3 in 5 at the median).
        const keys = Array.from({ length: 200 }, (_, i) => `after:${i}`);
        for (const k of keys) await c.set(k, "v");
        const ring = new KetamaDistribution(
          servers.map((s, i) => ({
            shard: `s${i}`,
            name: `127.0.0.1:${s.port}`,
            weight: [1, 1, 3][i],
          })),
          md5,
          null,
        );
        const expected = keys.filter((k) => ring.shardOf(new TextEncoder().encode(k)) === 2).length;
        const onS2 = (await servers[2].cli("KEYS", "after:*")).split("\n").filter((k) => k).length;
        assertEquals(
          onS2,
          expected,
          `${onS2} of 200 keys on the weight-3 shard, the ring puts ${expected}`,
        );
        assert(onS2 > 75 && onS2 < 165, `${onS2} of 200 keys on the weight-3 shard`);
        assertEquals(await c.get("after:7"), "v");
        // /status shows the router: its address, its ring and the session.
        const status = await (await fetch(`http://127.0.0.1:${sg.adminPort}/status`)).json();
        assertEquals(
          status.routers.map((r: { name: string; hash: string; shards: string[] }) => [
            r.name,
            r.hash,
            r.shards,
          ]),
          [["r", "md5", ["s0", "s1", "s2"]]],
        );
        assertEquals(status.routers[0].address, `127.0.0.1:${router}`);
        assertEquals(status.routers[0].sessions.resp2, 1);
      } finally {
        closeClient(c);
      }
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  },
);

Deno.test(
  "router: pipelined MGETs over three shards each get their own merged reply",
  E2E,
  async () => {
    const servers = await Promise.all([0, 1, 2].map(() => startRedis()));
    try {
      await using sg = await startShardgate(shardgateYaml(servers, { hash: "fnv1a_64" }));
      const router = sg.routerPorts.r;
      // Keys that differ in their first bytes: fnv1a_64 puts `p:0`…`p:299` in four narrow
      // clusters of the ring (4 of its 480 arcs), all on one shard for about 1 in 27 port
      // choices (a CI dry run hit it); `${i}:p` touches 227 arcs.
      const list = Array.from({ length: 300 }, (_, i) => `${i}:p`);
      await pipeline(router, [["MSET", ...list.flatMap((k, i) => [k, String(i)])]]);
      // 30 MGETs of 10 keys in one write: every merge must use its own command's plan.
      const mgets = Array.from(
        { length: 30 },
        (_, m) => ["MGET", ...list.slice(m * 10, m * 10 + 10)],
      );
      const replies = await pipeline(router, mgets);
      replies.forEach((r, m) => {
        const values = bulkArray(r).map((v) => v === null ? null : new TextDecoder().decode(v));
        assertEquals(values, Array.from({ length: 10 }, (_, i) => String(m * 10 + i)), `MGET ${m}`);
      });
      const spread = await Promise.all(servers.map(async (s) => Number(await s.cli("DBSIZE"))));
      // The MGETs spanned shards (how evenly depends on the ring: ports are free ones).
      assert(spread.filter((n) => n > 0).length >= 2, `keys on one shard only: ${spread}`);
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  },
);
