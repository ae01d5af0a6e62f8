/**
 * End-to-end: `/metrics` scraped and parsed with a Prometheus text-format
 * parser (npm `parse-prometheus-text-format`) while real traffic flows:
 * client and node connection gauges, retries, a killed replica shown down,
 * and — once the session core records commands — per-command counters and
 * latency histograms that move with the traffic.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  closeClient,
  family,
  histogramSeries,
  parsePrometheus,
  type PromFamily,
  redisClient,
  sampleValue,
  startReplicaSet,
  startShardgate,
  type TestClient,
  waitFor,
} from "./helpers/mod.ts";
import { adminGet, adminPort, adminYaml, E2E, SHARD } from "./_admin_helpers.ts";

async function scrape(port: number): Promise<PromFamily[]> {
  const r = await adminGet(port, "/metrics");
  assertEquals(r.status, 200);
  assertEquals(r.type, "text/plain; version=0.0.4; charset=utf-8");
  return parsePrometheus(r.body);
}

Deno.test(
  "metrics e2e: gauges and counters follow clients, hedges and a killed replica",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 2 });
    await using sg = await startShardgate(adminYaml(set.addresses, {
      shard: ["timeouts: { server: 300ms }", "passive: { errors: 1000 }"],
    }));
    const port = adminPort(sg);
    const [r1, r2] = set.replicas;
    const shard = SHARD;

    let m = await scrape(port);
    for (const n of set.nodes) {
      assertEquals(sampleValue(m, "shardgate_node_state", { node: n.address, state: "up" }), 1);
      assertEquals(sampleValue(m, "shardgate_node_state", { node: n.address, state: "down" }), 0);
    }
    assertEquals(
      sampleValue(m, "shardgate_node_role", { node: set.primary.address, role: "primary" }),
      1,
    );
    assertEquals(sampleValue(m, "shardgate_node_role", { node: r1.address, role: "replica" }), 1);
    assertEquals(sampleValue(m, "shardgate_node_serves_reads", { node: r1.address }), 1);
    assert(sampleValue(m, "shardgate_node_replication_lag_seconds", { node: r1.address })! >= 0);
    assertEquals(sampleValue(m, "shardgate_ready"), 1);
    assertEquals(sampleValue(m, "shardgate_client_connections", { shard, protocol: "resp2" }), 0);
    const accepted0 = sampleValue(m, "shardgate_client_connections_accepted_total", { shard })!;
    assertEquals(family(m, "shardgate_command_duration_seconds").type, "HISTOGRAM");

    const clients: TestClient[] = [];
    try {
      for (let i = 0; i < 4; i++) clients.push(await redisClient(sg.ports[shard].readers));
      for (const c of clients) assertEquals(await c.get("nothing"), null);
      m = await scrape(port);
      assertEquals(sampleValue(m, "shardgate_client_connections", { shard, protocol: "resp2" }), 4);
      assertEquals(
        sampleValue(m, "shardgate_client_connections_accepted_total", { shard }),
        accepted0 + 4,
      );
      const backend = (n: string) =>
        sampleValue(m, "shardgate_backend_connections", { node: n, protocol: "resp2" })! +
        sampleValue(m, "shardgate_backend_connections", { node: n, protocol: "resp3" })!;
      assert(backend(r1.address) + backend(r2.address) >= 1, "reads opened node connections");

      // A stalled replica: reads to it are hedged to the other one (and won there).
      const hedges0 = sampleValue(m, "shardgate_hedges_total", { shard }) ?? 0;
      const wins0 = sampleValue(m, "shardgate_hedge_wins_total", { shard }) ?? 0;
      await r1.kill("SIGSTOP");
      try {
        for (let i = 0; i < 6; i++) assertEquals(await clients[i % 4].get("nothing"), null);
      } finally {
        await r1.kill("SIGCONT");
      }
      m = await scrape(port);
      assert(sampleValue(m, "shardgate_hedges_total", { shard })! > hedges0, "hedges moved");
      assert(sampleValue(m, "shardgate_hedge_wins_total", { shard })! > wins0, "hedge wins moved");
    } finally {
      for (const c of clients) closeClient(c);
    }

    await r2.kill("SIGKILL");
    await waitFor(async () => {
      m = await scrape(port);
      return sampleValue(m, "shardgate_node_state", { node: r2.address, state: "down" }) === 1;
    }, { timeoutMs: 5000, message: "the killed replica shown down in /metrics" });
    assertEquals(sampleValue(m, "shardgate_node_state", { node: r2.address, state: "up" }), 0);
    assertEquals(sampleValue(m, "shardgate_node_serves_reads", { node: r2.address }), 0);
    assertEquals(sampleValue(m, "shardgate_client_connections", { shard, protocol: "resp2" }), 0);
  },
);

Deno.test({
  name: "metrics e2e: per-command counters and the latency histogram move with the traffic",
  ...E2E,
  fn: async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    await using sg = await startShardgate(adminYaml(set.addresses));
    const port = adminPort(sg);
    const shard = SHARD;
    const before = await scrape(port);
    const gets0 = histogramSeries(before, "shardgate_command_duration_seconds", { command: "get" });
    const n = 50;
    const reader = await redisClient(sg.ports[shard].readers);
    const writer = await redisClient(sg.ports[shard].writer!);
    try {
      for (let i = 0; i < n; i++) await reader.get(`k${i}`);
      await writer.set("k", "v");
    } finally {
      closeClient(reader);
      closeClient(writer);
    }
    const m = await scrape(port);
    const ok = (role: string) =>
      sampleValue(m, "shardgate_commands_total", { shard, role, outcome: "ok" }) ?? 0;
    assert(ok("readers") >= n, `readers ok ${ok("readers")}`);
    assert(ok("writer") >= 1, `writer ok ${ok("writer")}`);
    const calls = sampleValue(m, "shardgate_command_calls_total", {
      command: "get",
      outcome: "ok",
    });
    assertEquals(calls, n + Number(gets0?.count ?? 0));
    const h = histogramSeries(m, "shardgate_command_duration_seconds", { shard, command: "get" })!;
    assertEquals(Number(h.count), n + Number(gets0?.count ?? 0));
    assert(Number(h.sum) > 0);
    assertEquals(Number(h.buckets["+Inf"]), Number(h.count));
    // In bucket order: object keys such as "1" and "5" would otherwise come first.
    const cumulative = Object.entries(h.buckets)
      .sort(([a], [b]) =>
        (a === "+Inf" ? Infinity : Number(a)) - (b === "+Inf" ? Infinity : Number(b))
      )
      .map(([, v]) => Number(v));
    assert(cumulative.every((v, i) => i === 0 || v >= cumulative[i - 1]), "cumulative buckets");
    assert(
      sampleValue(m, "shardgate_client_bytes_received_total", { shard, role: "readers" })! > 0,
    );
    assert(sampleValue(m, "shardgate_client_bytes_sent_total", { shard, role: "readers" })! > 0);
    const node = set.replicas[0].address;
    assert(sampleValue(m, "shardgate_node_commands_total", { node, outcome: "ok" })! >= n);
  },
});
