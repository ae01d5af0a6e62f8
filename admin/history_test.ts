import assert from "node:assert/strict";
import { commandIndex } from "../resp/mod.ts";
import { Outcome, PortRole } from "../telemetry/mod.ts";
import { histogramQuantile, History } from "./history.ts";
import { node, shard } from "./_test_source.ts";
import type { ShardSource } from "./source.ts";

const GET = commandIndex("get");

/** A shard source whose node statuses can be changed between samples. */
function fixture(): { s: ShardSource; status: { r: string } } {
  const status = { r: "up" };
  const base = shard();
  const s: ShardSource = {
    ...base,
    get nodes() {
      return [node("p:1", { role: "master" }), node("r:2", { status: status.r as "up" })];
    },
  };
  return { s, status };
}

Deno.test("histogramQuantile() interpolates within the bucket and is NaN when empty", () => {
  // 100 samples in the 0.1–0.25 ms bucket (index 2).
  const counts = new Float64Array(17);
  counts[2] = 100;
  assert.equal(histogramQuantile(counts, 0.5), 0.175);
  assert.equal(histogramQuantile(counts, 1), 0.25);
  assert(Number.isNaN(histogramQuantile(new Float64Array(17), 0.5)));
  counts[16] = 1000; // +Inf
  assert.equal(histogramQuantile(counts, 0.99), 5000);
});

Deno.test("History.sample() turns counters into rates and percentiles per shard and node", () => {
  let now = 10_000;
  const { s, status } = fixture();
  const h = new History(() => [s], { intervalMs: 2_000, windowMs: 10_000, now: () => now });
  h.sample(); // baseline: no point yet
  assert.deepEqual(h.doc().times, []);
  const r = s.commands.node("r:2");
  for (let i = 0; i < 200; i++) {
    s.commands.record(GET, PortRole.readers, Outcome.ok, 180);
    r.ok++;
    r.observe(0.15);
  }
  s.commands.record(GET, PortRole.readers, Outcome.error, 30_000);
  s.commands.recordHedge(false);
  s.commands.recordHedge(true);
  (s.counters as { retries: number }).retries += 4;
  r.errors += 2;
  now += 2_000;
  status.r = "down";
  h.sample();
  const d = h.doc();
  assert.deepEqual(d.times, [12_000]);
  const sh = d.shards[0];
  assert.equal(sh.name, "s");
  assert.deepEqual(sh.ops, [101], "201 commands in 2 s, 3 significant digits");
  assert.deepEqual(sh.errors, [0.5]);
  assert.deepEqual(sh.retries, [2]);
  assert.deepEqual(sh.hedges, [0.5]);
  assert.deepEqual(sh.hedgeWins, [0.5]);
  assert.equal(sh.p50[0], 0.175);
  assert.equal(sh.p99[0], 0.249);
  const rn = sh.nodes.find((n) => n.id === "r:2")!;
  assert.deepEqual(rn.ops, [101]);
  assert.deepEqual(rn.errors, [1]);
  assert.deepEqual(rn.state, [1]);
  const pn = sh.nodes.find((n) => n.id === "p:1")!;
  assert.deepEqual(pn.ops, [0]);
  assert.deepEqual(pn.p50, [null], "no reply, no latency");
  assert.deepEqual(pn.state, [0]);
});

Deno.test("History keeps only its window: a ring of window ÷ interval samples", () => {
  let now = 0;
  const { s } = fixture();
  const h = new History(() => [s], { intervalMs: 1_000, windowMs: 5_000, now: () => now });
  for (let i = 0; i <= 12; i++) {
    now = i * 1_000;
    s.commands.record(GET, PortRole.readers, Outcome.ok, 100 * (i + 1));
    h.sample();
  }
  const d = h.doc();
  assert.deepEqual(d.times, [8_000, 9_000, 10_000, 11_000, 12_000]);
  assert.deepEqual(d.shards[0].ops, [1, 1, 1, 1, 1]);
  assert.equal(d.shards[0].nodes[0].ops.length, 5);
});

Deno.test("History.event() keeps state changes inside the window, oldest first", () => {
  let now = 100_000;
  const { s } = fixture();
  const h = new History(() => [s], { intervalMs: 1_000, windowMs: 10_000, now: () => now });
  h.event({
    at: 95_000,
    shard: "s",
    kind: "node",
    node: "r:2",
    from: "up",
    to: "down",
    reason: "x",
  });
  h.event({
    at: 99_000,
    shard: "s",
    kind: "writer",
    node: null,
    from: "p:1",
    to: "r:2",
    reason: null,
  });
  h.sample();
  assert.equal(h.doc().events.length, 2);
  now = 106_000;
  h.sample();
  assert.deepEqual(h.doc().events.map((e) => e.kind), ["writer"]);
});
