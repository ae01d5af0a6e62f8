/**
 * End-to-end: SIGTERM under load. shardgate stops accepting, every command
 * in flight in it at the signal gets its reply (slow `DEBUG SLEEP`s queued on
 * the primary, seen in flight through `/status`, while a read load runs),
 * `/readyz` says why it is not ready meanwhile, and the process logs
 * `stopped` and exits 0 within `timeouts.drain`. (A command a client wrote
 * but shardgate had not read yet is not in flight: draining stops reading,
 * and such a client sees its connection close.)
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  closeClient,
  redisClient,
  startReplicaSet,
  startShardgate,
  type TestClient,
  waitFor,
  withTimeout,
} from "./helpers/mod.ts";
import { adminGet, adminPort, adminYaml, E2E, SHARD, statusDoc } from "./_admin_helpers.ts";
import { refuses } from "./_reload_helpers.ts";

const DRAIN_MS = 4_000;
/** Slow commands, one per writer client; the primary runs them one after another. */
const SLOW = 4;
const SLEEP_S = 0.5;
const READERS = 8;

Deno.test(
  "lifecycle e2e: SIGTERM under load answers every in-flight command and exits 0 within timeouts.drain",
  E2E,
  async () => {
    await using set = await startReplicaSet({
      replicas: 1,
      primaryArgs: ["--enable-debug-command", "local"],
    });
    await using sg = await startShardgate(
      adminYaml(set.addresses, { shard: [`timeouts: { drain: ${DRAIN_MS}ms, server: 5s }`] }),
    );
    const port = adminPort(sg);
    const ports = sg.ports[SHARD];
    const primary = set.primary.address;
    const writers: TestClient[] = [];
    const readers: TestClient[] = [];
    const pending = new Set<Promise<string | null>>();
    let stopping = false;
    const workers: Promise<void>[] = [];
    try {
      for (let i = 0; i < SLOW; i++) writers.push(await redisClient(ports.writer!));
      await writers[0].set("k", "v");
      await set.waitSynced();
      for (let i = 0; i < READERS; i++) readers.push(await redisClient(ports.readers));
      for (const c of readers) {
        workers.push((async () => {
          while (!stopping && c.isOpen) {
            const p = c.get("k");
            pending.add(p);
            try {
              await p;
            } catch {
              return; // after the signal: the connection closes
            } finally {
              pending.delete(p);
            }
          }
        })());
      }
      await waitFor(() => pending.size >= READERS, { message: "the read load running" });

      // Slow commands, all taken by shardgate and in flight on the primary at the signal.
      const slowDone: number[] = [];
      const slow = writers.map((w) =>
        w.sendCommand(["DEBUG", "SLEEP", String(SLEEP_S)]).finally(() => slowDone.push(Date.now()))
      );
      await waitFor(async () => {
        const doc = await statusDoc(port);
        return (doc.shards[0].nodes.find((n) => n.id === primary)?.inflight ?? 0) >= SLOW;
      }, { intervalMs: 5, message: `${SLOW} DEBUG SLEEPs in flight on the primary` });
      const reads = [...pending];
      const logged = sg.logs().length;
      const signalledAt = Date.now();
      sg.signal("SIGTERM");

      await sg.waitForLog((l) => l.msg === "shutting down", 5000, { from: logged });
      // The admin port closes last: while clients drain it says why it is not ready.
      const ready = await adminGet(port, "/readyz");
      assertEquals(ready.status, 503, "not ready while draining");
      assert(ready.body.includes("shutting down"), ready.body);
      assert(await refuses(ports.readers), "no new client is accepted");

      const results = await Promise.allSettled(slow);
      assertEquals(
        results.map((r) => r.status === "fulfilled" ? r.value : String(r.reason)),
        new Array(SLOW).fill("OK"),
        "every command in flight in shardgate got its reply",
      );
      assert(
        slowDone.some((t) => t > signalledAt),
        "a slow reply came during the drain (they were in flight at the signal)",
      );
      let readsAnswered = 0;
      for (const r of await Promise.allSettled(reads)) {
        if (r.status === "fulfilled") {
          assertEquals(r.value, "v");
          readsAnswered++;
        } else {
          assert(/closed/i.test(String(r.reason)), `a read failed otherwise: ${r.reason}`);
        }
      }

      const status = await withTimeout(sg.exited, DRAIN_MS + 2_000, "shardgate exit");
      const tookMs = Date.now() - signalledAt;
      assertEquals(status.code, 0);
      assert(tookMs < DRAIN_MS, `exited ${tookMs} ms after SIGTERM (drain ${DRAIN_MS} ms)`);
      const stopped = await sg.waitForLog((l) => l.msg === "stopped", 0, { from: logged });
      assertEquals(stopped.signal, "SIGTERM");
      console.log(
        `SIGTERM: ${SLOW} slow commands in flight all answered (last ${
          Math.max(...slowDone) - signalledAt
        } ms after the signal), ${readsAnswered}/${reads.length} pending reads answered;` +
          ` exit 0 after ${tookMs} ms`,
      );
    } finally {
      stopping = true;
      for (const c of [...writers, ...readers]) closeClient(c);
      await Promise.allSettled(workers);
    }
  },
);
