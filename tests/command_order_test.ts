/**
 * End-to-end: a client's commands run, and are answered, in the order it
 * sent them. Two bugs this guards against, each reproduced with a raw
 * socket against real servers:
 *
 * - commands of one session to one node going down two node connections
 *   (`connections_per_node: 2`) when they arrive in separate reads, so
 *   Redis ran them out of order;
 * - replies after `RESET` in the same write as `MULTI`, `MONITOR`,
 *   `SUBSCRIBE` or `CLIENT TRACKING` being lost, shifting every later reply.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { encodeCommand } from "../resp/mod.ts";
import { loadLoop, startReplicaSet, startShardgate, withTimeout } from "./helpers/mod.ts";
import { E2E, shardYaml } from "./_health_helpers.ts";

import { RawConn } from "./_raw.ts";
import { concatBytes } from "./_differential.ts";

/** RPUSH probes per run and runs (the bar: 20 runs of 3,000). */
const PUSHES = 3_000;
const RUNS = 20;
const LOADERS = 20;

/** Sends each frame as its own TCP write, without waiting for replies; reads `n` replies. */
async function writeEach(port: number, frames: readonly Uint8Array[]): Promise<string> {
  const conn = await RawConn.open(port);
  try {
    const reading = conn.readUntil((t) => count(t, ":") >= frames.length, 30_000);
    for (const f of frames) await conn.send(f);
    return await reading;
  } finally {
    conn.close();
  }
}

function count(text: string, lead: string): number {
  let n = 0;
  for (const line of text.split("\r\n")) if (line.startsWith(lead)) n++;
  return n;
}

Deno.test(
  "order: RPUSH sent as separate writes lands in order with 4 connections per node under load",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    await using sg = await startShardgate(
      shardYaml(set.addresses, ["connections_per_node: 4"]),
    );
    const writer = sg.ports.main.writer!;
    // 20 other clients keep every node connection of the pool busy.
    await using load = await loadLoop({
      port: writer,
      clients: LOADERS,
      op: async (c, w, i) => {
        await c.set(`load:${w}`, String(i));
      },
    });
    await load.waitForOk(200);
    let outOfOrder = 0;
    for (let run = 0; run < RUNS; run++) {
      const key = `list:${run}`;
      const frames = Array.from(
        { length: PUSHES },
        (_, i) => encodeCommand(["RPUSH", key, `${i}`]),
      );
      await withTimeout(writeEach(writer, frames), 60_000, `run ${run}`);
      const got = await set.primary.cli("LRANGE", key, "0", "-1");
      const items = got.trim().split("\n");
      assertEquals(items.length, PUSHES, `run ${run}: every push landed`);
      for (let i = 0; i < PUSHES; i++) if (items[i] !== String(i)) outOfOrder++;
    }
    const stats = await load.stop();
    assertEquals(stats.failed, 0, stats.errors.join("; "));
    assertEquals(outOfOrder, 0, `${outOfOrder} entries out of order over ${RUNS} runs`);
  },
);

/** The frames of a batch sent in one write, and the replies a direct client gets. */
const RESET_BATCHES: { name: string; cmds: string[][] }[] = [
  { name: "MULTI", cmds: [["MULTI"], ["RESET"], ["SET", "k", "v"], ["PING"], ["GET", "k"]] },
  {
    name: "SUBSCRIBE",
    cmds: [["SUBSCRIBE", "ch"], ["RESET"], ["SET", "k", "v2"], ["PING"], ["GET", "k"]],
  },
  {
    name: "CLIENT TRACKING",
    cmds: [["CLIENT", "TRACKING", "ON"], ["RESET"], ["SET", "k", "v3"], ["PING"], ["GET", "k"]],
  },
  {
    name: "WATCH + MULTI",
    cmds: [["WATCH", "k"], ["MULTI"], ["INCR", "n"], ["RESET"], ["INCR", "n"], ["GET", "n"]],
  },
  // Redis refuses SHUTDOWN inside MULTI in its own words (no-multi), never shardgate.
  { name: "SHUTDOWN in MULTI", cmds: [["MULTI"], ["SHUTDOWN"], ["EXEC"], ["PING"]] },
  {
    name: "CLIENT REPLY OFF",
    cmds: [["CLIENT", "REPLY", "OFF"], ["PING"], ["RESET"], ["SET", "k", "v4"], ["GET", "k"]],
  },
];

Deno.test(
  "order: commands after RESET in the same write are answered, as directly",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    await using direct = await startReplicaSet({ replicas: 0 });
    await using sg = await startShardgate(shardYaml(set.addresses));
    for (const { name, cmds } of RESET_BATCHES) {
      const want = await exchange(direct.primary.port, cmds);
      const got = await exchange(sg.ports.main.writer!, cmds);
      assertEquals(got, want, name);
      // The connection is in step afterwards: one more command gets its own reply.
      assert(want.length > 0, name);
    }
  },
);

