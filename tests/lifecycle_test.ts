/**
 * End-to-end: SIGTERM under load. shardgate stops accepting, every command
 * in flight at the signal gets its reply (a slow `DEBUG SLEEP` on the writer
 * and the GETs of a read load), `/readyz` says so meanwhile, and the process
 * logs `stopped` and exits 0 within `timeouts.drain`.
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
const SLEEP_S = 1;
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
    const writer = await redisClient(ports.writer!);
    const readers: TestClient[] = [];
    const pending = new Set<Promise<unknown>>();
    let stopping = false;
    const workers: Promise<void>[] = [];
    try {
      await writer.set("k", "v");
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
      // A slow command, in flight on the primary when the signal comes.
      const slow = writer.sendCommand(["DEBUG", "SLEEP", String(SLEEP_S)]);
      await waitFor(async () => {
        const doc = await statusDoc(port);
        return (doc.shards[0].nodes.find((n) => n.id === primary)?.inflight ?? 0) >= 1;
      }, { intervalMs: 5, message: "DEBUG SLEEP in flight on the primary" });
      const inflight = [...pending, slow];
      const logged = sg.logs().length;
      const signalledAt = Date.now();
      sg.signal("SIGTERM");

      await sg.waitForLog((l) => l.msg === "shutting down", 5000, { from: logged });
      const ready = await adminGet(port, "/readyz").catch(() => null);
      if (ready !== null) {
        assertEquals(ready.status, 503, "not ready while draining");
        assert(ready.body.includes("shutting down"), ready.body);
      }
      assert(await refuses(ports.readers), "no new client is accepted");

      const results = await Promise.allSettled(inflight);
      const failed = results.filter((r) => r.status === "rejected");
      assertEquals(failed.map((r) => String((r as PromiseRejectedResult).reason)), []);
      assertEquals((results.at(-1) as PromiseFulfilledResult<unknown>).value, "OK");
      assert(results.length > 1, "read load in flight too");

      const status = await withTimeout(sg.exited, DRAIN_MS + 2_000, "shardgate exit");
      const tookMs = Date.now() - signalledAt;
      assertEquals(status.code, 0);
      assert(tookMs < DRAIN_MS + 1_000, `exited ${tookMs} ms after SIGTERM (drain ${DRAIN_MS} ms)`);
      assert(tookMs >= SLEEP_S * 1000 - 200, `exited after ${tookMs} ms: before the slow reply?`);
      const stopped = await sg.waitForLog((l) => l.msg === "stopped", 0, { from: logged });
      assertEquals(stopped.signal, "SIGTERM");
      console.log(
        `SIGTERM: ${inflight.length} commands in flight all answered; exit 0 after ${tookMs} ms`,
      );
    } finally {
      stopping = true;
      closeClient(writer);
      for (const c of readers) closeClient(c);
      await Promise.allSettled(workers);
    }
  },
);
