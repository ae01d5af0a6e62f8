/**
 * End-to-end: the clients applications use, in their default configuration
 * and the common variants (node-redis with no options, RESP 2, RESP 3, a
 * name; ioredis with its default HELLO 3, a connection name, db 2;
 * `redis-cli -3`), all get the multiplexed path: reads survive a replica
 * kill and an empty restart, they share a few node connections per
 * protocol, and a subscriber follows health to a replica that serves.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  delay,
  type RedisProcess,
  startReplicaSet,
  startShardgate,
  waitFor,
} from "./helpers/mod.ts";
import { E2E, nodeLine, populate, shardYaml } from "./_health_helpers.ts";
import { proxyConnections, ReadLoops, RedisCli, VARIANTS } from "./_client_variants.ts";

const CHECK = "check: { interval: 100ms, timeout: 200ms, rise: 2, fall: 2 }";
/** Clients of each variant. */
const CLIENTS = 4;
const CONNECTIONS_PER_NODE = 2;

/** Node connection pools the variants use (`proto/db`), redis-cli -3's included. */
const POOLS = new Set([...VARIANTS.map((v) => v.pool), "3/0"]);

async function proxyConnectionsTo(node: RedisProcess): Promise<number> {
  return proxyConnections(await node.cli("CLIENT", "LIST"));
}

function assertNoFailures(
  stats: Map<string, { ok: number; failed: number; nil: number; errors: string[] }>,
): void {
  for (const [name, s] of stats) {
    assertEquals({ name, failed: s.failed, nil: s.nil, errors: s.errors }, {
      name,
      failed: 0,
      nil: 0,
      errors: [],
    });
    assert(s.ok > 0, `${name} read nothing`);
  }
}

Deno.test(
  "clients: every library configuration reads through a replica kill on pooled connections",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 2 });
    await set.primary.cli("SET", "k", "v");
    await set.primary.cli("-n", "2", "SET", "k", "v");
    await set.waitSynced();
    await using sg = await startShardgate(shardYaml(set.addresses, [CHECK]));
    const port = sg.ports.main.readers;
    await using loops = await ReadLoops.start(port, CLIENTS, () => "k", () => "v");
    await using cli = new RedisCli(port, ["GET", "k"]);
    await waitFor(() => loops.ok > 2000, { timeoutMs: 10_000 });
    await set.replicas[0].kill("SIGKILL");
    const before = loops.ok;
    await waitFor(() => loops.ok > before + 3000, { timeoutMs: 10_000 });
    const held = await proxyConnectionsTo(set.replicas[1]);
    const stats = await loops.stop();
    const lines = await cli.stop();
    console.log(
      `kill: ${
        [...stats].map(([n, s]) => `${n} ${s.ok}`).join(", ")
      }, redis-cli -3 ${lines.length}; ` +
        `${held} proxy connections to the surviving replica for ${
          VARIANTS.length * CLIENTS + 1
        } clients`,
    );
    assertNoFailures(stats);
    assert(lines.length > 10, `redis-cli -3 read ${lines.length} times`);
    assertEquals(lines.filter((l) => l !== "v"), []);
    // Multiplexed, whatever the number of clients: connections_per_node per
    // protocol and database in use, plus the health checker's one.
    assert(held <= CONNECTIONS_PER_NODE * POOLS.size + 1, `${held} connections`);
  },
);

