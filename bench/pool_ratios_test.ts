import assert from "node:assert/strict";
import type { RunRecord } from "./_report.ts";
import { pairedRatios, quantile } from "./pool_ratios.ts";

function run(cell: string, rps: number | null, baselineRps: number | null): RunRecord {
  return {
    round: 0,
    cell: cell as RunRecord["cell"],
    target: "shardgate",
    position: 0,
    requests: 1,
    elapsedMs: 1,
    sample: rps === null
      ? null
      : { rps, avgMs: 1, minMs: 1, p50Ms: 1, p95Ms: 1, p99Ms: 1, maxMs: 1 },
    error: rps === null ? "failed" : null,
    baselineRps,
  };
}

Deno.test("pairedRatios() pools each variant run ÷ its brackets over files; skips unpaired runs", () => {
  const pooled = pairedRatios([
    [run("get_50c_traced", 90, 100), run("get_50c", 100, null), run("get_50c_traced", null, 100)],
    [run("get_50c_traced", 110, 100), run("get_50c_faults", 97, 100)],
  ]);
  assert.deepEqual([...pooled.keys()], ["get_50c_traced", "get_50c_faults"]);
  assert.deepEqual(pooled.get("get_50c_traced"), [0.9, 1.1]);
  assert.deepEqual(pooled.get("get_50c_faults"), [0.97]);
});

Deno.test("quantile() takes the nearest rank", () => {
  assert.equal(quantile([4, 1, 3, 2], 0.25), 1);
  assert.equal(quantile([4, 1, 3, 2], 0.75), 3);
  assert.equal(quantile([4, 1, 3, 2], 1), 4);
});
