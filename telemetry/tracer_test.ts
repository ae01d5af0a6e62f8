import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  type Attributes,
  type SpanOptions,
  SpanStatusCode,
  type TimeInput,
  type Tracer,
} from "@opentelemetry/api";
import { CommandTracer, errorPrefix, operationName, splitNode } from "./tracer.ts";

interface FakeSpan {
  name: string;
  options: SpanOptions;
  attributes: Attributes;
  events: { name: string; attributes?: Attributes; time?: TimeInput }[];
  status?: { code: SpanStatusCode; message?: string };
  exceptions: unknown[];
  end?: TimeInput;
}

/** A Tracer that keeps every span it starts. */
function fakeTracer(): { tracer: Tracer; spans: FakeSpan[] } {
  const spans: FakeSpan[] = [];
  const tracer = {
    startSpan(name: string, options: SpanOptions = {}) {
      const s: FakeSpan = {
        name,
        options,
        attributes: { ...options.attributes },
        events: [],
        exceptions: [],
      };
      spans.push(s);
      const span = {
        setAttribute(k: string, v: unknown) {
          s.attributes[k] = v as string;
          return span;
        },
        addEvent(n: string, attributes?: Attributes, time?: TimeInput) {
          s.events.push({ name: n, attributes, time });
          return span;
        },
        setStatus(st: { code: SpanStatusCode; message?: string }) {
          s.status = st;
          return span;
        },
        recordException(e: unknown) {
          s.exceptions.push(e);
        },
        end(t?: TimeInput) {
          s.end = t;
        },
        isRecording: () => true,
      };
      return span;
    },
  } as unknown as Tracer;
  return { tracer, spans };
}

Deno.test("CommandTracer.sample(): never when tracing is off or at ratio 0, always at 1", () => {
  const { tracer } = fakeTracer();
  const off = new CommandTracer({ sampleRatio: 1, tracer, enabled: false });
  assert(!off.sample());
  const zero = new CommandTracer({ sampleRatio: 0, tracer, enabled: true });
  const one = new CommandTracer({ sampleRatio: 1, tracer, enabled: true });
  for (let i = 0; i < 1000; i++) {
    assert(!zero.sample());
    assert(one.sample());
  }
  const half = new CommandTracer({ sampleRatio: 0.5, tracer, enabled: true });
  let n = 0;
  for (let i = 0; i < 10_000; i++) if (half.sample()) n++;
  assert(n > 4_000 && n < 6_000, `${n} of 10000 sampled at 0.5`);
  half.setSampleRatio(0);
  assert(!half.sample());
  half.setSampleRatio(7);
  assertEquals(half.sampleRatio, 1);
});

Deno.test("CommandTracer.commandSpan() makes a root span after the fact with attributes and attempts", () => {
  const { tracer, spans } = fakeTracer();
  const t = new CommandTracer({ sampleRatio: 1, tracer, enabled: true });
  t.commandSpan({
    command: "get",
    shard: "users",
    role: "readers",
    node: "127.0.0.1:7001",
    db: 0,
    startTime: 1000,
    endTime: 1003.5,
    retries: 1,
    pinned: false,
    outcome: "ok",
    attempts: [
      { kind: "send", node: "127.0.0.1:7000", time: 1000.1, result: "connection lost" },
      { kind: "retry", node: "127.0.0.1:7001", time: 1002, result: "ok" },
    ],
  });
  assertEquals(spans.length, 1);
  const s = spans[0];
  assertEquals(s.name, "GET");
  assertEquals(s.options.root, true);
  assertEquals(s.options.startTime, 1000);
  assertEquals(s.end, 1003.5);
  assertEquals(s.attributes, {
    "db.system.name": "redis",
    "db.operation.name": "GET",
    "db.namespace": "0",
    "server.address": "127.0.0.1",
    "server.port": 7001,
    "shardgate.shard": "users",
    "shardgate.port_role": "readers",
    "shardgate.node": "127.0.0.1:7001",
    "shardgate.retries": 1,
    "shardgate.pinned": false,
    "shardgate.outcome": "ok",
  });
  assertEquals(s.events.map((e) => [e.name, e.attributes?.["shardgate.attempt.result"], e.time]), [
    ["send", "connection lost", 1000.1],
    ["retry", "ok", 1002],
  ]);
  assertEquals(s.status, undefined);
});

Deno.test("CommandTracer.commandSpan() records errors: the node's reply and shardgate's own", () => {
  const { tracer, spans } = fakeTracer();
  const t = new CommandTracer({ sampleRatio: 1, tracer, enabled: true });
  const base = {
    command: "set",
    shard: "users",
    role: "writer" as const,
    db: 3,
    startTime: 1,
    endTime: 2,
    retries: 0,
    pinned: true,
  };
  t.commandSpan({ ...base, node: "[::1]:6379", outcome: "error", error: "WRONGTYPE Operation" });
  t.commandSpan({ ...base, node: null, outcome: "failed", error: "ERR shardgate: no primary" });
  const [e, f] = spans;
  assertEquals(e.attributes["db.response.status_code"], "WRONGTYPE");
  assertEquals(e.attributes["error.type"], "WRONGTYPE");
  assertEquals(e.attributes["server.address"], "::1");
  assertEquals(e.attributes["db.namespace"], "3");
  assertEquals(e.status, { code: SpanStatusCode.ERROR, message: "WRONGTYPE Operation" });
  assertEquals(f.attributes["error.type"], "shardgate");
  assertEquals(f.attributes["server.address"], undefined);
  assertEquals(f.status?.code, SpanStatusCode.ERROR);
  assertEquals(f.exceptions.length, 1);
});

