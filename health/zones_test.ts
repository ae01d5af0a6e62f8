/**
 * Learned zones: a node that reports `availability_zone` (Valkey 8.1+, in
 * `INFO server`) is told to `onZone`, once per change.
 */
import assert from "node:assert/strict";
import { parseNodeInfo } from "./info.ts";
import { ShardHealth } from "./shard_health.ts";
import { captureLogger, localNode, testShard } from "./_test_helpers.ts";
import { FakeReplica } from "../tests/faults/_fake_replica.ts";
import { waitFor } from "../tests/helpers/mod.ts";

Deno.test("parseNodeInfo() reads availability_zone; absent, empty or oversized is none", () => {
  const info = (zone: string | null) =>
    parseNodeInfo(
      ["# Server", "redis_version:8.1.0", ...(zone === null ? [] : [`availability_zone:${zone}`])]
        .join("\r\n"),
    );
  assert.equal(info("us-east-1a").availabilityZone, "us-east-1a");
  assert.equal(info(null).availabilityZone, null);
  assert.equal(info("").availabilityZone, null);
  assert.equal(info("z".repeat(65)).availabilityZone, null);
});

Deno.test("ShardHealth tells onZone the availability_zone a node reports, and each change of it", async () => {
  const fake = new FakeReplica({
    primaryPort: 1,
    policy: () => ({ kind: "silence" }),
    availabilityZone: "az-b",
  });
  const seen: [string, string | null][] = [];
  const node = localNode(fake.port);
  const health = new ShardHealth(testShard([node]), {
    logger: captureLogger().logger,
    onChange: () => {},
    onZone: (id, zone) => seen.push([id, zone]),
  });
  try {
    await health.start();
    // The first check learns it (no wait: start() resolves after the first round).
    assert.deepEqual(seen, [[node.id, "az-b"]]);
    assert.deepEqual([...health.reportedZones()], [[node.id, "az-b"]]);
    await waitFor(() => fake.checks >= 10); // several checks more: no repeat
    assert.equal(seen.length, 1);
    fake.availabilityZone = "az-c";
    await waitFor(() => seen.length === 2);
    assert.deepEqual(seen[1], [node.id, "az-c"]);
    fake.availabilityZone = null;
    await waitFor(() => seen.length === 3);
    assert.deepEqual(seen[2], [node.id, null]);
    assert.equal(health.reportedZones().size, 0);
  } finally {
    await health.stop();
    await fake.close();
  }
});
