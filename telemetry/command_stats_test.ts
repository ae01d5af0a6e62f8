import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { CommandStats, Outcome, PortRole } from "./command_stats.ts";
import { LATENCY_BUCKETS_SECONDS, METRICS } from "./metrics.ts";
import { RecordingWriter } from "./_test_writer.ts";

// Command label values by index, as resp's COMMAND_NAMES gives them (telemetry imports nothing of ours).
const NAMES = ["other", "get", "set"];
const OTHER_COMMAND = 0;
const commandIndex = (name: string): number => Math.max(0, NAMES.indexOf(name));

Deno.test("CommandStats.record() counts by command, role and outcome, read out per scrape", () => {
  const s = new CommandStats(NAMES);
  const get = commandIndex("get");
  const set = commandIndex("set");
  s.record(get, PortRole.readers, Outcome.ok, 120);
  s.record(get, PortRole.readers, Outcome.ok, 80);
  s.record(get, PortRole.readers, Outcome.failed, 2_000_000);
  s.record(set, PortRole.writer, Outcome.error, 300);
  const w = new RecordingWriter();
  s.collect("users", w);
  assertEquals(w.find("commandCalls", { command: "get", outcome: "ok" })[0].value, 2);
  assertEquals(w.find("commandCalls", { command: "get", outcome: "failed" })[0].value, 1);
  assertEquals(w.find("commandCalls", { command: "get", outcome: "error" }), []);
  assertEquals(w.find("commandCalls", { command: "set", outcome: "error" })[0].value, 1);
  assertEquals(w.find("commands", { role: "readers", outcome: "ok" })[0].value, 2);
  assertEquals(w.find("commands", { role: "readers", outcome: "failed" })[0].value, 1);
  assertEquals(w.find("commands", { role: "writer", outcome: "error" })[0].value, 1);
  assertEquals(w.find("commands", { role: "router" }), [], "no router traffic, no router series");
  assertEquals(s.totals(), { total: 4, errors: 1, failed: 1 });
  for (const x of w.series) assertEquals(Object.keys(x.labels), [...METRICS[x.id].labels]);
});

Deno.test("CommandStats.record() puts latencies in the histogram buckets (le, in seconds)", () => {
  const s = new CommandStats(NAMES);
  const get = commandIndex("get");
  s.record(get, PortRole.readers, Outcome.ok, 50); // exactly the first bound: first bucket
  s.record(get, PortRole.readers, Outcome.ok, 51);
  s.record(get, PortRole.readers, Outcome.ok, 10_000_000); // past the last bound: +Inf
  const w = new RecordingWriter();
  s.collect("users", w);
  const h = w.find("commandDuration", { command: "get" })[0].histogram!;
  assertEquals(h.counts.length, LATENCY_BUCKETS_SECONDS.length + 1);
  assertEquals(h.counts[0], 1);
  assertEquals(h.counts[1], 1);
  assertEquals(h.counts[h.counts.length - 1], 1);
  assertEquals(h.sum, (50 + 51 + 10_000_000) / 1e6);
});

Deno.test("CommandStats keeps bad command indexes, bytes, hedges and node counters apart", () => {
  const s = new CommandStats(NAMES);
  s.record(-1, PortRole.readers, Outcome.ok, 1);
  s.record(1e9, PortRole.readers, Outcome.ok, 1);
  s.record(OTHER_COMMAND, PortRole.router, Outcome.ok, 1);
  s.addBytesIn(PortRole.readers, 100);
  s.addBytesOut(PortRole.readers, 40);
  s.recordHedge(false);
  s.recordHedge(false);
  s.recordHedge(true);
  const n = s.node("10.0.0.1:6379");
  n.ok += 3;
  n.errors++;
  assertEquals(s.node("10.0.0.1:6379"), n, "the same object every time");
  assertEquals(s.peekNode("10.0.0.2:6379"), undefined);
  const w = new RecordingWriter();
  s.collect("users", w);
  assertEquals(w.find("commandCalls", { command: "other" })[0].value, 3);
  assertEquals(w.find("commands", { role: "router", outcome: "ok" })[0].value, 1);
  assertEquals(w.find("bytesReceived", { role: "readers" })[0].value, 100);
  assertEquals(w.find("bytesSent", { role: "readers" })[0].value, 40);
  assertEquals(w.find("hedges")[0].value, 2);
  assertEquals(w.find("hedgeWins")[0].value, 1);
});
