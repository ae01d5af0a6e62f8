/**
 * Fault suite: a replica that stops answering without closing its
 * connections (a network black hole that still accepts connections), and
 * one that answers every reply 200 ms late. Both sit behind a relay in
 * front of a real replica, so the data is right; shardgate's health checks
 * go through the relay too. No read may fail, and none may wait for the
 * server timeout.
 */

import { delay } from "../helpers/mod.ts";
import { E2E, MAX_STALL_READ_MS, runFault } from "./_fault.ts";

/** How long the node stays a black hole. */
const BLACKHOLE_MS = 5_000;
/** How late the slow node answers (issue 10: 200 ms). */
const SLOW_REPLY_MS = 200;
/** How long the node stays slow under observation. */
const SLOW_WINDOW_MS = 4_000;

Deno.test("faults: a replica that accepts connections and never answers", E2E, async () => {
  await runFault({
    name: "replica never answers",
    relay: true,
    countable: true,
    bounds: { maxFailedReads: 0, maxReadMsDuring: MAX_STALL_READ_MS },
    async inject({ relay, traffic }) {
      traffic.faultStarts();
      relay!.mode = { kind: "blackhole" };
      await delay(BLACKHOLE_MS);
      relay!.mode = { kind: "pass" };
      await relay!.drained();
      traffic.faultEnds();
    },
    verify: ({ relay }) =>
      relay!.held > 0 ? [] : ["nothing ever reached the black hole: the fault missed"],
  });
});

Deno.test("faults: a replica that answers every reply 200 ms late", E2E, async () => {
  await runFault({
    name: `replica answers ${SLOW_REPLY_MS} ms late`,
    relay: true,
    countable: true,
    bounds: { maxFailedReads: 0, maxReadMsDuring: MAX_STALL_READ_MS },
    async inject({ relay, traffic }) {
      traffic.faultStarts();
      relay!.mode = { kind: "delay", ms: SLOW_REPLY_MS };
      await delay(SLOW_WINDOW_MS);
      relay!.mode = { kind: "pass" };
      await relay!.drained();
      traffic.faultEnds();
    },
    verify: ({ relay }) => relay!.delayed > 0 ? [] : ["no reply was delayed: the fault missed"],
  });
});
