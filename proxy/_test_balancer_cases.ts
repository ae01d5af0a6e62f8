/**
 * The shared case suite every {@link Balancer} implementation must pass
 * (Hono style): register it once per implementation from a test file.
 *
 * @module
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import type { Balancer, BalancerNode } from "./balancer.ts";

/** A test node with a name, a weight and a settable pending count. */
export interface CaseNode extends BalancerNode {
  readonly name: string;
  weight: number;
  pending: number;
}

function node(name: string, weight: number): CaseNode {
  return { name, weight, pending: 0 };
}

function count<N extends CaseNode>(b: Balancer<N>, picks: number, skip?: (n: N) => boolean) {
  const seen = new Map<string, number>();
  for (let i = 0; i < picks; i++) {
    const n = b.pick(skip);
    if (n === undefined) throw new Error("pick() returned undefined with candidates left");
    seen.set(n.name, (seen.get(n.name) ?? 0) + 1);
  }
  return seen;
}

/** Registers the shared balancer cases under `label` with `Deno.test`. */
export function balancerCases(label: string, make: () => Balancer<CaseNode>): void {
  Deno.test(`${label}.pick() honours weights over many picks`, () => {
    const b = make();
    b.reset([node("a", 3), node("b", 1), node("c", 2)]);
    const seen = count(b, 6000);
    // least-pending with zero pending degenerates to weights too.
    for (const [name, w] of [["a", 3], ["b", 1], ["c", 2]] as const) {
      const share = (seen.get(name) ?? 0) / 6000;
      assert(Math.abs(share - w / 6) < 0.05, `${name}: share ${share} vs ${w / 6}`);
    }
  });

  Deno.test(`${label}.pick() never picks a weight-0 node`, () => {
    const b = make();
    b.reset([node("a", 1), node("drained", 0), node("b", 1)]);
    const seen = count(b, 1000);
    assertEquals(seen.get("drained"), undefined);
    assertEquals((seen.get("a") ?? 0) + (seen.get("b") ?? 0), 1000);
  });

  Deno.test(`${label}.pick() never picks a removed node`, () => {
    const b = make();
    const a = node("a", 1), gone = node("gone", 5), c = node("c", 1);
    b.reset([a, gone, c]);
    count(b, 10);
    b.reset([a, c]);
    const seen = count(b, 1000);
    assertEquals(seen.get("gone"), undefined);
  });

  Deno.test(`${label}.pick() honours skip and returns undefined when all are skipped`, () => {
    const b = make();
    b.reset([node("a", 1), node("b", 1)]);
    const seen = count(b, 100, (n) => n.name === "a");
    assertEquals(seen.get("a"), undefined);
    assertEquals(b.pick(() => true), undefined);
  });

  Deno.test(`${label}.pick() returns undefined with no candidates`, () => {
    const b = make();
    assertEquals(b.pick(), undefined);
    b.reset([node("z", 0)]);
    assertEquals(b.pick(), undefined);
  });

  Deno.test(`${label}.pick() spreads over every node`, () => {
    const b = make();
    b.reset([node("a", 1), node("b", 1), node("c", 1)]);
    const seen = count(b, 3);
    assertEquals(seen.size, 3);
  });
}