Deno.test(
  "clients: no library configuration reads nil from a replica restarted empty",
  E2E,
  async () => {
    const keys = 20_000;
    await using set = await startReplicaSet({ replicas: 2 });
    await populate(set, keys);
    await set.primary.cli("-n", "2", "SET", "key:0", "value:0");
    await set.waitSynced();
    assertEquals(await set.primary.cli("CONFIG", "SET", "repl-diskless-sync-delay", "1"), "OK");
    await using sg = await startShardgate(shardYaml(set.addresses, [CHECK]));
    const port = sg.ports.main.readers;
    const dbKey = (v: string, i: number) => v === "ioredis db 2" ? "key:0" : `key:${i % keys}`;
    // Each variant reads keys that exist in its database.
    const loops = await Promise.all(
      VARIANTS.map((v) =>
        ReadLoops.start(port, 2, (i) => dbKey(v.name, i * 7919), (k) => `value:${k.slice(4)}`, [v])
      ),
    );
    await using cli = new RedisCli(port, ["GET", "key:1"]);
    try {
      await waitFor(() => loops.every((l) => l.ok > 200), { timeoutMs: 10_000 });
      const victim = set.replicas[0];
      const from = sg.logs().length;
      await victim.restart({ wipe: true });
      await sg.waitForLog(nodeLine(victim, "node serves reads"), 20_000, { from });
      const before = loops.map((l) => l.ok);
      await waitFor(() => loops.every((l, i) => l.ok > before[i] + 300), { timeoutMs: 10_000 });
    } finally {
      const all = new Map<string, { ok: number; failed: number; nil: number; errors: string[] }>();
      for (const l of loops) for (const [n, s] of await l.stop()) all.set(n, s);
      const lines = await cli.stop();
      console.log(
        `empty restart: ${[...all].map(([n, s]) => `${n} ${s.ok}/${s.nil} nil`).join(", ")}`,
      );
      assertNoFailures(all);
      assertEquals(lines.filter((l) => l !== "value:1"), []);
    }
  },
);

/** A subscriber of any variant, re-created by the test when the library gives up. */
interface Subscriber {
  readonly name: string;
  last: string;
}

Deno.test(
  "clients: a subscriber on a replica that stops serving is closed, reconnects and hears again",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 2 });
    await using sg = await startShardgate(shardYaml(set.addresses, [CHECK]));
    const port = sg.ports.main.readers;
    const subs: Subscriber[] = [];
    const drivers = await Promise.all(VARIANTS.map(async (v) => {
      const s: Subscriber = { name: v.name, last: "" };
      subs.push(s);
      const d = await v.connect(port);
      await d.subscribe("news", (m) => s.last = m);
      return d;
    }));
    // redis-cli -3 in subscribe mode; started again whenever it exits (its reconnect).
    const cliSub: Subscriber = { name: "redis-cli -3", last: "" };
    subs.push(cliSub);
    let stopped = false;
    let cliChild: Deno.ChildProcess | null = null;
    const cliLoop = (async () => {
      while (!stopped) {
        cliChild = new Deno.Command("redis-cli", {
          args: ["-3", "-p", String(port), "SUBSCRIBE", "news"],
          stdin: "null",
          stdout: "piped",
          stderr: "null",
        }).spawn();
        const reader = cliChild.stdout.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          const m = value.match(/(tick-\d+)/g);
          if (m) cliSub.last = m[m.length - 1];
        }
        await cliChild.status;
        if (!stopped) await delay(50);
      }
    })();
    const publisher = set.primary;
    let tick = 0;
    const publishUntil = async (ok: () => boolean, what: string) => {
      await waitFor(async () => {
        await publisher.cli("PUBLISH", "news", `tick-${++tick}`);
        return ok();
      }, { timeoutMs: 15_000, intervalMs: 50, message: what });
    };
    try {
      await publishUntil(() => subs.every((s) => s.last !== ""), "every subscriber heard");
      const victim = set.replicas[0];
      const pinnedThere = (await victim.cli("CLIENT", "LIST")).split("\n")
        .filter((l) => / sub=[1-9]/.test(l)).length;
      assert(pinnedThere > 0, "no subscriber landed on the victim: the test would prove nothing");
      const from = sg.logs().length;
      victim.pause();
      try {
        await sg.waitForLog(nodeLine(victim, "node stops serving reads"), 10_000, { from });
        const mark = tick;
        const heardAfter = (s: Subscriber) => Number(s.last.slice(5)) > mark;
        await publishUntil(() => subs.every(heardAfter), "every subscriber heard after the pause");
        console.log(`subscribers: ${pinnedThere} were on the paused replica; all hear again`);
      } finally {
        victim.resume();
      }
    } finally {
      stopped = true;
      try {
        (cliChild as Deno.ChildProcess | null)?.kill("SIGTERM");
      } catch {
        // exited
      }
      await cliLoop;
      await Promise.all(drivers.map((d) => d.close()));
    }
  },
);
