/**
 * End-to-end: zone affinity of reads with real redis-server processes and
 * node-redis clients in their default configuration.
 *
 * - A primary and 3 replicas in 2 zones (one replica in zone A, two in B),
 *   the sidecar in zone A (`zone: ${SHARDGATE_ZONE}` from the environment):
 *   at least 95% of reads go to the zone-A replica while it serves; it is
 *   SIGKILLed under load: no read fails and reads move to zone B; it is
 *   restarted: reads come back to zone A. Counted on the servers
 *   (`INFO commandstats`) and in shardgate's `/metrics`.
 * - A reload that changes the sidecar's zone moves the reads, with no client
 *   connection closed.
 * - A node that reports `availability_zone` (a fake Valkey 8.1 replica) is
 *   placed by it: in the sidecar's zone, it gets the reads.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  closeClient,
  parsePrometheus,
  redisClient,
  type RedisProcess,
  runShardgateCli,
  sampleValue,
  startReplicaSet,
  startShardgate,
  waitFor,
} from "./helpers/mod.ts";
import { E2E, getCount, populate, readLoad } from "./_health_helpers.ts";
import { adminGet, adminPort } from "./_admin_helpers.ts";
import { bulk, FakeReplica } from "./faults/_fake_replica.ts";

const KEYS = 1000;
/** Reads per measured window. */
const WINDOW = 2000;
/** The share of reads the local zone must get while a local replica serves. */
const LOCAL_SHARE = 0.95;

/**
 * Hedging off, so the counts measure placement alone: hedges may cross zones, and on a loaded
 * machine hedges and reads sent elsewhere while the local replica is avoided as slow add a few
 * percent of cross-zone reads (the last test covers hedging across zones).
 */
const NO_HEDGE = ["hedge: false"];

/**
 * A one-shard config with an admin port, fast checks, the given top-level zone line, nodes
 * and extra shard lines.
 */
function zoneYaml(zoneLine: string, nodes: string[], shardLines: string[] = NO_HEDGE): string {
  return [
    "admin:",
    "  listen: 127.0.0.1:0",
    zoneLine,
    "shards:",
    "  main:",
    "    readers: 127.0.0.1:0",
    "    writer: 127.0.0.1:0",
    "    check: { interval: 100ms, timeout: 500ms, rise: 2, fall: 2 }",
    ...shardLines.map((l) => `    ${l}`),
    "    nodes:",
    ...nodes.map((n) => `      - ${n}`),
    "",
  ].join("\n");
}

/** GETs executed by each node so far. */
async function gets(nodes: readonly RedisProcess[]): Promise<number[]> {
  return await Promise.all(nodes.map(async (n) => {
    try {
      return (await getCount(n)).calls;
    } catch {
      return 0; // not running now
    }
  }));
}

/**
 * Waits until `WINDOW` more GETs ran on `local` and `remote` together and
 * returns the share `local` got in that window.
 */
async function localShare(
  local: readonly RedisProcess[],
  remote: readonly RedisProcess[],
): Promise<{ share: number; local: number; remote: number }> {
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const l0 = sum(await gets(local));
  const r0 = sum(await gets(remote));
  let l = 0, r = 0;
  await waitFor(async () => {
    l = sum(await gets(local)) - l0;
    r = sum(await gets(remote)) - r0;
    return l + r >= WINDOW;
  }, { timeoutMs: 30_000, intervalMs: 50, message: `${WINDOW} reads` });
  return { share: l / (l + r), local: l, remote: r };
}

/** shardgate's reads by locality (`shardgate_zone_reads_total`). */
async function zoneReads(port: number): Promise<{ same: number; cross: number }> {
  const r = await adminGet(port, "/metrics");
  const f = parsePrometheus(r.body);
  const v = (locality: string) =>
    sampleValue(f, "shardgate_zone_reads_total", { shard: "main", locality }) ?? 0;
  return { same: v("same"), cross: v("cross") };
}

