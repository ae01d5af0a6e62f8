/**
 * End-to-end: a config that cannot be applied is rejected whole, with
 * `file:line:col: path: message` errors in the log, and the running config
 * keeps serving every client without a hiccup: bad YAML, a bad value, and
 * a listen address another process holds (found only when binding).
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  closeClient,
  freePorts,
  type LoadLoop,
  loadLoop,
  redisClient,
  type ShardgateProcess,
  startReplicaSet,
  startShardgate,
} from "./helpers/mod.ts";
import {
  assertClean,
  configYaml,
  E2E,
  escapeRe,
  field,
  rejected,
  reloadCount,
  reloaded,
} from "./_reload_helpers.ts";

/** 1-based line and column of the first `needle` in `text`. */
function positionOf(text: string, needle: string): { line: number; col: number } {
  const i = text.indexOf(needle);
  if (i < 0) throw new Error(`"${needle}" is not in the config`);
  const before = text.slice(0, i).split("\n");
  return { line: before.length, col: before[before.length - 1].length + 1 };
}

/** Reads (must be "v") on the readers port, writes on the writer port. */
async function loads(sg: ShardgateProcess): Promise<LoadLoop[]> {
  const reads = await loadLoop({
    port: sg.ports.main.readers,
    op: async (c) => {
      const v = await c.get("k");
      if (v !== "v") throw new Error(`GET k gave ${v}`);
    },
  });
  const writes = await loadLoop({
    port: sg.ports.main.writer!,
    clients: 4,
    op: async (c, w, i) => void await c.set(`w${w}`, String(i)),
  });
  await Promise.all([reads.waitForOk(200), writes.waitForOk(50)]);
  return [reads, writes];
}

/** Stops the loops and asserts none of their clients saw a failure or a drop. */
async function assertLoadsClean(loops: LoadLoop[]): Promise<void> {
  await loops[0].waitForOk(300);
  assertClean(await loops[0].stop(), "readers");
  assertClean(await loops[1].stop(), "writer");
}

Deno.test(
  "reload: bad YAML and a bad value are rejected with file:line:col; the old config serves",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    await set.primary.cli("set", "k", "v");
    await set.waitSynced();
    const good = configYaml({ main: { nodes: set.addresses } });
    await using sg = await startShardgate(good);
    const ports = { ...sg.ports.main };
    const loops = await loads(sg);
    try {
      // Bad YAML: an unclosed flow list.
      let from = sg.logs().length;
      await sg.writeConfig(good.replace(/\]\n/, "\n"));
      let rec = await rejected(sg, from);
      assert(
        new RegExp(`^${escapeRe(sg.configPath)}:\\d+:\\d+: YAML: `).test(field(rec, "errors")),
        field(rec, "errors"),
      );

      // A bad value: the error points at it.
      const bad = good.replace("    nodes:", "    balance: fastest\n    nodes:");
      const at = positionOf(bad, "fastest");
      from = sg.logs().length;
      await sg.writeConfig(bad);
      rec = await rejected(sg, from);
      assertEquals(
        field(rec, "errors"),
        `${sg.configPath}:${at.line}:${at.col}: shards.main.balance: ` +
          `expected "round-robin" or "least-pending", got "fastest"`,
      );
      assertEquals(reloadCount(sg), 0);

      // Still the old config: same ports, and the next valid edit applies.
      assertEquals(sg.ports.main, ports);
      from = sg.logs().length;
      await sg.writeConfig(good.replace("    nodes:", "    balance: least-pending\n    nodes:"));
      rec = await reloaded(sg, from);
      assertEquals(field(rec, "changes"), "shard main: balance round-robin→least-pending");
      await assertLoadsClean(loops);
    } finally {
      await Promise.all(loops.map((l) => l.stop()));
    }
  },
);

