/**
 * End-to-end: fault injection (config `faults:`) with real redis-servers.
 * A 10% error rule on GET through the readers port answers 10% ± 2% of
 * 10,000 GETs with its text, shows in /metrics and the logs, and a reload
 * without it restores zero errors; a 50 ms delay on 20% of GETs shows from
 * the 80th percentile of latency up; a blackholed replica is hedged around
 * without a failed read.
 */

import {
  deepStrictEqual as assertEquals,
  ok as assert,
  rejects as assertRejects,
} from "node:assert/strict";
import {
  parsePrometheus,
  type PromFamily,
  redisClient,
  sampleValue,
  type ShardgateProcess,
  startReplicaSet,
  startShardgate,
  type TestClient,
  waitFor,
  withClients,
} from "./helpers/mod.ts";
import { adminGet, adminPort, adminYaml, E2E, SHARD } from "./_admin_helpers.ts";
import { reloaded } from "./_reload_helpers.ts";

const KEY = "fault:key";
const VALUE = "v";
const ERROR_TEXT = "ERR rehearsal: injected by shardgate";

async function scrape(port: number): Promise<PromFamily[]> {
  const r = await adminGet(port, "/metrics");
  assertEquals(r.status, 200);
  return parsePrometheus(r.body);
}

/** Sets KEY through the writer and waits until every replica has it. */
async function seed(sg: ShardgateProcess, replicaPorts: number[]): Promise<void> {
  const w = await redisClient(sg.ports[SHARD].writer!);
  try {
    await w.set(KEY, VALUE);
  } finally {
    w.destroy();
  }
  for (const p of replicaPorts) {
    const c = await redisClient(p);
    try {
      await waitFor(async () => (await c.get(KEY)) === VALUE, { timeoutMs: 10_000 });
    } finally {
      c.destroy();
    }
  }
}

/** Runs `total` GETs of KEY over `clients`; counts replies and errors by message, times each. */
async function gets(
  clients: TestClient[],
  total: number,
): Promise<{ ok: number; errors: Map<string, number>; latencies: number[] }> {
  let next = 0, ok = 0;
  const errors = new Map<string, number>();
  const latencies: number[] = [];
  await Promise.all(clients.map(async (c) => {
    while (next < total) {
      next++;
      const t0 = performance.now();
      try {
        const v = await c.get(KEY);
        if (v !== VALUE) throw new Error(`wrong value ${v}`);
        ok++;
      } catch (e) {
        const m = e instanceof Error ? e.message : String(e);
        errors.set(m, (errors.get(m) ?? 0) + 1);
      }
      latencies.push(performance.now() - t0);
    }
  }));
  return { ok, errors, latencies };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p / 100))];
}

Deno.test(
  "faults e2e: 10% errors on GET through the readers port, seen in /metrics and logs; a reload removes them",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    const base = adminYaml(set.addresses);
    const rule = `faults:\n  - { shard: ${SHARD}, role: readers, commands: [get], kind: error, ` +
      `percent: 10, error: "${ERROR_TEXT}" }\n`;
    await using sg = await startShardgate(base + rule);
    const port = adminPort(sg);
    await seed(sg, [Number(set.replicas[0].address.split(":")[1])]);
    let m = await scrape(port);
    assertEquals(sampleValue(m, "shardgate_fault_rules", { shard: SHARD }), 1);

    const readers = sg.ports[SHARD].readers;
    const first = await withClients(10, readers, (cs) => gets(cs, 10_000));
    const injected = first.errors.get(ERROR_TEXT) ?? 0;
    assertEquals([...first.errors.keys()].filter((k) => k !== ERROR_TEXT), [], "no other error");
    assert(injected >= 800 && injected <= 1200, `${injected} of 10,000 GETs failed, not 10% ± 2%`);
    assertEquals(first.ok + injected, 10_000);

    // The writer port is out of the rule's scope.
    const w = await redisClient(sg.ports[SHARD].writer!);
    try {
      for (let i = 0; i < 200; i++) assertEquals(await w.get(KEY), VALUE);
    } finally {
      w.destroy();
    }

    m = await scrape(port);
    let counted = 0;
    for (const n of set.nodes) {
      counted += sampleValue(m, "shardgate_faults_injected_total", {
        node: n.address,
        kind: "error",
      }) ?? 0;
      assertEquals(
        sampleValue(m, "shardgate_faults_injected_total", { node: n.address, kind: "delay" }),
        0,
      );
    }
    assertEquals(counted, injected, "every injected error is counted in /metrics");
    assert(
      sg.records().some((r) =>
        String(r.msg).startsWith("fault injected") && r.kind === "error" && r.percent === 10
      ),
      "the injection is logged",
    );
    assert(
      sg.records().some((r) => String(r.msg).startsWith("fault injection rule active")),
      "the active rule is logged at start",
    );

    // Removing the rule by reload: no error any more.
    const from = sg.logs().length;
    await sg.writeConfig(base);
    const rec = await reloaded(sg, from);
    assertEquals(rec.changes, "faults 1→0 rules");
    const after = await withClients(10, readers, (cs) => gets(cs, 2_000));
    assertEquals([...after.errors.entries()], []);
    assertEquals(after.ok, 2_000);
    m = await scrape(port);
    assertEquals(sampleValue(m, "shardgate_fault_rules", { shard: SHARD }), 0);
  },
);

