/**
 * End-to-end: what triggers a reload. The watcher follows an editor's
 * rename-over and a symlink re-pointed to a new file (also into another
 * directory); SIGHUP reloads a change the watcher cannot see; a burst of
 * edits ends in the last config, applied once per debounce window. The
 * shard's clients never notice.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { dirname } from "node:path";
import {
  closeClient,
  delay,
  type LoadLoop,
  loadLoop,
  redisClient,
  type ShardgateProcess,
  startReplicaSet,
  startShardgate,
  waitFor,
} from "./helpers/mod.ts";
import {
  assertClean,
  configYaml,
  E2E,
  field,
  refuses,
  reloadCount,
  reloaded,
  type ShardSpec,
} from "./_reload_helpers.ts";
import { CONFIG_RELOAD_DEBOUNCE_MS } from "../config/defaults.ts";

/** Reads of `k` (must be "v") on the main shard's readers port. */
async function readLoad(sg: ShardgateProcess): Promise<LoadLoop> {
  const reads = await loadLoop({
    port: sg.ports.main.readers,
    op: async (c) => {
      const v = await c.get("k");
      if (v !== "v") throw new Error(`GET k gave ${v}`);
    },
  });
  await reads.waitForOk(200);
  return reads;
}

/** The main shard on `nodes`, plus a shard `name` (readers only) on the same nodes. */
function withShard(nodes: string[], name: string | null): string {
  const shards: Record<string, ShardSpec> = { main: { nodes } };
  if (name !== null) shards[name] = { nodes, writer: null };
  return configYaml(shards);
}

/** Asserts that the shard `name`'s readers port answers GET k with "v". */
async function assertServes(sg: ShardgateProcess, name: string): Promise<void> {
  const port = sg.ports[name]?.readers;
  assert(port !== undefined, `shard ${name} never logged its port`);
  const c = await redisClient(port);
  try {
    assertEquals(await c.get("k"), "v");
  } finally {
    closeClient(c);
  }
}

/** Waits for the `listening` line of shard `name` logged at or after `from`. */
async function listening(sg: ShardgateProcess, name: string, from: number): Promise<void> {
  await sg.waitForLog((l) => l.msg === "listening" && l.shard === name, 5_000, { from });
}

Deno.test("reload: a config replaced by rename is picked up", E2E, async () => {
  await using set = await startReplicaSet({ replicas: 1 });
  await set.primary.cli("set", "k", "v");
  await set.waitSynced();
  await using sg = await startShardgate(withShard(set.addresses, null));
  await using reads = await readLoad(sg);

  const from = sg.logs().length;
  await sg.writeConfig(withShard(set.addresses, "renamed"), { rename: true });
  const rec = await reloaded(sg, from);
  assertEquals(field(rec, "changes"), "+shard renamed");
  await listening(sg, "renamed", from);
  await assertServes(sg, "renamed");
  assertClean(await reads.stop(), "readers");
});

