/**
 * End-to-end: live reload of a shard's nodes under load. A node added to
 * the config starts taking reads once it passed its checks; a removed node
 * gets no new command and shardgate's connections to it close; a changed
 * weight moves the read split at once. Clients on the shard's ports see no
 * failed command and no dropped connection.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  type LoadLoop,
  loadLoop,
  startReplicaSet,
  startShardgate,
  waitFor,
} from "./helpers/mod.ts";
import {
  assertClean,
  configYaml,
  E2E,
  field,
  getsDuring,
  NodeObserver,
  reloaded,
  weighted,
} from "./_reload_helpers.ts";

/** Reads of `k` (must be "v") on the readers port and writes on the writer port. */
async function startLoad(
  ports: { readers: number; writer?: number },
): Promise<{ reads: LoadLoop; writes: LoadLoop }> {
  const reads = await loadLoop({
    port: ports.readers,
    clients: 10,
    op: async (c) => {
      const v = await c.get("k");
      if (v !== "v") throw new Error(`GET k gave ${v}`);
    },
  });
  const writes = await loadLoop({
    port: ports.writer!,
    clients: 4,
    op: async (c, w, i) => {
      const r = await c.set(`w${w}`, String(i));
      if (r !== "OK") throw new Error(`SET gave ${r}`);
    },
  });
  await Promise.all([reads.waitForOk(200), writes.waitForOk(50)]);
  return { reads, writes };
}

Deno.test(
  "reload: an added node takes reads after its checks pass; no client notices",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 2 });
    await set.primary.cli("set", "k", "v");
    await set.waitSynced();
    const [p, r0, r1] = set.addresses;
    await using sg = await startShardgate(configYaml({ main: { nodes: [p, r0] } }));
    await using obs = await NodeObserver.open(set.nodes.map((n) => n.port));
    const { reads, writes } = await startLoad(sg.ports.main);
    await using _r = reads;
    await using _w = writes;

    const before = await getsDuring(obs, () => reads.waitForOk(500));
    assertEquals(before[2], 0, "the node not in the config got reads");

    const from = sg.logs().length;
    await sg.writeConfig(configYaml({ main: { nodes: [p, r0, r1] } }));
    const rec = await reloaded(sg, from);
    assert(field(rec, "changes").includes(`+node ${r1}`), field(rec, "changes"));

    // Joins after `rise` passing checks (2 × 100 ms), then gets its share.
    await waitFor(async () => (await obs.gets())[2] >= 200, {
      timeoutMs: 5_000,
      message: `reads on the added node ${r1}`,
    });
    const after = await getsDuring(obs, () => reads.waitForOk(1_000));
    assert(after[2] > 300 && after[1] > 300, `reads per node after the add: ${after}`);

    assertClean(await reads.stop(), "readers");
    assertClean(await writes.stop(), "writer");
  },
);

Deno.test("reload: a removed node gets no new command and its connections close", E2E, async () => {
  await using set = await startReplicaSet({ replicas: 2 });
  await set.primary.cli("set", "k", "v");
  await set.waitSynced();
  const [p, r0, r1] = set.addresses;
  // Weights, not hedges, are measured here: on a loaded machine both replicas can be avoided
  // at once for a read waiting past the hedge delay, and reads may then reach the primary.
  const extra = ["hedge: false"];
  await using sg = await startShardgate(configYaml({ main: { nodes: [p, r0, r1], extra } }));
  await using obs = await NodeObserver.open(set.nodes.map((n) => n.port));
  const { reads, writes } = await startLoad(sg.ports.main);
  await using _r = reads;
  await using _w = writes;
  const before = await getsDuring(obs, () => reads.waitForOk(500));
  assert(before[2] > 100, `the node to remove served no reads before: ${before}`);

  const from = sg.logs().length;
  await sg.writeConfig(configYaml({ main: { nodes: [p, r0] } }));
  const rec = await reloaded(sg, from);
  assert(field(rec, "changes").includes(`-node ${r1}`), field(rec, "changes"));

  // Its pool and its check connection close once idle.
  await waitFor(async () => await obs.connections(2) === 0, {
    timeoutMs: 5_000,
    message: `shardgate's connections to the removed node ${r1} to close`,
  });
  const after = await getsDuring(obs, () => reads.waitForOk(1_000));
  assertEquals(after[2], 0, `reads reached the removed node: ${after}`);
  assert(after[1] >= 1_000, `reads per node after the removal: ${after}`);

  assertClean(await reads.stop(), "readers");
  assertClean(await writes.stop(), "writer");
});

Deno.test("reload: a weight change from 1:1 to 3:1 moves the read split", E2E, async () => {
  await using set = await startReplicaSet({ replicas: 2 });
  await set.primary.cli("set", "k", "v");
  await set.waitSynced();
  const [p, r0, r1] = set.addresses;
  // Weights, not hedges, are measured here: on a loaded machine a replica can look stalled
  // (nothing answered for 3 hedge delays) while the other is avoided, and reads then go to
  // the primary.
  const extra = ["hedge: false"];
  await using sg = await startShardgate(configYaml({ main: { nodes: [p, r0, r1], extra } }));
  await using obs = await NodeObserver.open(set.nodes.map((n) => n.port));
  const { reads, writes } = await startLoad(sg.ports.main);
  await using _r = reads;
  await using _w = writes;

  const even = await getsDuring(obs, () => reads.waitForOk(3_000));
  const evenRatio = even[1] / even[2];
  assert(evenRatio > 0.8 && evenRatio < 1.25, `1:1 split was ${even[1]}:${even[2]}`);

  const from = sg.logs().length;
  await sg.writeConfig(configYaml({ main: { nodes: [p, weighted(r0, 3), r1], extra } }));
  const rec = await reloaded(sg, from);
  assert(field(rec, "changes").includes(`weight ${r0} 1→3`), field(rec, "changes"));

  const skewed = await getsDuring(obs, () => reads.waitForOk(4_000));
  const ratio = skewed[1] / skewed[2];
  assert(
    ratio > 2.6 && ratio < 3.4,
    `3:1 split was ${skewed[1]}:${skewed[2]} (${ratio.toFixed(2)})`,
  );
  assertEquals(skewed[0], 0, "the primary served reads");

  assertClean(await reads.stop(), "readers");
  assertClean(await writes.stop(), "writer");
});
