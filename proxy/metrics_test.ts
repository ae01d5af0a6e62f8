import assert from "node:assert/strict";
import { METRICS } from "../telemetry/mod.ts";
import { SHARD_COUNTERS, ShardCounters } from "./metrics.ts";

Deno.test("ShardCounters: every field is a row of the metrics table, and every row listed is a field", () => {
  const fields = Object.keys(new ShardCounters()).sort();
  assert.deepEqual(fields, [...SHARD_COUNTERS].sort());
  for (const id of SHARD_COUNTERS) {
    const def = METRICS[id];
    assert.equal(def.type, "counter", `${id} is exported as a counter`);
    assert.deepEqual(def.labels, ["shard"], `${id} is exported per shard`);
  }
});
