/**
 * End-to-end: a router port's split commands under replica faults. Each
 * MGET part is a command of its own on its shard (hedged past a paused
 * replica, retried after a killed one), and the parts' slots are reused
 * once answered, so this checks every value of every MGET against its key
 * while that happens on two of three shards, each with one replica: the
 * stalled replica's reads are hedged to the primary, past the budget.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  closeClient,
  redisClient,
  type ReplicaSet,
  startReplicaSet,
  startShardgate,
  waitFor,
} from "./helpers/mod.ts";
import { E2E } from "./_health_helpers.ts";

const KEYS = 300;
const CLIENTS = 4;
/**
 * MGETs each client keeps in flight (node-redis pipelines them on its one connection). All
 * of them may be stuck on the paused replica at once; they stay within the hedge budget's
 * floor (20), as a reply beyond the budget waits for the node or the server timeout.
 */
const IN_FLIGHT = 3;
const KEYS_PER_MGET = 10;
/** How long the replica stays paused: long past the hedge delay, shorter than the server timeout. */
const PAUSE_MS = 1_500;

/** Three shards (a primary and a replica each) and a router over them. */
function yaml(sets: readonly ReplicaSet[]): string {
  return [
    "shards:",
    ...sets.map((s, i) =>
      `  s${i}: { readers: 127.0.0.1:0, writer: 127.0.0.1:0, nodes: ${
        JSON.stringify(s.addresses)
      } }`
    ),
    "routers:",
    "  r: { listen: 127.0.0.1:0, hash: md5, shards: [s0, s1, s2] }",
  ].join("\n");
}

/** What the load saw: MGETs answered, failed, values not their key's, and the slowest. */
interface LoadResult {
  done: number;
  failed: string[];
  wrong: string[];
  slowestMs: number;
}

Deno.test(
  "router: split MGETs keep every value while one shard's replica is paused and another's killed",
  E2E,
  async () => {
    const sets: ReplicaSet[] = [];
    try {
      for (let i = 0; i < 3; i++) sets.push(await startReplicaSet({ replicas: 1 }));
      await using sg = await startShardgate(yaml(sets));
      const port = sg.routerPorts.r;
      const keys = Array.from({ length: KEYS }, (_, i) => `rf:${i}`);
      const writer = await redisClient(port);
      try {
        await writer.mSet(keys.map((k, i) => [k, `v${i}`] as [string, string]));
      } finally {
        closeClient(writer);
      }
      await Promise.all(sets.map((s) => s.waitSynced()));
      // Every shard holds some of the keys, so every MGET is likely split three ways.
      for (const s of sets) {
        assert(Number(await s.primary.cli("DBSIZE")) > 0, "a shard got no keys");
      }

      let stop = false;
      const result: LoadResult = { done: 0, failed: [], wrong: [], slowestMs: 0 };
      let faultFrom = Infinity; // MGETs started after this are timed as "during the faults"
      const clients = await Promise.all(
        Array.from({ length: CLIENTS }, () => redisClient(port)),
      );
      const loop = async (c: (typeof clients)[number], seed: number) => {
        let n = seed;
        while (!stop) {
          await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
            const picked = Array.from(
              { length: KEYS_PER_MGET },
              () => (n = (n * 1103515245 + 12345) % 2147483648) % KEYS,
            );
            const started = performance.now();
            try {
              const values = await c.mGet(picked.map((i) => keys[i]));
              values.forEach((v, j) => {
                if (v !== `v${picked[j]}`) result.wrong.push(`${keys[picked[j]]}=${v}`);
              });
              result.done++;
            } catch (e) {
              result.failed.push(String(e));
            }
            if (started >= faultFrom) {
              result.slowestMs = Math.max(result.slowestMs, performance.now() - started);
            }
          }));
        }
      };
      const running = clients.map((c, i) => loop(c, i + 1));
      try {
        await waitFor(() => result.done >= 200, { message: "MGETs before the faults" });
        faultFrom = performance.now();
        const paused = sets[0].replicas[0];
        paused.pause();
        const atPause = result.done;
        try {
          await waitFor(() => performance.now() - faultFrom >= PAUSE_MS, {
            message: "the pause to last",
            timeoutMs: PAUSE_MS * 3,
          });
        } finally {
          paused.resume();
        }
        const duringPause = result.done - atPause;
        await sets[1].replicas[0].kill("SIGKILL");
        const atKill = result.done;
        await waitFor(() => result.done >= atKill + 500, { message: "MGETs after the kill" });
        stop = true;
        await Promise.all(running);
        assertEquals(result.wrong.slice(0, 5), [], "values not their key's");
        assertEquals(result.failed.slice(0, 5), [], "failed MGETs");
        // Hedged past the paused replica to the primary: MGETs went on during the pause
        // and none came near waiting it out.
        assert(duringPause > 100, `only ${duringPause} MGETs answered during the pause`);
        assert(result.slowestMs < PAUSE_MS / 3, `an MGET took ${result.slowestMs.toFixed(0)} ms`);
      } finally {
        stop = true;
        await Promise.allSettled(running);
        for (const c of clients) closeClient(c);
      }
    } finally {
      await Promise.all(sets.map((s) => s.stop()));
    }
  },
);
