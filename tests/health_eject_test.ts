/**
 * End-to-end: passive ejection through shardgate. A replica frozen with
 * SIGSTOP is ejected by the timeouts its traffic reports, long before the
 * active checker's `fall` would mark it down; reads keep succeeding through
 * retries; after SIGCONT it rejoins once a check passes.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { startReplicaSet, startShardgate } from "./helpers/mod.ts";
import {
  E2E,
  getCount,
  linesSince,
  logTime,
  nodeLine,
  populate,
  readLoad,
  shardYaml,
  statusChanged,
} from "./_health_helpers.ts";

const KEYS = 1000;
const INTERVAL_MS = 1000;
const FALL = 5;
const SERVER_TIMEOUT_MS = 200;
const PASSIVE_ERRORS = 5;

Deno.test(
  "health e2e: a SIGSTOPped replica is ejected by traffic timeouts before fall, no read fails, and it rejoins after SIGCONT",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 2 });
    await populate(set, KEYS);
    await using sg = await startShardgate(shardYaml(set.addresses, [
      `check: { interval: ${INTERVAL_MS}ms, timeout: 500ms, rise: 2, fall: ${FALL} }`,
      `timeouts: { server: ${SERVER_TIMEOUT_MS}ms }`,
      `passive: { errors: ${PASSIVE_ERRORS}, window: 10s, cooldown: 1s }`,
      // Timeouts, not hedges, are what this test measures (hedging: tests/faults/).
      "hedge: false",
    ]));
    const victim = set.replicas[1];
    await using load = await readLoad(sg.ports.main.readers, KEYS);
    await load.waitForOk(1000);

    const from = sg.logs().length;
    const pausedAt = Date.now();
    victim.pause();
    let ejectedMs: number;
    try {
      const ejected = await sg.waitForLog(statusChanged(victim, "ejected"), 10_000, { from });
      ejectedMs = logTime(ejected) - pausedAt;
      console.log(`SIGSTOP: ejected ${ejectedMs} ms after the pause (${ejected.reason})`);
      assert(
        /^ejected: \d+ errors in \d+ms \(last: timeout\)/.test(String(ejected.reason)),
        `reason: ${ejected.reason}`,
      );
      // Well before the active checks could have marked it down.
      assert(ejectedMs < FALL * INTERVAL_MS, `ejected only after ${ejectedMs} ms`);
      // Reads keep flowing while it is frozen and out.
      await load.waitForOk(2000);
    } finally {
      victim.resume();
    }
    const resumedAt = Date.now();
    const down = linesSince(sg, from, statusChanged(victim, "down"));
    assertEquals(down, [], "the active checker marked the node down: ejection was too slow");

    // Rejoins at the first passing check after the cooldown, and takes reads.
    const rejoin = await sg.waitForLog(
      nodeLine(victim, "node rejoins after its ejection cooldown"),
      10_000,
      { from },
    );
    await sg.waitForLog(nodeLine(victim, "node serves reads"), 10_000, { from });
    const before = await getCount(victim);
    await load.waitForOk(2000);
    const after = await getCount(victim);
    const stats = await load.stop();
    console.log(
      `SIGSTOP: rejoined ${logTime(rejoin) - resumedAt} ms after SIGCONT; reads ok=${stats.ok} ` +
        `failed=${stats.failed} slowest=${Math.round(stats.maxLatencyMs)} ms; ` +
        `${after.calls - before.calls} reads on the rejoined replica`,
    );
    assertEquals(stats.errors, []);
    assertEquals(stats.failed, 0);
    // Some reads did wait for the server timeout on the frozen node: they were retried.
    assert(stats.maxLatencyMs >= SERVER_TIMEOUT_MS * 0.9, `slowest ${stats.maxLatencyMs} ms`);
    assert(after.calls > before.calls, "the rejoined replica got no reads");
  },
);
