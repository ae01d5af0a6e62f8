import assert from "node:assert/strict";
import type { HedgeConfig } from "../config/types.ts";
import { HEDGE_BUDGET_FLOOR, HEDGE_DELAY_REFRESH_MS } from "../config/defaults.ts";
import { HedgePolicy } from "./_hedge.ts";

const CONFIG: HedgeConfig = {
  enabled: true,
  percentile: 99,
  minDelayMs: 5,
  maxDelayMs: 50,
  budgetPercent: 5,
};

Deno.test("HedgePolicy sets the delay to the latency percentile, within its bounds", () => {
  const p = new HedgePolicy(CONFIG);
  assert.equal(p.delayMs, 5);
  for (let i = 0; i < 990; i++) p.record(1);
  for (let i = 0; i < 10; i++) p.record(20);
  p.tick(1_000, CONFIG, 0);
  assert.equal(p.delayMs, 5, "p99 is 1 ms: the minimum applies");
  for (let i = 0; i < 900; i++) p.record(30);
  p.tick(1_000 + HEDGE_DELAY_REFRESH_MS, CONFIG, 0);
  assert.equal(p.delayMs, 31, "the last two periods count");
  for (let i = 0; i < 100; i++) p.record(5_000);
  p.tick(1_000 + 2 * HEDGE_DELAY_REFRESH_MS, CONFIG, 0);
  assert.equal(p.delayMs, 50, "a slow shard does not push it past the maximum");
  assert.equal(p.slowAfterMs, 150);
});

Deno.test("HedgePolicy allows budget% of the reads in its window, and a floor", () => {
  const p = new HedgePolicy(CONFIG);
  p.tick(0, CONFIG, 0);
  let n = 0;
  while (p.take(CONFIG, 0)) n++;
  assert.equal(n, HEDGE_BUDGET_FLOOR, "no reads: the floor");
  const q = new HedgePolicy(CONFIG);
  q.tick(0, CONFIG, 0);
  n = 0;
  while (q.take(CONFIG, 10_000)) n++;
  assert.equal(n, 500, "5% of 10,000 reads");
  // Once the window has passed, the spent hedges no longer count.
  q.tick(60_000, CONFIG, 10_000);
  assert.equal(q.take(CONFIG, 10_000), true);
});

Deno.test("HedgePolicy takes a hedge past the budget for a stalled node's read, and counts it", () => {
  const p = new HedgePolicy(CONFIG);
  p.tick(0, CONFIG, 0);
  while (p.take(CONFIG, 0));
  assert.equal(p.take(CONFIG, 0), false, "the budget is spent");
  assert.equal(p.take(CONFIG, 0, true), true, "a stalled node's read is hedged anyway");
  // Counted: after the window passes, the budget is whole again, not more.
  p.tick(60_000, CONFIG, 0);
  let n = 0;
  while (p.take(CONFIG, 0)) n++;
  assert.equal(n, HEDGE_BUDGET_FLOOR);
});
