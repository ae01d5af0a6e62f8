/**
 * Bad input on pinned sessions, found while building the fault suite. A
 * pinned session relays raw bytes, so what the multiplexed path guarantees
 * must still hold there: refused commands stay refused, the node's last
 * replies before it closes reach the client, and SIGTERM lets a command in
 * flight get its reply (README: "lets clients finish their in-flight
 * replies for up to 1 s").
 *
 * The pinning commands are ones that stay pinned after issue 8 (WATCH,
 * SUBSCRIBE), so these tests keep testing the pinned path.
 */

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { errorReply, ErrorText } from "../../proxy/errors.ts";
import {
  ping,
  type RedisProcess,
  type ShardgateProcess,
  startReplicaSet,
  startShardgate,
  unreadBytes,
  waitFor,
} from "../helpers/mod.ts";
import { SHARD } from "../_health_helpers.ts";
import { E2E, faultConfig } from "./_fault.ts";
import { RawConn } from "./_raw.ts";

/** Checks only at start: nothing but the test's own command reaches the frozen primary. */
const QUIET_CHECKS = "check: { interval: 1m, timeout: 1s, rise: 1, fall: 2 }";
/** How long a test waits for what it expects. */
const WAIT_MS = 5_000;
const td = new TextDecoder();

/** A primary with one replica (`k` = `v`) and shardgate in front; `fn` gets the writer port. */
async function withShard(
  extra: string[],
  fn: (primary: RedisProcess, sg: ShardgateProcess, writer: number) => Promise<void>,
): Promise<void> {
  await using set = await startReplicaSet({ replicas: 1 });
  await set.primary.cli("SET", "k", "v");
  await using sg = await startShardgate(faultConfig(set.addresses, extra));
  await fn(set.primary, sg, sg.ports[SHARD].writer!);
}

Deno.test(
  "pinned session: SHUTDOWN is refused there too, the primary keeps running",
  E2E,
  async () => {
    await withShard([], async (primary, _sg, writer) => {
      using c = await RawConn.open(writer);
      // NOW: a primary would otherwise wait for its replicas before going.
      const got = await c.ask("WATCH k\r\nSHUTDOWN NOSAVE NOW\r\n");
      const refused = td.decode(errorReply(ErrorText.refused("SHUTDOWN")));
      assertEquals(
        { reply: got.text, primaryAnswers: await ping(primary.port) },
        { reply: `+OK\r\n${refused}`, primaryAnswers: true },
        "SHUTDOWN reached the primary through a pinned session",
      );
    });
  },
);

Deno.test(
  "pinned session: the node's last replies before it closes reach the client",
  E2E,
  async () => {
    await withShard([], async (primary, _sg, writer) => {
      // What Redis itself answers, then closes: the subscription, PING in subscribed mode, QUIT.
      const input = "SUBSCRIBE ch\r\nPING\r\nQUIT\r\n";
      using direct = await RawConn.open(primary.port);
      const expected = await direct.ask(input);
      using c = await RawConn.open(writer);
      const got = await c.ask(input);
      assertEquals({ text: got.text, closed: got.closed }, { text: expected.text, closed: true });
    });
  },
);

Deno.test("pinned session: a command in flight at SIGTERM gets its reply", E2E, async () => {
  await withShard([QUIET_CHECKS], async (primary, sg, writer) => {
    using c = await RawConn.open(writer);
    assertEquals((await c.ask("WATCH k\r\n", "+OK\r\n")).text, "+OK\r\n");
    primary.pause();
    try {
      await c.send("GET k\r\n");
      await waitFor(() => unreadBytes(primary.port) > 0, {
        timeoutMs: WAIT_MS,
        message: "the GET to reach the frozen primary",
      });
      const from = sg.logs().length;
      sg.signal("SIGTERM");
      await sg.waitForLog((l) => l.msg === "shutting down", WAIT_MS, { from });
    } finally {
      primary.resume();
    }
    const got = await c.readQuiet(WAIT_MS);
    assertEquals({ text: got.text, closed: got.closed }, { text: "$1\r\nv\r\n", closed: true });
  });
});
