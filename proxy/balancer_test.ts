import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { LeastPending, SmoothRoundRobin } from "./balancer.ts";
import { balancerCases, type CaseNode } from "./_test_balancer_cases.ts";

balancerCases("SmoothRoundRobin", () => new SmoothRoundRobin<CaseNode>());
balancerCases("LeastPending", () => new LeastPending<CaseNode>());

Deno.test("SmoothRoundRobin.pick() interleaves 3:1 instead of bursting", () => {
  const b = new SmoothRoundRobin<CaseNode>();
  const a = { name: "a", weight: 3, pending: 0 };
  const c = { name: "b", weight: 1, pending: 0 };
  b.reset([a, c]);
  const order = Array.from({ length: 8 }, () => b.pick()!.name).join("");
  assertEquals(order, "aaba" + "aaba");
});

Deno.test("LeastPending.pick() prefers the node with fewer commands in flight", () => {
  const b = new LeastPending<CaseNode>();
  const busy = { name: "busy", weight: 1, pending: 10 };
  const idle = { name: "idle", weight: 1, pending: 1 };
  b.reset([busy, idle]);
  for (let i = 0; i < 5; i++) assert(b.pick()!.name === "idle");
  idle.pending = 20;
  assertEquals(b.pick()!.name, "busy");
});
