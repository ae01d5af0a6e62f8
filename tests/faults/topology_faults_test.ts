/**
 * Fault suite: the shard's shape changes under load. The primary fails
 * over (writes fenced first, as Redis's FAILOVER does, so asynchronous
 * replication loses nothing), every replica dies, or a reload removes a
 * replica. No acknowledged write may be lost; reads keep succeeding (on the
 * primary when no replica is left, `fallback: primary`).
 */

import { getCount, nodeLine } from "../_health_helpers.ts";
import { NodeObserver, reloaded } from "../_reload_helpers.ts";
import { waitFor } from "../helpers/mod.ts";
import { E2E, faultConfig, runFault } from "./_fault.ts";

/** How long the old primary's writes may stay fenced (released as soon as the failover is done). */
const FENCE_MS = 10_000;
/** How a write refused during a failover may fail: shardgate's own error, or READONLY. */
const DOCUMENTED_WRITE_ERROR = /^(ERR shardgate: |READONLY )/;
/** Deadline for the writer to follow the new primary. */
const SWITCH_TIMEOUT_MS = 5_000;
/** Deadline for shardgate to take every killed replica out of the readers. */
const OUT_TIMEOUT_MS = 5_000;
/** Reads the primary must serve once no replica is left. */
const FALLBACK_READS = 2_000;
/** Deadline for shardgate's connections to a removed node to close. */
const CLOSE_TIMEOUT_MS = 5_000;
/** Reads (and writes) that must succeed after the change, inside the window. */
const AFTER_READS = 2_000;
const AFTER_WRITES = 200;

Deno.test("faults: primary failover under load", E2E, async () => {
  let switched = false;
  await runFault({
    name: "primary failover",
    countable: true,
    bounds: { maxFailedReads: 0 },
    async inject({ set, sg, traffic }) {
      const old = set.primary;
      const next = set.replicas[0];
      const from = sg.logs().length;
      traffic.faultStarts();
      await old.cli("CLIENT", "PAUSE", String(FENCE_MS), "WRITE");
      try {
        await set.waitSynced();
        await set.failover(next);
      } finally {
        await old.cli("CLIENT", "UNPAUSE");
      }
      await sg.waitForLog(
        (l) => l.msg === "writer routes to a new primary" && l.to === next.address,
        SWITCH_TIMEOUT_MS,
        { from },
      );
      switched = true;
      await traffic.waitForOk(AFTER_READS, AFTER_WRITES);
      traffic.faultEnds();
    },
    verify: (_ctx, report) => [
      ...(switched ? [] : ["the writer never followed the new primary"]),
      // A write refused during the switch says so: shardgate's error, or the demoted primary's.
      ...Object.keys(report.writes.errors).filter((e) => !DOCUMENTED_WRITE_ERROR.test(e))
        .map((e) => `a write failed with an undocumented error: ${e}`),
    ],
  });
});

Deno.test("faults: every replica killed under load (fallback: primary)", E2E, async () => {
  let primaryServed = 0;
  await runFault({
    name: "all replicas down",
    bounds: { maxFailedReads: 0 },
    async inject({ set, sg, traffic }) {
      const from = sg.logs().length;
      const before = await getCount(set.primary);
      traffic.faultStarts();
      await Promise.all(set.replicas.map((r) => r.kill("SIGKILL")));
      await Promise.all(
        set.replicas.map((r) =>
          sg.waitForLog(nodeLine(r, "node stops serving reads"), OUT_TIMEOUT_MS, { from })
        ),
      );
      await traffic.waitForOk(FALLBACK_READS);
      traffic.faultEnds();
      primaryServed = (await getCount(set.primary)).calls - before.calls;
    },
    verify: () =>
      primaryServed >= FALLBACK_READS
        ? []
        : [`the primary served ${primaryServed} reads, not the ${FALLBACK_READS} expected`],
  });
});

Deno.test("faults: a reload removes a replica under load", E2E, async () => {
  let servedAfter = -1;
  let changes = "";
  await runFault({
    name: "reload removes a replica",
    countable: true,
    bounds: { maxFailedReads: 0 },
    async inject({ set, sg, traffic, nodes }) {
      const removed = set.replicas[1];
      const from = sg.logs().length;
      traffic.faultStarts();
      await sg.writeConfig(faultConfig(nodes.filter((n) => n !== removed.address)));
      changes = String((await reloaded(sg, from)).changes);
      // Its in-flight replies are in once shardgate's connections to it are closed.
      await using obs = await NodeObserver.open([removed.port]);
      await waitFor(async () => await obs.connections(0) === 0, {
        timeoutMs: CLOSE_TIMEOUT_MS,
        message: `shardgate's connections to the removed node ${removed.address} to close`,
      });
      const before = await getCount(removed);
      await traffic.waitForOk(AFTER_READS, AFTER_WRITES);
      servedAfter = (await getCount(removed)).calls - before.calls;
      traffic.faultEnds();
    },
    verify: ({ set }) => [
      ...(changes.includes(`-node ${set.replicas[1].address}`)
        ? []
        : [`the reload did not remove the node: ${changes}`]),
      ...(servedAfter === 0
        ? []
        : [`the removed node served ${servedAfter} reads after the reload`]),
    ],
  });
});
