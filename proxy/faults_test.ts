import assert from "node:assert/strict";
import type { FaultConfig } from "../config/types.ts";
import { commandIndex } from "../resp/mod.ts";
import { PortRole } from "../telemetry/mod.ts";
import { FaultKindIndex, FaultRule, faultsForNode, pickFault } from "./faults.ts";

function rule(over: Partial<FaultConfig>): FaultConfig {
  return {
    shard: null,
    role: null,
    node: null,
    commands: null,
    kind: "error",
    percent: 100,
    delayMs: 0,
    delayMaxMs: 0,
    error: "ERR x",
    ...over,
  };
}

const GET = commandIndex("get");
const SET = commandIndex("set");

Deno.test("faultsForNode() keeps the rules of the shard and node, and null when none", () => {
  const faults = [
    rule({ shard: "users", node: "a:1" }),
    rule({ shard: "users" }),
    rule({ shard: "orders" }),
    rule({ node: "b:2" }),
    rule({ percent: 0 }),
  ];
  assert.equal(faultsForNode(faults, "users", "a:1")?.length, 2);
  assert.equal(faultsForNode(faults, "users", "b:2")?.length, 2);
  assert.equal(faultsForNode(faults, "orders", "c:3")?.length, 1);
  assert.equal(faultsForNode(faults, "carts", "c:3"), null);
  assert.equal(faultsForNode([], "users", "a:1"), null);
});

Deno.test("FaultRule.matches() scopes by port role and command", () => {
  const r = new FaultRule(rule({ role: "readers", commands: ["get", "nosuchcommand"] }));
  assert.equal(r.matches(PortRole.readers, GET), true);
  assert.equal(r.matches(PortRole.writer, GET), false);
  assert.equal(r.matches(PortRole.readers, SET), false);
  assert.deepEqual(r.unknownCommands, ["nosuchcommand"]);
  const any = new FaultRule(rule({}));
  assert.equal(any.matches(PortRole.router, SET), true);
  assert.equal(any.kind, FaultKindIndex.error);
  assert.deepEqual(new TextDecoder().decode(any.frame), "-ERR x\r\n");
});

Deno.test("pickFault() hits as often as the percent says, first matching rule first", () => {
  const rules = [
    new FaultRule(
      rule({ kind: "delay", commands: ["set"], percent: 100, delayMs: 5, delayMaxMs: 5 }),
    ),
    new FaultRule(rule({ percent: 10 })),
  ];
  // A deterministic roll: 0, 0.01, …, 0.99.
  let i = 0;
  const roll = () => (i++ % 100) / 100;
  let hits = 0;
  for (let n = 0; n < 1000; n++) if (pickFault(rules, PortRole.readers, GET, roll) !== null) hits++;
  assert.equal(hits, 100);
  assert.equal(pickFault(rules, PortRole.readers, SET, () => 0.99)?.kind, FaultKindIndex.delay);
  assert.equal(pickFault(rules, PortRole.readers, GET, () => 0.5), null);
});

Deno.test("FaultRule.delay() is fixed, or uniform over the range", () => {
  assert.equal(new FaultRule(rule({ kind: "delay", delayMs: 50, delayMaxMs: 50 })).delay(), 50);
  const r = new FaultRule(rule({ kind: "delay", delayMs: 10, delayMaxMs: 50 }));
  assert.equal(r.delay(() => 0), 10);
  assert.equal(r.delay(() => 0.5), 30);
  assert.equal(r.delay(() => 0.999999), 49.99996);
});
