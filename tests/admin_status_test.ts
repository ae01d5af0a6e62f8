/**
 * End-to-end: the admin port's plain endpoints against real redis-server
 * processes: /healthz, /status (facts, never a secret), /readyz flipping
 * with the only replica under `fallback: none`, and a reload that moves the
 * admin port.
 */

import { deepStrictEqual as assertEquals, match, ok as assert } from "node:assert/strict";
import {
  closeClient,
  redisClient,
  startReplicaSet,
  startShardgate,
  waitFor,
} from "./helpers/mod.ts";
import { adminGet, adminPort, adminYaml, E2E, SHARD, statusDoc } from "./_admin_helpers.ts";
import { reloaded, waitRefused } from "./_reload_helpers.ts";
import { VERSION } from "../version.ts";

const SECRET = "s3cret-client-pw-4711";

Deno.test(
  "admin e2e: /healthz, /status with nodes and sessions, and no secret anywhere",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    await using sg = await startShardgate(
      adminYaml(set.addresses, { shard: [`client_password: "\${TEST_CLIENT_PW}"`] }),
      { env: { TEST_CLIENT_PW: SECRET } },
    );
    const port = adminPort(sg);
    assertEquals(await adminGet(port, "/healthz"), {
      status: 200,
      body: "ok\n",
      type: "text/plain; charset=utf-8",
    });
    const client = await redisClient(sg.ports[SHARD].readers, { password: SECRET });
    try {
      assertEquals(await client.ping(), "PONG");
      const doc = await statusDoc(port);
      assertEquals(doc.version, VERSION);
      assertEquals(doc.ready, true);
      assertEquals(doc.config.file, sg.configPath);
      assertEquals(doc.config.lastReload, null);
      const shard = doc.shards.find((s) => s.name === SHARD)!;
      assertEquals(shard.listeners.map((l) => l.role), ["readers", "writer"]);
      assertEquals(shard.listeners[0].address, `127.0.0.1:${sg.ports[SHARD].readers}`);
      assertEquals(shard.primary, set.primary.address);
      assertEquals(shard.sessions.resp2 + shard.sessions.resp3, 1, "the one client");
      assertEquals(doc.sessions.resp2 + doc.sessions.resp3, 1);
      const byId = new Map(shard.nodes.map((n) => [n.id, n]));
      const p = byId.get(set.primary.address)!;
      const r = byId.get(set.replicas[0].address)!;
      assertEquals([p.role, p.state, p.servesReads], ["primary", "up", false]);
      assertEquals([r.role, r.state, r.servesReads, r.weight], ["replica", "up", true, 1]);
      assert(r.lagMs !== null && r.lagMs >= 0, `lag ${r.lagMs}`);
      assert(r.checkLatencyMs !== null && r.lastCheckAt !== null);
      assert(r.connections.resp2 + r.connections.resp3 >= 1, "the PING opened a node connection");
      for (const path of ["/", "/status", "/metrics", "/readyz"]) {
        const body = (await adminGet(port, path)).body;
        assert(!body.includes(SECRET), `${path} shows the client password`);
      }
    } finally {
      closeClient(client);
    }
    assertEquals((await adminGet(port, "/nope")).status, 404);
    assertEquals((await adminGet(port, "/status", { method: "POST" })).status, 405);
  },
);

Deno.test(
  "admin e2e: /readyz turns 503 with the reason when the only replica dies (fallback: none), 200 when it is back",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    await using sg = await startShardgate(adminYaml(set.addresses, { shard: ["fallback: none"] }));
    const port = adminPort(sg);
    assertEquals(await adminGet(port, "/readyz"), {
      status: 200,
      body: "ready\n",
      type: "text/plain; charset=utf-8",
    });
    const replica = set.replicas[0];
    await replica.kill("SIGKILL");
    let last = { status: 0, body: "" };
    await waitFor(async () => (last = await adminGet(port, "/readyz")).status === 503, {
      timeoutMs: 5000,
      message: "/readyz to answer 503",
    });
    match(
      last.body,
      /^not ready:\n- shard main: readers port has no serving node: .*fallback is none/,
    );
    const doc = await statusDoc(port);
    assertEquals(doc.ready, false);
    assertEquals(doc.notReady.length, 1, doc.notReady.join("; "));
    assertEquals(doc.shards[0].nodes.find((n) => n.id === replica.address)?.servesReads, false);
    await waitFor(async () => {
      const n = (await statusDoc(port)).shards[0].nodes.find((n) => n.id === replica.address);
      return n?.state === "down";
    }, { timeoutMs: 5000, message: "the replica shown down" });

    await replica.restart();
    await set.waitSynced();
    await waitFor(async () => (await adminGet(port, "/readyz")).status === 200, {
      timeoutMs: 10_000,
      message: "/readyz to answer 200 again",
    });
    assertEquals((await statusDoc(port)).ready, true);
  },
);

Deno.test(
  "admin e2e: a reload moves the admin port; the old one closes, the status shows the reload",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    await using sg = await startShardgate(adminYaml(set.addresses));
    const oldPort = adminPort(sg);
    // SIGHUP after each write: right after `ready` the file watcher may not
    // see a change yet (it may reload too, later, and find no change).
    const from = sg.logs().length;
    await sg.writeConfig(adminYaml(set.addresses, { shard: ["retries: 1"] }));
    sg.signal("SIGHUP");
    match(String((await reloaded(sg, from)).changes), /retries/);
    assertEquals(adminPort(sg), oldPort, "an unchanged admin address keeps its server");
    const doc = await statusDoc(oldPort);
    assert(doc.config.reloads.applied >= 1);
    assertEquals(doc.config.lastReload?.ok, true);

    const from2 = sg.logs().length;
    await sg.writeConfig(adminYaml(set.addresses, { admin: "localhost:0", shard: ["retries: 1"] }));
    sg.signal("SIGHUP");
    await sg.waitForLog((l) => l.msg === "listening" && l.role === "admin", 10_000, {
      from: from2,
    });
    const newPort = adminPort(sg);
    assert(newPort !== oldPort, "a new admin listener");
    assertEquals((await adminGet(newPort, "/healthz")).status, 200);
    await waitRefused(oldPort);

    const from3 = sg.logs().length;
    await sg.writeConfig("shards: {\n");
    sg.signal("SIGHUP");
    await sg.waitForLog((l) => l.msg === "config rejected; the running config stays", 10_000, {
      from: from3,
    });
    const after = await statusDoc(newPort);
    assert(after.config.reloads.rejected >= 1);
    assertEquals(after.config.lastReload?.ok, false);
    match(after.config.lastReload?.errors.join("\n") ?? "", /YAML/);
  },
);