Deno.test(
  "reload: a re-pointed symlink is picked up, also into another directory",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    await set.primary.cli("set", "k", "v");
    await set.waitSynced();
    // shardgate runs with --config <dir>/shardgate.yaml -> <dir>/v1/shardgate.yaml
    const dir = await Deno.makeTempDir({ prefix: "shardgate-reload-link-" });
    try {
      const link = `${dir}/shardgate.yaml`;
      const version = async (name: string, yaml: string): Promise<string> => {
        await Deno.mkdir(`${dir}/${name}`);
        await Deno.writeTextFile(`${dir}/${name}/shardgate.yaml`, yaml);
        return `${name}/shardgate.yaml`;
      };
      /** Re-points the link atomically (a new link renamed over it), as deploy tools do. */
      const repoint = async (target: string) => {
        const tmp = `${link}.tmp`;
        await Deno.symlink(target, tmp);
        await Deno.rename(tmp, link);
      };
      await Deno.symlink(await version("v1", withShard(set.addresses, null)), link);
      // The later --config wins: the harness's own file is a decoy.
      await using sg = await startShardgate(withShard(set.addresses, "decoy"), {
        args: ["--config", link],
      });
      assertEquals(sg.ports.decoy, undefined);
      await using reads = await readLoad(sg);

      let from = sg.logs().length;
      await repoint(await version("v2", withShard(set.addresses, "second")));
      let rec = await reloaded(sg, from);
      assertEquals(field(rec, "changes"), "+shard second");
      await listening(sg, "second", from);
      await assertServes(sg, "second");

      // Again, to a file in yet another directory: the watcher follows the target.
      from = sg.logs().length;
      await repoint(await version("v3", withShard(set.addresses, "third")));
      rec = await reloaded(sg, from);
      assertEquals(field(rec, "changes"), "+shard third; -shard second");
      await listening(sg, "third", from);
      await assertServes(sg, "third");

      // And an edit of the current target in place.
      from = sg.logs().length;
      await Deno.writeTextFile(`${dir}/v3/shardgate.yaml`, withShard(set.addresses, "fourth"));
      rec = await reloaded(sg, from);
      assertEquals(field(rec, "changes"), "+shard fourth; -shard third");
      assertClean(await reads.stop(), "readers");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("reload: SIGHUP reloads a change the watcher did not see", E2E, async () => {
  await using set = await startReplicaSet({ replicas: 1 });
  await set.primary.cli("set", "k", "v");
  await set.waitSynced();
  await using sg = await startShardgate(withShard(set.addresses, null));
  await using reads = await readLoad(sg);
  // A hard link in another directory writes the same file without an
  // event in the directory shardgate watches.
  const other = await Deno.makeTempDir({ prefix: "shardgate-reload-hup-" });
  try {
    const alias = `${other}/alias.yaml`;
    await Deno.link(sg.configPath, alias);
    // The premise, checked on the kernel's own events rather than by waiting
    // out shardgate's debounce: one watcher on the config's directory (what
    // shardgate watches) and on `other`. Events of one watcher arrive in
    // order, so once a sentinel written after the edit is reported, any event
    // the edit caused in the config's directory has been reported too.
    const watchedDir = dirname(sg.configPath);
    const events: Deno.FsEvent[] = [];
    const fsw = Deno.watchFs([watchedDir, other], { recursive: false });
    const pump = (async () => {
      for await (const e of fsw) events.push(e);
    })();
    try {
      await Deno.writeTextFile(alias, withShard(set.addresses, "hup"));
      const sentinel = `${other}/sentinel`;
      await Deno.writeTextFile(sentinel, "");
      await waitFor(() => events.some((e) => e.paths.includes(sentinel)), {
        timeoutMs: 5000,
        intervalMs: 10,
        message: "the sentinel's event",
      });
    } finally {
      fsw.close();
      await pump;
    }
    assertEquals(await Deno.readTextFile(sg.configPath), withShard(set.addresses, "hup"));
    assert(
      events.some((e) => e.paths.includes(alias)),
      "no event for the alias: the test's watcher saw nothing",
    );
    assertEquals(
      events.filter((e) => e.paths.some((p) => dirname(p) === watchedDir)),
      [],
      "the edit was reported in the watched directory; this test proves nothing",
    );
    assertEquals(reloadCount(sg), 0);

    const from = sg.logs().length;
    sg.signal("SIGHUP");
    const rec = await reloaded(sg, from);
    assertEquals(field(rec, "changes"), "+shard hup");
    const recs = sg.records();
    const hup = recs.findIndex((l, i) => i >= from && l.msg === "SIGHUP: reloading");
    assert(hup >= from && hup < recs.indexOf(rec), "no SIGHUP line before the reload");
    await listening(sg, "hup", from);
    await assertServes(sg, "hup");
    assertClean(await reads.stop(), "readers");
  } finally {
    await Deno.remove(other, { recursive: true });
  }
});

Deno.test(
  "reload: ten edits in one second end in the last config, in few reloads",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    await set.primary.cli("set", "k", "v");
    await set.waitSynced();
    await using sg = await startShardgate(withShard(set.addresses, null));
    await using reads = await readLoad(sg);

    const from = sg.logs().length;
    for (let i = 0; i < 10; i++) {
      await sg.writeConfig(withShard(set.addresses, `edit${i}`));
      // The scenario's pace (edits half a debounce apart), not a wait for anything.
      await delay(CONFIG_RELOAD_DEBOUNCE_MS / 2);
    }
    // The last edit's shard appears; no other edit's shard is left.
    await sg.waitForLog((l) => l.msg === "listening" && l.shard === "edit9", 5_000, { from });
    const reloads = sg.records().slice(from).filter((l) => l.msg === "config reloaded");
    const changes = reloads.map((l) => field(l, "changes"));
    assert(reloads.length >= 1 && reloads.length <= 3, `${reloads.length} reloads: ${changes}`);
    assert(changes[changes.length - 1].startsWith("+shard edit9"), changes.join(" | "));
    await assertServes(sg, "edit9");
    for (let i = 0; i < 9; i++) {
      const port = sg.ports[`edit${i}`]?.readers;
      if (port !== undefined) assert(await refuses(port), `edit${i}'s port still accepts`);
    }
    assertClean(await reads.stop(), "readers");
  },
);
