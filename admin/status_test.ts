import { deepStrictEqual as assertEquals, match, ok as assert } from "node:assert/strict";
import { readiness } from "./readiness.ts";
import { buildStatus } from "./status.ts";
import { metricsCollector } from "./collect.ts";
import { node, shard, source } from "./_test_source.ts";
import { RecordingWriter } from "../telemetry/_test_writer.ts";
import { commandIndex } from "../resp/mod.ts";
import { Outcome, PortRole } from "../telemetry/mod.ts";
import { ShardCounters } from "../proxy/mod.ts";

Deno.test("readiness(): ready with a serving replica, or with the primary to fall back to", () => {
  assertEquals(readiness(false, [shard()]), { ready: true, reasons: [] });
  assertEquals(readiness(false, [shard({ routes: { readers: [] } })]).ready, true);
  assertEquals(readiness(true, [shard()]), { ready: false, reasons: ["shutting down"] });
});

Deno.test("readiness(): a readers port with nothing to send reads to, a writer without primary", () => {
  const none = readiness(false, [shard({ routes: { readers: [] }, config: { fallback: "none" } })]);
  assertEquals(none.reasons, [
    "shard s: readers port has no serving node: no replica serves reads and fallback is none",
  ]);
  const lost = readiness(false, [
    shard({
      routes: { readers: [], primary: null, primaryProblem: "no node reports role:master" },
    }),
  ]);
  assertEquals(lost.reasons.length, 2);
  match(lost.reasons[0], /readers port has no serving node: .*no primary \(no node reports/);
  match(lost.reasons[1], /^shard s: writer port has no primary: no node reports role:master$/);
  const noWriter = readiness(false, [
    shard({ routes: { primary: null, primaryProblem: "x" }, config: { writer: null } }),
  ]);
  assertEquals(noWriter.ready, true, "no writer port: no primary needed");
});

Deno.test("readiness(): two nodes claiming role:master (a failover under way) leave reads a node", () => {
  const claimed = readiness(false, [
    shard({
      routes: {
        readers: [],
        primary: null,
        primaryProblem: "2 nodes claim role:master (p:1, r:2)",
        claimants: ["p:1", "r:2"],
      },
    }),
  ]);
  // Reads go to a claimant; writes wait for one primary.
  assertEquals(claimed.reasons, [
    "shard s: writer port has no primary: 2 nodes claim role:master (p:1, r:2)",
  ]);
});

Deno.test("readiness(): claimants held past timeouts.failover leave the readers port without a node", () => {
  const routes = {
    readers: [],
    primary: null,
    primaryProblem: "2 nodes claim role:master (p:1, r:2)",
    claimants: ["p:1", "r:2"],
  };
  // The shard refuses reads once the claimants held longer than timeouts.failover.
  const expired = readiness(false, [{ ...shard({ routes }), hasReadTarget: false }]);
  assertEquals(expired.reasons, [
    "shard s: readers port has no serving node: no replica serves reads and 2 nodes have claimed role:master for longer than timeouts.failover",
    "shard s: writer port has no primary: 2 nodes claim role:master (p:1, r:2)",
  ]);
  // Within it, the shard's word agrees with the routes.
  const within = readiness(false, [{ ...shard({ routes }), hasReadTarget: true }]);
  assertEquals(within.reasons.length, 1, within.reasons.join("; "));
  // A serving replica: ready, whatever the routes alone would say.
  assertEquals(readiness(false, [{ ...shard(), hasReadTarget: true }]).ready, true);
  assertEquals(readiness(false, [{ ...shard(), hasReadTarget: false }]).ready, false);
});

Deno.test("buildStatus(): nodes with stats and weights, sessions, reloads, and no secret", () => {
  const s = shard();
  s.commands.node("r:2").ok = 40;
  s.commands.node("r:2").errors = 2;
  s.commands.record(commandIndex("get"), PortRole.readers, Outcome.ok, 100);
  const src = source([s], {
    reloads: { applied: 2, last: { at: 5_000, ok: true, summary: "retries 2→1", errors: [] } },
  });
  const doc = buildStatus(src, src.shards(), 11_000);
  assertEquals(doc.uptimeSeconds, 10);
  assertEquals(doc.ready, true);
  assertEquals(doc.sessions, { resp2: 3, resp3: 1, pinned: 1 });
  assertEquals(doc.config.lastReload, {
    at: new Date(5_000).toISOString(),
    ok: true,
    summary: "retries 2→1",
    errors: [],
  });
  const [p, r] = doc.shards[0].nodes;
  assertEquals([p.role, p.weight, p.inflight], ["primary", 1, 0]);
  assertEquals(r.weight, 3);
  assertEquals(r.inflight, 2);
  assertEquals(r.connections, { resp2: 2, resp3: 1 });
  assertEquals([r.commands, r.errors], [40, 2]);
  assertEquals(r.lastCheckAt, new Date(2_000).toISOString());
  assertEquals(doc.shards[0].commands, { total: 1, errors: 0, failed: 0, retries: 0 });
  assertEquals(doc.shards[0].listeners[1], { role: "writer", address: "127.0.0.1:7001" });
  const text = JSON.stringify(doc);
  assert(!text.includes("secret"), "no password reaches /status");
});

Deno.test("metricsCollector(): node state and role as one-of-n gauges, lag in seconds, readiness", () => {
  let s = shard({
    nodes: [
      node("p:1", { role: "master", lagMs: null }),
      node("r:2", { status: "down", servesReads: false, lagMs: 1500, ejections: 3 }),
    ],
  });
  const counters = new ShardCounters();
  counters.retries = 7;
  s = { ...s, counters };
  const w = new RecordingWriter();
  metricsCollector(source([s]))(w);
  const value = (id: Parameters<RecordingWriter["find"]>[0], labels: Record<string, string>) =>
    w.find(id, labels).map((x) => x.value);
  assertEquals(value("nodeState", { node: "r:2", state: "down" }), [1]);
  assertEquals(value("nodeState", { node: "r:2", state: "up" }), [0]);
  assertEquals(value("nodeRole", { node: "p:1", role: "primary" }), [1]);
  assertEquals(value("replicationLag", { node: "r:2" }), [1.5]);
  assertEquals(value("replicationLag", { node: "p:1" }), [], "no lag series for a primary");
  assertEquals(value("ejections", { node: "r:2" }), [3]);
  assertEquals(value("retries", { shard: "s" }), [7]);
  assertEquals(value("clientConnections", { protocol: "resp3" }), [1]);
  assertEquals(value("backendConnections", { node: "r:2", protocol: "resp2" }), [2]);
  assertEquals(value("ready", {}), [1]);
  assertEquals(value("buildInfo", {}).length, 1);
});
