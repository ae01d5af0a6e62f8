/**
 * Fault suite: one replica fails under load (kill -9, SIGSTOP for 5 s,
 * restarted empty with a slow full sync). No read may fail, no
 * acknowledged write may be lost, and a frozen replica must not make any
 * read wait for the server timeout.
 */

import { delay } from "../helpers/mod.ts";
import { nodeLine } from "../_health_helpers.ts";
import { E2E, MAX_STALL_READ_MS, runFault } from "./_fault.ts";

/** How long a dead replica stays dead under observation. */
const KILL_WINDOW_MS = 3_000;
/** How long the replica stays frozen (issue 10: 5 s). */
const PAUSE_MS = 5_000;
/** How long the only replica of a shard stays frozen (its reads go to the primary meanwhile). */
const ONLY_REPLICA_PAUSE_MS = 2_000;
/** How long the primary holds back a replica's full sync after it restarted empty. */
const SYNC_DELAY_S = 2;
/** Deadline for the restarted replica to serve reads again. */
const RESYNC_TIMEOUT_MS = 20_000;

Deno.test("faults: replica kill -9 under load", E2E, async () => {
  await runFault({
    name: "replica kill -9",
    bounds: { maxFailedReads: 0 },
    async inject({ set, traffic }) {
      traffic.faultStarts();
      await set.replicas[0].kill("SIGKILL");
      await delay(KILL_WINDOW_MS);
      traffic.faultEnds();
    },
  });
});

/** The first replica SIGSTOPped for `pauseMs` under load, then SIGCONT: no read may wait for it. */
async function pauseFault(name: string, pauseMs: number, replicas?: number): Promise<void> {
  await runFault({
    name,
    replicas,
    countable: true,
    bounds: { maxFailedReads: 0, maxReadMsDuring: MAX_STALL_READ_MS },
    async inject({ set, traffic }) {
      const victim = set.replicas[0];
      traffic.faultStarts();
      victim.pause();
      try {
        await delay(pauseMs);
      } finally {
        victim.resume();
      }
      traffic.faultEnds();
      await traffic.waitForOk(1_000);
    },
  });
}

Deno.test("faults: replica SIGSTOP for 5 s under load", E2E, () => {
  return pauseFault("replica SIGSTOP 5 s", PAUSE_MS);
});

Deno.test("faults: the only replica SIGSTOPped for 2 s under load (fallback: primary)", E2E, () => {
  return pauseFault("only replica SIGSTOP 2 s", ONLY_REPLICA_PAUSE_MS, 1);
});

Deno.test("faults: replica restarted empty with a slow full sync under load", E2E, async () => {
  let emptyKeys = -1;
  await runFault({
    name: "replica restarted empty, slow full sync",
    bounds: { maxFailedReads: 0 },
    async inject({ set, sg, traffic }) {
      const victim = set.replicas[0];
      await set.primary.cli("CONFIG", "SET", "repl-diskless-sync-delay", String(SYNC_DELAY_S));
      const from = sg.logs().length;
      traffic.faultStarts();
      await victim.restart({ wipe: true });
      // Answering, empty, waiting for its sync: what reads must not see.
      emptyKeys = Number(await victim.cli("DBSIZE"));
      // The window lasts until the replica has synced and serves reads again.
      await sg.waitForLog(nodeLine(victim, "node serves reads"), RESYNC_TIMEOUT_MS, { from });
      traffic.faultEnds();
      await traffic.waitForOk(1_000);
    },
    verify: () => emptyKeys === 0 ? [] : [`the restarted replica held ${emptyKeys} keys, not 0`],
  });
});