Deno.test(
  "faults e2e: a 50 ms delay on 20% of GETs shows at the 80th–90th percentiles of latency",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    await using sg = await startShardgate(
      adminYaml(set.addresses) +
        `faults:\n  - { commands: [get], kind: delay, delay: 50ms, percent: 20 }\n`,
    );
    await seed(sg, [Number(set.replicas[0].address.split(":")[1])]);
    const r = await withClients(10, sg.ports[SHARD].readers, (cs) => gets(cs, 3_000));
    assertEquals([...r.errors.entries()], []);
    const sorted = r.latencies.sort((a, b) => a - b);
    const [p70, p85, p90] = [70, 85, 90].map((p) => percentile(sorted, p));
    assert(p70 < 40, `p70 ${p70.toFixed(1)} ms: most GETs are not delayed`);
    assert(p85 >= 50, `p85 ${p85.toFixed(1)} ms: the delayed 20% are the slowest`);
    assert(p90 >= 50, `p90 ${p90.toFixed(1)} ms`);
    const m = await scrape(adminPort(sg));
    let delayed = 0;
    for (const n of set.nodes) {
      delayed += sampleValue(m, "shardgate_faults_injected_total", {
        node: n.address,
        kind: "delay",
      }) ?? 0;
    }
    assert(delayed >= 480 && delayed <= 720, `${delayed} of 3,000 GETs delayed, not about 20%`);
  },
);

Deno.test(
  "faults e2e: a blackholed replica is hedged around: no failed read",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 2 });
    const victim = set.replicas[0];
    await using sg = await startShardgate(
      adminYaml(set.addresses, { shard: ["timeouts: { server: 1s }"] }) +
        `faults:\n  - { node: "${victim.address}", kind: blackhole }\n`,
    );
    await seed(sg, set.replicas.map((r) => Number(r.address.split(":")[1])));
    const r = await withClients(10, sg.ports[SHARD].readers, (cs) => gets(cs, 3_000));
    assertEquals([...r.errors.entries()], [], "no read failed");
    assertEquals(r.ok, 3_000);
    const m = await scrape(adminPort(sg));
    const held = sampleValue(m, "shardgate_faults_injected_total", {
      node: victim.address,
      kind: "blackhole",
    }) ?? 0;
    assert(held > 0, "reads went to the blackholed replica");
    assert(
      (sampleValue(m, "shardgate_hedges_total", { shard: SHARD }) ?? 0) > 0,
      "and were hedged",
    );
  },
);

Deno.test(
  "faults e2e: a drop closes the node connection: its reads are retried on another node, a write says it was lost",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 2 });
    await using sg = await startShardgate(
      adminYaml(set.addresses, { shard: ["passive: { errors: 100000 }"] }) +
        `faults:\n  - { node: "${set.replicas[0].address}", role: readers, commands: [get], ` +
        `kind: drop, percent: 5 }\n` +
        `  - { role: writer, commands: [set], kind: drop }\n`,
    );
    const w = await redisClient(sg.ports[SHARD].writer!);
    try {
      await assertRejects(() => w.set(KEY, VALUE), /connection lost on .* before the reply/);
    } finally {
      w.destroy();
    }
    const r = await withClients(10, sg.ports[SHARD].readers, async (cs) => {
      let ok = 0;
      const errors: string[] = [];
      await Promise.all(cs.map(async (c) => {
        for (let i = 0; i < 200; i++) {
          try {
            await c.get(KEY);
            ok++;
          } catch (e) {
            errors.push(e instanceof Error ? e.message : String(e));
          }
        }
      }));
      return { ok, errors };
    });
    assertEquals(r.errors, [], "every dropped read was retried on another node");
    assertEquals(r.ok, 2_000);
    const m = await scrape(adminPort(sg));
    let dropped = 0;
    for (const n of set.nodes) {
      dropped += sampleValue(m, "shardgate_faults_injected_total", {
        node: n.address,
        kind: "drop",
      }) ?? 0;
    }
    // Each drop makes the replica back off for a moment (as a real broken connection does).
    assert(dropped >= 1, `${dropped} commands dropped`);
    const retries = sampleValue(m, "shardgate_retries_total", { shard: SHARD }) ?? 0;
    // (A dropped read may be answered by its hedge instead of a retry: no
    // read failed is what counts, above; drops did make reads move.)
    assert(retries >= 1, `${retries} reads retried for ${dropped} dropped`);
  },
);
