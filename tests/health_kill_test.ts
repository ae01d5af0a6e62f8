/**
 * End-to-end: active health checks through shardgate when a replica dies.
 * A `kill -9`ed replica is marked down within `fall × interval` and no read
 * fails; restarted, it is back after `rise` checks and takes reads again.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { startReplicaSet, startShardgate, waitFor } from "./helpers/mod.ts";
import {
  E2E,
  getCount,
  logTime,
  nodeLine,
  populate,
  readLoad,
  shardYaml,
  SLACK_MS,
  statusChanged,
} from "./_health_helpers.ts";

const INTERVAL_MS = 100;
const RISE = 2;
const FALL = 2;
const KEYS = 1000;
/**
 * The restart and the status change logged by one check land within the same
 * millisecond or so; from two checks they are about an interval apart (less
 * the first check's own latency, which includes the connect).
 */
const SAME_CHECK_MS = 10;

Deno.test(
  "health e2e: a kill -9ed replica is down within fall × interval, no read fails, and it rejoins",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 2 });
    await populate(set, KEYS);
    await using sg = await startShardgate(shardYaml(set.addresses, [
      `check: { interval: ${INTERVAL_MS}ms, timeout: 100ms, rise: ${RISE}, fall: ${FALL} }`,
    ]));
    const victim = set.replicas[0];
    await using load = await readLoad(sg.ports.main.readers, KEYS);
    await load.waitForOk(1000);

    const from = sg.logs().length;
    const killedAt = Date.now();
    await victim.kill("SIGKILL");
    const down = await sg.waitForLog(statusChanged(victim, "down"), 5000, { from });
    const downMs = logTime(down) - killedAt;
    console.log(`kill -9: marked down ${downMs} ms after the kill (${down.reason})`);
    assert(
      downMs <= FALL * INTERVAL_MS + SLACK_MS,
      `marked down after ${downMs} ms; fall × interval = ${FALL * INTERVAL_MS} ms`,
    );
    await load.waitForOk(1000);

    // Restart (on the RDB of its first sync, then a partial resync): up again
    // after `rise` checks.
    const from2 = sg.logs().length;
    await victim.restart();
    const readyAt = Date.now();
    const up = await sg.waitForLog(statusChanged(victim, "up"), 10_000, { from: from2 });
    // The first passing check of the new process logs the restart (new
    // run_id); the `rise`th one brings it up: a later check, not that one.
    const first = await sg.waitForLog(nodeLine(victim, "node process restarted"), 0, {
      from: from2,
    });
    const risenMs = logTime(up) - logTime(first);
    const upMs = logTime(up) - readyAt;
    console.log(
      `kill -9: restarted replica up ${upMs} ms after it answered PING, ` +
        `${risenMs} ms after its first passing check`,
    );
    assert(logTime(first) <= logTime(up), "up before any passing check of the new process");
    assert(
      risenMs > SAME_CHECK_MS,
      `up ${risenMs} ms after the first passing check: fewer than ${RISE} checks`,
    );
    assert(upMs <= RISE * INTERVAL_MS + SLACK_MS, `up only after ${upMs} ms`);
    await sg.waitForLog(nodeLine(victim, "node serves reads"), 10_000, { from: from2 });
    // It rejoins the balancing: reads reach it again. On a loaded machine it
    // may first sit out a hedge's avoidance (at most 1 s) if its first read
    // on a new connection was slow, so this waits for reads, not a fixed count.
    const before = await getCount(victim);
    const servesAt = Date.now();
    let after = before;
    await waitFor(async () => {
      after = await getCount(victim);
      return after.calls - before.calls > 0;
    }, { timeoutMs: 5_000, message: "reads on the restarted replica" });
    await load.waitForOk(500);
    const stats = await load.stop();
    console.log(
      `kill -9: reads ok=${stats.ok} failed=${stats.failed} reconnects=${stats.reconnects}; ` +
        `restarted replica served ${after.calls - before.calls} reads within ` +
        `${Date.now() - servesAt} ms of serving again`,
    );
    assertEquals(stats.errors, []);
    assertEquals(stats.failed, 0);
    assert(after.calls - before.calls > 0, "the restarted replica got no reads");
  },
);
