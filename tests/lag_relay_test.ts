/**
 * The lag device (`_lag_relay.ts`) with a real primary and replica: the
 * replica gets the replication stream late by the set delay, or not at all
 * while paused, and still answers its clients meanwhile; the primary's
 * `INFO replication` still learns the replica's offset.
 */

import { ok as assert, strictEqual as assertEquals } from "node:assert/strict";
import { startRedis, waitFor } from "./helpers/mod.ts";
import { E2E } from "./_health_helpers.ts";
import { LagRelay, replicaThrough } from "./_lag_relay.ts";

Deno.test(
  "LagRelay delays and pauses the replication stream; the replica keeps answering",
  E2E,
  async () => {
    await using primary = await startRedis();
    await using relay = new LagRelay(primary.port);
    await using replica = await replicaThrough(relay);

    // Delay: a write reaches the replica no sooner than the delay.
    relay.delayMs = 300;
    const t0 = performance.now();
    await primary.cli("SET", "k", "1");
    assertEquals(await replica.cli("GET", "k"), "", "not there at once");
    await waitFor(async () => (await replica.cli("GET", "k")) === "1", {
      intervalMs: 5,
      message: "the delayed write",
    });
    const took = performance.now() - t0;
    assert(took >= 250, `arrived after ${took.toFixed(0)} ms, expected >= 300 ms`);

    // Pause: the replica answers, but gets nothing, until resumed.
    relay.delayMs = 0;
    relay.pause();
    await primary.cli("SET", "k", "2");
    const until = performance.now() + 400;
    while (performance.now() < until) {
      assertEquals(await replica.cli("GET", "k"), "1", "nothing delivered while paused");
    }
    assertEquals(await replica.cli("PING"), "PONG");
    relay.resume();
    await waitFor(async () => (await replica.cli("GET", "k")) === "2", { message: "resumed" });

    // The replica's acknowledgements reach the primary: its offset shows there.
    await waitFor(async () => {
      const p = await primary.info();
      const r = await replica.info();
      const slave0 = /offset=(\d+)/.exec(p.slave0 ?? "");
      return slave0 !== null && Number(slave0[1]) === Number(r.slave_repl_offset) &&
        Number(r.slave_repl_offset) === Number(p.master_repl_offset);
    }, { message: "the primary's INFO shows the replica caught up" });
    assert(relay.delivered > 0);
  },
);
