/**
 * End-to-end: the writer path keeps Redis's promises. `WAIT` counts the
 * replicas that have the session's own writes, whichever shared connection
 * carried them, with a replica held behind by a relay on its replication
 * link.
 */

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { encodeCommand } from "../resp/mod.ts";
import { startRedis, startShardgate, waitFor } from "./helpers/mod.ts";
import { E2E, shardYaml } from "./_health_helpers.ts";
import { RawConn } from "./_raw.ts";
import { FaultRelay } from "./faults/_relay.ts";

const CHECK = "check: { interval: 100ms, timeout: 500ms, rise: 1, fall: 2, max_lag: 60s }";

/** Sends one command on `conn` and reads its one-line reply. */
async function ask(conn: RawConn, ...args: string[]): Promise<string> {
  await conn.send(encodeCommand(args));
  return (await conn.readUntil((t) => t.endsWith("\r\n"), 10_000)).trim();
}

Deno.test(
  "writer: WAIT counts only replicas that have the session's own writes, as directly",
  E2E,
  async () => {
    await using primary = await startRedis();
    await using relay = new FaultRelay(primary.port);
    await using replica = await startRedis({ args: ["--replicaof", "127.0.0.1", `${relay.port}`] });
    await waitFor(async () => (await replica.info()).master_link_status === "up", {
      message: "replica linked through the relay",
    });
    await using sg = await startShardgate(
      shardYaml([primary.address, replica.address], [CHECK]),
    );
    const direct = await RawConn.open(primary.port);
    const proxied = await RawConn.open(sg.ports.main.writer!);
    try {
      // In step: WAIT answers 1 both ways.
      for (const c of [direct, proxied]) {
        assertEquals(await ask(c, "SET", "w", "0"), "+OK");
        assertEquals(await ask(c, "WAIT", "1", "2000"), ":1");
      }
      // The replication stream now reaches the replica 500 ms late.
      relay.mode = { kind: "delay", ms: 500 };
      for (const [name, c] of [["direct", direct], ["shardgate", proxied]] as const) {
        assertEquals(await ask(c, "SET", "w", name), "+OK");
        assertEquals(await ask(c, "WAIT", "1", "100"), ":0", `${name}: not acknowledged yet`);
        assertEquals(await ask(c, "WAIT", "1", "2000"), ":1", `${name}: once the replica has it`);
      }
      assertEquals(await replica.cli("GET", "w"), "shardgate");
    } finally {
      direct.close();
      proxied.close();
    }
  },
);