Deno.test(
  "zones e2e: reads stay in the sidecar's zone, move to the other zone when its replica is killed, and come back",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 3 });
    await populate(set, KEYS);
    const [a1, b1, b2] = set.replicas;
    await using sg = await startShardgate(
      zoneYaml("zone: ${SHARDGATE_ZONE}", [
        `{ address: "${set.primary.address}", zone: az-a }`,
        `{ address: "${a1.address}", zone: az-a }`,
        `{ address: "${b1.address}", zone: az-b }`,
        `{ address: "${b2.address}", zone: "\${ZONE_B}" }`,
      ]),
      { env: { SHARDGATE_ZONE: "az-a", ZONE_B: "az-b" } },
    );
    const admin = adminPort(sg);
    await using load = await readLoad(sg.ports.main.readers, KEYS);
    await load.waitForOk(500);

    // 1. While the zone-A replica serves, it gets the reads.
    const m0 = await zoneReads(admin);
    const before = await localShare([a1], [b1, b2]);
    const m1 = await zoneReads(admin);
    console.log(
      `zones: zone-A replica served ${(before.share * 100).toFixed(1)}% of ${WINDOW} reads ` +
        `(${before.local} A, ${before.remote} B); shardgate same +${m1.same - m0.same}, cross +${
          m1.cross - m0.cross
        }`,
    );
    assert(before.share >= LOCAL_SHARE, `zone A got ${before.share} of the reads`);
    assert(m1.same - m0.same >= WINDOW * LOCAL_SHARE, JSON.stringify([m0, m1]));

    // 2. SIGKILL it under load: reads move to zone B, none fails.
    await a1.kill("SIGKILL");
    const during = await localShare([a1], [b1, b2]);
    console.log(
      `zones: zone-A replica killed; zone B served ${during.remote} reads, zone A ${during.local}`,
    );
    assertEquals(during.local, 0);
    const m2 = await zoneReads(admin);
    assert(m2.cross - m1.cross >= WINDOW, JSON.stringify([m1, m2]));

    // 3. Restarted, it serves again and the reads come back to zone A.
    await a1.restart();
    const backAt = Date.now();
    let back = { share: 0, local: 0, remote: 0 };
    await waitFor(async () => {
      back = await localShare([a1], [b1, b2]);
      return back.share >= LOCAL_SHARE;
    }, { timeoutMs: 60_000, message: "reads back in zone A" });
    console.log(
      `zones: restarted zone-A replica back to ${(back.share * 100).toFixed(1)}% of the reads ` +
        `within ${Date.now() - backAt} ms`,
    );
    const stats = await load.stop();
    console.log(`zones: reads ok=${stats.ok} failed=${stats.failed}`);
    assertEquals(stats.errors, []);
    assertEquals(stats.failed, 0);
  },
);

Deno.test(
  "zones e2e: a reload that changes the sidecar's zone moves the reads, closing no client",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 2 });
    await populate(set, KEYS);
    const [a1, b1] = set.replicas;
    const nodes = [
      `"${set.primary.address}"`,
      `{ address: "${a1.address}", zone: az-a }`,
      `{ address: "${b1.address}", zone: az-b }`,
    ];
    await using sg = await startShardgate(zoneYaml("zone: az-a", nodes));
    await using load = await readLoad(sg.ports.main.readers, KEYS);
    await load.waitForOk(500);
    const inA = await localShare([a1], [b1]);
    assert(inA.share >= LOCAL_SHARE, `zone A got ${inA.share} of the reads`);

    const from = sg.logs().length;
    await sg.writeConfig(zoneYaml("zone: az-b", nodes));
    const reloaded = await sg.waitForLog((l) => l.msg === "config reloaded", 10_000, { from });
    assertEquals(reloaded.changes, "shard main: zone az-a→az-b");
    const inB = await localShare([b1], [a1]);
    console.log(
      `zones: after the reload to az-b, zone B served ${(inB.share * 100).toFixed(1)}% of reads`,
    );
    // The first reads of the window may have been sent just before the reload applied.
    assert(inB.share >= LOCAL_SHARE, `zone B got ${inB.share} of the reads`);
    const stats = await load.stop();
    assertEquals(stats.errors, []);
    assertEquals(stats.failed, 0);
    assertEquals(stats.reconnects, 0);
  },
);