Deno.test("CommandTracer: nothing is created when tracing is off", () => {
  const { tracer, spans } = fakeTracer();
  const t = new CommandTracer({ sampleRatio: 1, tracer, enabled: false });
  t.nodeStateSpan({
    shard: "s",
    node: "a:1",
    from: "up",
    to: "down",
    reason: "r",
    role: "replica",
    time: 1,
  });
  t.writerSwitchSpan({ shard: "s", from: "a:1", to: null, reason: "none", time: 1 });
  t.reloadSpan({ file: "f", startTime: 1, endTime: 2, ok: true, summary: "no change" });
  assertEquals(spans.length, 0);
});

Deno.test("CommandTracer: node state, writer switch and reload spans carry their facts", () => {
  const { tracer, spans } = fakeTracer();
  const t = new CommandTracer({ sampleRatio: 0, tracer, enabled: true });
  t.nodeStateSpan({
    shard: "s",
    node: "10.0.0.1:6379",
    from: "up",
    to: "down",
    reason: "timeout",
    role: "replica",
    time: 5,
  });
  t.writerSwitchSpan({
    shard: "s",
    from: "10.0.0.1:6379",
    to: null,
    reason: "no node reports role:master",
    time: 6,
  });
  t.reloadSpan({
    file: "/etc/sg.yaml",
    startTime: 7,
    endTime: 9,
    ok: false,
    errors: ["f:1:1: x: bad"],
  });
  assertEquals(spans.map((s) => s.name), [
    "shardgate node state",
    "shardgate writer switch",
    "shardgate config reload",
  ]);
  assertEquals(spans[0].attributes["shardgate.node.to"], "down");
  assertEquals(spans[0].attributes["server.port"], 6379);
  assertEquals(spans[1].attributes["shardgate.writer.to"], "none");
  assertEquals(spans[2].attributes["shardgate.reload.result"], "rejected");
  assertEquals(spans[2].status, { code: SpanStatusCode.ERROR, message: "f:1:1: x: bad" });
  assertEquals([spans[2].options.startTime, spans[2].end], [7, 9]);
});

Deno.test("operationName(), splitNode() and errorPrefix() name things as the conventions want", () => {
  assertEquals(operationName("client|setname"), "CLIENT SETNAME");
  assertEquals(operationName(undefined), "UNKNOWN");
  assertEquals(splitNode("[fd00::1]:6380"), { host: "fd00::1", port: 6380 });
  assertEquals(splitNode("cache.example:6379"), { host: "cache.example", port: 6379 });
  assertEquals(errorPrefix("MOVED 3999 127.0.0.1:6381"), "MOVED");
  assertEquals(errorPrefix("oops"), "ERR");
});

Deno.test("CommandTracer.commandSpan() marks a command an injected fault hit, and only that one", () => {
  const { tracer, spans } = fakeTracer();
  const t = new CommandTracer({ sampleRatio: 1, tracer, enabled: true });
  const base = {
    command: "get",
    shard: "users",
    role: "readers" as const,
    node: "10.0.0.1:6379",
    db: 0,
    startTime: 1,
    endTime: 2,
    retries: 0,
    pinned: false,
    outcome: "error" as const,
    error: "ERR rehearsal",
  };
  t.commandSpan({ ...base, fault: true });
  t.commandSpan(base);
  assertEquals(spans[0].attributes["shardgate.fault_injected"], true);
  assertEquals(spans[1].attributes["shardgate.fault_injected"], undefined);
});

Deno.test("CommandTracer.commandSpan() marks a near cache hit, and only that one", () => {
  const { tracer, spans } = fakeTracer();
  const t = new CommandTracer({ sampleRatio: 1, tracer, enabled: true });
  const base = {
    command: "get",
    shard: "users",
    role: "readers" as const,
    node: null,
    db: 0,
    startTime: 1,
    endTime: 2,
    retries: 0,
    pinned: false,
    outcome: "ok" as const,
    error: null,
  };
  t.commandSpan({ ...base, cache: true });
  t.commandSpan(base);
  assertEquals(spans[0].attributes["shardgate.cache"], "hit");
  assertEquals(spans[1].attributes["shardgate.cache"], undefined);
});

Deno.test("CommandTracer with batchMs makes command spans in batches, the same spans", () => {
  const { tracer, spans } = fakeTracer();
  const t = new CommandTracer({
    sampleRatio: 1,
    tracer,
    enabled: true,
    batchMs: 1000,
    batchMax: 3,
  });
  const c = {
    command: "get",
    shard: "users",
    role: "readers" as const,
    node: "10.0.0.1:6379",
    db: 0,
    startTime: 1,
    endTime: 2,
    retries: 0,
    pinned: false,
    outcome: "ok" as const,
    attempts: [{ kind: "send" as const, node: "10.0.0.1:6379", time: 1, result: "ok" }],
  };
  t.commandSpan(c);
  t.commandSpan(c);
  assertEquals(spans.length, 0, "queued, not made in the command's turn");
  t.commandSpan(c); // the third fills the batch
  assertEquals(spans.length, 3);
  t.commandSpan(c);
  t.flush(); // as the timer (or shutdown) does
  assertEquals(spans.length, 4);
  assertEquals(spans[3].options.startTime, 1);
  assertEquals(spans[3].end, 2);
  assertEquals(spans[3].attributes["server.port"], 6379);
  assertEquals(spans[3].events.length, 1);
  t.flush();
  assertEquals(spans.length, 4, "a flush with nothing queued makes nothing");
});