Deno.test(
  "order: a SKIP sent before a state-changing EXEC's reply: the RESETs and ECHO after it are answered",
  E2E,
  async () => {
    // Found by the differential test: the SKIP went out while replies were counted, the command
    // after it once EXEC's reply had stopped the counting (it ran SELECT); the RESET after that
    // was taken for the silenced one, ECHO's reply for the second RESET's, and the session left
    // the connection with ECHO's reply still to come.
    await using set = await startReplicaSet({ replicas: 1 });
    await using sg = await startShardgate(shardYaml(set.addresses));
    const conn = await RawConn.open(sg.ports.main.writer!);
    try {
      const first = [["MULTI"], ["SELECT", "0"], ["EXEC"], ["CLIENT", "REPLY", "SKIP"]];
      await sendBatch(conn, first);
      await conn.readUntil((t) => t.includes("*1\r\n+OK\r\n"), 5000);
      const then = [["ZRANGE", "z", "0", "-1"], ["RESET"], ["RESET"], ["ECHO", "end"]];
      await sendBatch(conn, then);
      const text = await conn.readUntil((t) => t.includes("$3\r\nend\r\n"), 5000);
      assertEquals(text, "+RESET\r\n+RESET\r\n$3\r\nend\r\n");
    } finally {
      conn.close();
    }
  },
);

Deno.test(
  "order: MONITOR, RESET and more in one write: every command after RESET is answered",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    await using sg = await startShardgate(shardYaml(set.addresses));
    const conn = await RawConn.open(sg.ports.main.writer!);
    try {
      const batch = [["MONITOR"], ["RESET"], ["SET", "mk", "1"], ["PING"], ["GET", "mk"]];
      await sendBatch(conn, batch);
      const text = await conn.readUntil((t) => t.includes("$1\r\n1\r\n"), 5000);
      const lines = text.split("\r\n").filter((l) => l !== "");
      // +OK (MONITOR), monitor lines, +RESET, then the three replies in order.
      const at = lines.indexOf("+RESET");
      assert(at > 0, text);
      assertEquals(lines.slice(at + 1), ["+OK", "+PONG", "$1", "1"], text);
      // Still in step: a new command gets exactly its own reply.
      await conn.send(encodeCommand(["ECHO", "after"]));
      assertEquals(await conn.readUntil((t) => t.endsWith("after\r\n")), "$5\r\nafter\r\n");
    } finally {
      conn.close();
    }
  },
);

Deno.test(
  "order: a HELLO 3 silenced by SKIP after a RESET in the same write keeps the session in RESP3",
  E2E,
  async () => {
    // Found by the differential test (seed 1377467310): RESET's reply, which comes after the
    // silenced HELLO was sent, freed the session, and the next GET went down a shared RESP2
    // connection (`$-1` for a missing key where Redis answers `_`).
    await using set = await startReplicaSet({ replicas: 1 });
    await using direct = await startReplicaSet({ replicas: 0 });
    await using sg = await startShardgate(shardYaml(set.addresses));
    for (const port of [direct.primary.port, sg.ports.main.readers, sg.ports.main.writer!]) {
      const conn = await RawConn.open(port);
      try {
        // PING's reply comes after every other reply of the write: once the client has it, the
        // session has settled where it stays (before the fix: back on a shared connection).
        await sendBatch(conn, [
          ["MULTI"],
          ["RESET"],
          ["CLIENT", "REPLY", "SKIP"],
          ["HELLO", "3"],
          ["PING"],
        ]);
        assertEquals(
          await conn.readUntil((t) => t.includes("+PONG\r\n"), 5000),
          "+OK\r\n+RESET\r\n+PONG\r\n",
        );
        await conn.send(encodeCommand(["GET", "missing"]));
        assertEquals(
          await conn.readUntil((t) => t.endsWith("\r\n"), 5000),
          "_\r\n",
          `port ${port}`,
        );
      } finally {
        conn.close();
      }
    }
  },
);

/** Sends `cmds` on `conn` in one write. */
async function sendBatch(conn: RawConn, cmds: string[][]): Promise<void> {
  await conn.send(concatBytes(cmds.map((c) => encodeCommand(c))));
}

/** Sends `cmds` in one write to `port`, then a marker ECHO; returns the replies before it. */
async function exchange(port: number, cmds: string[][]): Promise<string> {
  const marker = `end-${Math.random().toString(36).slice(2)}`;
  const conn = await RawConn.open(port);
  try {
    await sendBatch(conn, [...cmds, ["ECHO", marker]]);
    const text = await conn.readUntil((t) => t.includes(`${marker}\r\n`), 5000);
    return text.slice(0, text.lastIndexOf(`$${marker.length}\r\n${marker}\r\n`));
  } finally {
    conn.close();
  }
}