Deno.test(
  "zones e2e: a node that reports availability_zone is placed by it",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    const primary = set.primary;
    const replica = set.replicas[0];
    const fake = new FakeReplica({
      primaryPort: primary.port,
      availabilityZone: "use1-az2",
      policy: (cmd) => ({
        kind: "reply",
        bytes: bulk(cmd[0]?.toUpperCase() === "GET" ? "from-fake" : "?"),
      }),
    });
    try {
      await using sg = await startShardgate(
        zoneYaml("zone: use1-az2", [
          `"${primary.address}"`,
          `"${replica.address}"`,
          `"${fake.address}"`,
        ]),
      );
      const admin = adminPort(sg);
      // Every read goes to the fake (reported zone = the sidecar's), none to
      // the real replica (no zone: unknown).
      const real0 = (await getCount(replica)).calls;
      const fake0 = fake.commands;
      const c = await redisClient(sg.ports.main.readers);
      let fromFake = 0;
      try {
        for (let i = 0; i < 200; i++) if (await c.get(`k${i}`) === "from-fake") fromFake++;
      } finally {
        closeClient(c);
      }
      // A read the fake is slow to answer on a loaded machine may be hedged (or, while the fake
      // is avoided as slow, sent) to the real replica: hedges cross zones. The rest are the fake's.
      const real = (await getCount(replica)).calls - real0;
      console.log(
        `zones: ${fromFake} of 200 reads answered by the fake, ${real} GETs on the replica`,
      );
      assert(fromFake >= 200 * LOCAL_SHARE, `${fromFake} of 200 reads from the fake`);
      assert(real <= 200 * (1 - LOCAL_SHARE), `${real} GETs on the replica without a zone`);
      assert(fake.commands - fake0 >= 200 * LOCAL_SHARE, `fake got ${fake.commands - fake0}`);
      const status = JSON.parse((await adminGet(admin, "/status")).body) as {
        shards: {
          zone: string | null;
          zoneReads: { same: number };
          nodes: { id: string; zone: string | null; zoneSource: string | null; locality: string }[];
        }[];
      };
      const shard = status.shards[0];
      assertEquals(shard.zone, "use1-az2");
      assertEquals(
        shard.nodes.map((n) => [n.id, n.zone, n.zoneSource, n.locality]),
        [
          [primary.address, null, null, "unknown"],
          [replica.address, null, null, "unknown"],
          [fake.address, "use1-az2", "learned", "same"],
        ],
      );
      assert(shard.zoneReads.same >= 200, JSON.stringify(shard.zoneReads));
    } finally {
      await fake.close();
    }
  },
);

Deno.test(
  "zones e2e: shardgate check takes zone: from the environment, with positioned errors",
  E2E,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "shardgate-zone-" });
    try {
      const file = `${dir}/shardgate.yaml`;
      await Deno.writeTextFile(
        file,
        "zone: ${SG_TEST_ZONE_17}\nshards:\n  s:\n    readers: 127.0.0.1:7001\n" +
          "    nodes: [{ address: 10.0.0.1:6379, zone: use1-az1 }]\n",
      );
      const check = (env: Record<string, string>) =>
        runShardgateCli(["check", "--config", file], { env });
      const ok = await check({ SG_TEST_ZONE_17: "use1-az1" });
      assertEquals([ok.code, ok.stdout.trim()], [0, `${file}: ok (1 shard)`]);
      const unset = await check({});
      assertEquals(unset.code, 2);
      assert(
        unset.stderr.includes(`${file}:1:7: zone: environment variable SG_TEST_ZONE_17 is not set`),
        unset.stderr,
      );
      const bad = await check({ SG_TEST_ZONE_17: "a b" });
      assertEquals(bad.code, 2);
      assert(bad.stderr.includes(`${file}:1:7: zone: expected a zone name`), bad.stderr);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "zones e2e: with hedging on, a SIGSTOPped zone-A replica's reads are hedged to zone B; none fails",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 2 });
    await populate(set, KEYS);
    const [a1, b1] = set.replicas;
    await using sg = await startShardgate(zoneYaml("zone: az-a", [
      `"${set.primary.address}"`,
      `{ address: "${a1.address}", zone: az-a }`,
      `{ address: "${b1.address}", zone: az-b }`,
    ], []));
    const admin = adminPort(sg);
    const hedges = async () =>
      sampleValue(
        parsePrometheus((await adminGet(admin, "/metrics")).body),
        "shardgate_hedges_total",
        { shard: "main" },
      ) ?? 0;
    await using load = await readLoad(sg.ports.main.readers, KEYS);
    await load.waitForOk(500);
    const h0 = await hedges();
    const [b0] = await gets([b1]);
    a1.pause();
    try {
      // Zone B takes the reads: hedged first, then first tries while A is avoided or ejected.
      await waitFor(async () => (await gets([b1]))[0] - b0 >= WINDOW, {
        timeoutMs: 30_000,
        message: "reads on zone B while zone A is stopped",
      });
    } finally {
      a1.resume();
    }
    const h1 = await hedges();
    const stats = await load.stop();
    console.log(
      `zones: zone-A replica SIGSTOPped: ${h1 - h0} hedges, reads ok=${stats.ok} ` +
        `failed=${stats.failed}, slowest ${Math.round(stats.maxLatencyMs)} ms`,
    );
    assert(h1 - h0 > 0, "no read was hedged");
    assertEquals(stats.errors, []);
    assertEquals(stats.failed, 0);
    // No read waited for the 2 s server timeout: hedges answered from zone B.
    assert(stats.maxLatencyMs < 2000, `a read took ${stats.maxLatencyMs} ms`);
  },
);
