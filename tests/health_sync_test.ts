/**
 * End-to-end: replicas whose data is incomplete get no reads through
 * shardgate. A replica restarted empty gets none until its (slow) full sync
 * is done, and one loading a large RDB gets none until it is loaded; no
 * client ever reads a missing key.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { startReplicaSet, startShardgate } from "./helpers/mod.ts";
import {
  E2E,
  getCount,
  nodeLine,
  type NodeSample,
  populate,
  readLoad,
  shardYaml,
  watchNode,
} from "./_health_helpers.ts";

const CHECK = "check: { interval: 100ms, timeout: 100ms, rise: 2, fall: 2 }";

/** True when a sample shows a replica whose data is complete. */
function complete(s: NodeSample): boolean {
  return s.linkUp && !s.syncing && !s.loading;
}

Deno.test(
  "health e2e: a replica restarted empty gets no reads until its full sync is done",
  E2E,
  async () => {
    const keys = 300_000;
    await using set = await startReplicaSet({ replicas: 2 });
    await populate(set, keys);
    // The primary waits 2 s before streaming the full sync to a replica.
    assertEquals(await set.primary.cli("CONFIG", "SET", "repl-diskless-sync-delay", "2"), "OK");
    await using sg = await startShardgate(shardYaml(set.addresses, [CHECK]));
    const victim = set.replicas[0];
    await using load = await readLoad(sg.ports.main.readers, keys);
    await load.waitForOk(1000);

    const from = sg.logs().length;
    await victim.restart({ wipe: true });
    const watch = watchNode(victim);
    try {
      await sg.waitForLog(nodeLine(victim, "node serves reads"), 20_000, { from });
      const before = await getCount(victim);
      await load.waitForOk(2000);
      const after = await getCount(victim);
      assert(after.calls > before.calls, "the synced replica got no reads");
    } finally {
      await watch.stop();
    }
    const stats = await load.stop();
    const s = watch.samples;
    const incomplete = s.filter((x) => !complete(x));
    const firstRead = s.find((x) => x.gets.calls + x.gets.rejected > 0);
    const syncedAt = s.find(complete)?.at ?? NaN;
    console.log(
      `full sync: reads ok=${stats.ok} failed=${stats.failed}; ${incomplete.length} of ${s.length} ` +
        `samples showed the replica syncing; first GET seen ${
          firstRead ? firstRead.at - syncedAt : "never"
        } ms after the sync was done`,
    );
    assertEquals(stats.errors, []);
    assertEquals(stats.failed, 0);
    // The sync really was observed (the test cannot pass vacuously)...
    assert(incomplete.length >= 10, `only ${incomplete.length} samples during the sync`);
    // ...and no GET reached the replica before it was complete (one that did
    // would have read nil: a failed read above; or, while it loaded the
    // transferred RDB, been refused with -LOADING, which the cumulative
    // counter in the last sample would show).
    for (const x of incomplete) {
      assertEquals(x.gets, { calls: 0, rejected: 0 }, `GETs during the sync: ${JSON.stringify(x)}`);
    }
    assertEquals(s[s.length - 1].gets.rejected, 0, "GETs were refused with -LOADING");
  },
);

Deno.test(
  "health e2e: a replica loading a large RDB gets no reads until it is loaded",
  E2E,
  async () => {
    const keys = 15_000;
    await using set = await startReplicaSet({ replicas: 2 });
    await populate(set, keys);
    const victim = set.replicas[0];
    assertEquals(await victim.cli("SAVE"), "OK");
    await using sg = await startShardgate(shardYaml(set.addresses, [CHECK]));
    await using load = await readLoad(sg.ports.main.readers, keys);
    await load.waitForOk(1000);

    const from = sg.logs().length;
    // Restarted on its RDB, loading it slowly (`key-load-delay`: µs per key)
    // and answering (-LOADING, INFO) every KB loaded, as a big dataset does.
    await victim.restart({
      args: [
        ...victim.args,
        "--key-load-delay",
        "50",
        "--loading-process-events-interval-bytes",
        "1024",
      ],
      waitReady: false,
    });
    const watch = watchNode(victim);
    try {
      await sg.waitForLog(nodeLine(victim, "node serves reads"), 30_000, { from });
      const before = await getCount(victim);
      await load.waitForOk(2000);
      const after = await getCount(victim);
      assert(after.calls > before.calls, "the loaded replica got no reads");
    } finally {
      await watch.stop();
    }
    const stats = await load.stop();
    const s = watch.samples;
    const loading = s.filter((x) => x.loading);
    const incomplete = s.filter((x) => !complete(x));
    console.log(
      `loading: reads ok=${stats.ok} failed=${stats.failed}; ${loading.length} of ${s.length} ` +
        `samples showed loading:1 (${
          loading.length > 0 ? loading[loading.length - 1].at - loading[0].at : 0
        } ms)`,
    );
    assertEquals(stats.errors, []);
    assertEquals(stats.failed, 0);
    assert(loading.length >= 10, `only ${loading.length} samples showed loading:1`);
    for (const x of incomplete) {
      assertEquals(x.gets, { calls: 0, rejected: 0 }, `GETs while loading: ${JSON.stringify(x)}`);
    }
    // A GET sent while loading is refused (-LOADING, then retried elsewhere):
    // the counter is cumulative, so the last sample shows every one ever sent.
    assertEquals(s[s.length - 1].gets.rejected, 0, "GETs were refused with -LOADING");
  },
);
