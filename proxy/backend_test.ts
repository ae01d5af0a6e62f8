/**
 * Backend availability against fake nodes: a node whose connection breaks
 * with commands in flight is avoided for a moment, so the retries of its
 * reads reach a node that can answer instead of running out on dead ones.
 */

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import type { Shard } from "./shard.ts";
import { always, FakeNode, GET, request, testShard } from "./_test_fake_node.ts";

/**
 * Runs `body` with a shard (`retries: 2`, `fallback: primary`) whose two
 * replicas drop every command and whose primary answers +PONG; both
 * replicas still look healthy (the health checker has not noticed yet).
 */
async function dyingReplicas(
  body: (shard: Shard, replicas: FakeNode[], primary: FakeNode) => Promise<void>,
): Promise<void> {
  const a = new FakeNode(always(""), { drop: true });
  const b = new FakeNode(always(""), { drop: true });
  const primary = new FakeNode(always("+PONG\r\n"));
  const { shard } = testShard(
    [a.address, b.address, primary.address],
    "    retries: 2\n    fallback: primary",
  );
  shard.setRoutes({
    readers: [a.address, b.address],
    primary: primary.address,
    primaryProblem: null,
  });
  try {
    shard.start();
    await body(shard, [a, b], primary);
  } finally {
    await shard.close(0);
    await Promise.all([a.close(), b.close(), primary.close()]);
  }
}

Deno.test("Backend avoids a node whose connection broke with commands in flight, so retries reach the primary", async () => {
  await dyingReplicas(async (shard, [a, b]) => {
    // One attempt on each dying replica, then the primary: not a third try
    // on a replica that just dropped the command.
    assertEquals(await request(shard.bound()[0].port, GET, 1), "+PONG\r\n");
    assertEquals(a.commands + b.commands, 2);
  });
});

Deno.test("Backend: with fallback: primary, a retry reaches a primary avoided for a slow read rather than failing", async () => {
  await dyingReplicas(async (shard, _replicas, primary) => {
    // A read of the primary (serving reads in fallback) waited past the hedge
    // delay a moment ago: avoided for new first tries, still the last resort.
    shard.writer()!.avoid(shard.now());
    assertEquals(await request(shard.bound()[0].port, GET, 1), "+PONG\r\n");
    assertEquals(primary.commands, 1);
  });
});