Deno.test(
  "reload: a listen address another process holds is rejected at bind time, with its position",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    await set.primary.cli("set", "k", "v");
    await set.waitSynced();
    const main = { nodes: set.addresses };
    await using sg = await startShardgate(configYaml({ main }));
    const ports = { ...sg.ports.main };
    const loops = await loads(sg);
    const held = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const heldPort = held.addr.port;
    let heldOpen = true;
    try {
      // A new shard whose readers port is taken: its writer must not stay bound either.
      const clash = configYaml({
        main,
        extra: { readers: `127.0.0.1:${heldPort}`, nodes: main.nodes },
      });
      let at = positionOf(clash, `127.0.0.1:${heldPort}`);
      let from = sg.logs().length;
      await sg.writeConfig(clash);
      let rec = await rejected(sg, from);
      assert(
        new RegExp(
          `^${escapeRe(sg.configPath)}:${at.line}:${at.col}: shards\\.extra\\.readers: ` +
            `cannot listen on 127\\.0\\.0\\.1:${heldPort}: .*in use`,
          "i",
        ).test(field(rec, "errors")),
        field(rec, "errors"),
      );
      assertEquals(sg.ports.extra, undefined);

      // An existing shard's listener moved onto the taken port: it stays where it was.
      const moved = configYaml({ main: { ...main, readers: `127.0.0.1:${heldPort}` } });
      at = positionOf(moved, `127.0.0.1:${heldPort}`);
      from = sg.logs().length;
      await sg.writeConfig(moved);
      rec = await rejected(sg, from);
      assert(
        field(rec, "errors").startsWith(
          `${sg.configPath}:${at.line}:${at.col}: shards.main.readers: cannot listen on 127.0.0.1:${heldPort}: `,
        ),
        field(rec, "errors"),
      );
      assertEquals(reloadCount(sg), 0);
      const c = await redisClient(ports.readers);
      assertEquals(await c.get("k"), "v");
      closeClient(c);
      await loops[0].waitForOk(300);
      assertClean(await loops[0].stop(), "readers");

      // Once the port is free, SIGHUP applies the same file: the listener moves there.
      held.close();
      heldOpen = false;
      from = sg.logs().length;
      sg.signal("SIGHUP");
      rec = await reloaded(sg, from);
      assertEquals(field(rec, "changes"), `shard main: readers 127.0.0.1:0→127.0.0.1:${heldPort}`);
      await sg.waitForLog(
        (l) => l.msg === "listening" && l.shard === "main" && l.role === "readers",
        5_000,
        { from },
      );
      assertEquals(sg.ports.main.readers, heldPort);
      const d = await redisClient(heldPort);
      assertEquals(await d.get("k"), "v");
      closeClient(d);
      // The writer did not move: its clients were never touched.
      assertClean(await loops[1].stop(), "writer");
    } finally {
      if (heldOpen) held.close();
      await Promise.all(loops.map((l) => l.stop()));
    }
  },
);

Deno.test("reload: a rejected rename gives the ports back to the running shard", E2E, async () => {
  await using set = await startReplicaSet({ replicas: 1 });
  await set.primary.cli("set", "k", "v");
  await set.waitSynced();
  const [p1, p2] = await freePorts(2);
  const main = { readers: `127.0.0.1:${p1}`, writer: `127.0.0.1:${p2}`, nodes: set.addresses };
  await using sg = await startShardgate(configYaml({ main }));
  const loops = await loads(sg);
  const held = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    // `users` takes main's sockets over, then `extra` cannot bind: all undone.
    const from = sg.logs().length;
    await sg.writeConfig(configYaml({
      users: main,
      extra: { readers: `127.0.0.1:${held.addr.port}`, nodes: main.nodes },
    }));
    const rec = await rejected(sg, from);
    assert(
      field(rec, "errors").includes("shards.extra.readers: cannot listen"),
      field(rec, "errors"),
    );
    // New clients still reach `main` on both ports; its clients never noticed.
    const r = await redisClient(p1);
    const w = await redisClient(p2);
    try {
      assertEquals(await r.get("k"), "v");
      assertEquals(await w.set("k", "v"), "OK");
    } finally {
      closeClient(r);
      closeClient(w);
    }
    await assertLoadsClean(loops);
  } finally {
    held.close();
    await Promise.all(loops.map((l) => l.stop()));
  }
});
