/**
 * Tests of the end-to-end test harness itself (tests/helpers): real
 * redis-server processes, replica sets, a stand-in shardgate, clients and
 * load loops.
 */

import assert from "node:assert/strict";
import {
  closeClient,
  liveCount,
  loadLoop,
  parseLogLine,
  ping,
  redisClient,
  startRedis,
  startReplicaSet,
  startShardgate,
  stopAll,
  waitFor,
  withClients,
} from "./helpers/mod.ts";

/** True once no process with `pid` exists (it exited and was reaped). */
function pidGone(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return false;
  } catch {
    return true;
  }
}

/** The one-letter state of `pid` from /proc (R, S, T, ...). */
function pidState(pid: number): string {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("startReplicaSet() comes up synced and replicates a SET to every replica", async () => {
  await using set = await startReplicaSet({ replicas: 2 });
  assert.equal(set.replicas.length, 2);
  assert.equal(set.nodes.length, 3);
  assert.equal((await set.primary.info()).role, "master");
  for (const r of set.replicas) {
    const info = await r.info();
    assert.equal(info.role, "slave");
    assert.equal(info.master_link_status, "up");
    assert.equal(info.master_port, String(set.primary.port));
  }
  assert.equal(await set.primary.cli("SET", "greeting", "hello"), "OK");
  await set.waitSynced();
  for (const r of set.replicas) assert.equal(await r.cli("GET", "greeting"), "hello");
});

Deno.test("RedisProcess.kill() ends the process and restart() brings it back on the same port", async () => {
  await using redis = await startRedis();
  const firstPid = redis.pid;
  assert.ok(await ping(redis.port));
  await redis.kill();
  assert.equal(redis.running, false);
  assert.ok(pidGone(firstPid), "killed pid still exists");
  assert.equal(await ping(redis.port), false);
  await redis.restart();
  assert.ok(redis.running);
  assert.notEqual(redis.pid, firstPid);
  assert.equal(await redis.cli("PING"), "PONG");
});

Deno.test("RedisProcess.pause() freezes the server and resume() unfreezes it", async () => {
  await using redis = await startRedis();
  redis.pause();
  await waitFor(() => pidState(redis.pid) === "T", { message: "state T (stopped)" });
  assert.equal(await ping(redis.port), false, "a paused server answered PING");
  redis.resume();
  await waitFor(() => ping(redis.port), { message: "PONG after resume" });
  assert.notEqual(pidState(redis.pid), "T");
});

Deno.test("RedisProcess.restart({ wipe: true }) comes back without the data a plain restart keeps", async () => {
  await using redis = await startRedis();
  await redis.cli("SET", "k", "v");
  assert.equal(await redis.cli("SAVE"), "OK");
  await redis.restart();
  assert.equal(await redis.cli("GET", "k"), "v", "a plain restart loads the RDB in its dir");
  await redis.restart({ wipe: true });
  assert.equal(await redis.cli("GET", "k"), "");
  assert.equal(await redis.cli("DBSIZE"), "0");
});

Deno.test("a replica restarted with a wiped dir resyncs in full from the primary", async () => {
  await using set = await startReplicaSet({ replicas: 1 });
  const [replica] = set.replicas;
  for (let i = 0; i < 100; i++) await set.primary.cli("SET", `key:${i}`, String(i));
  await set.waitSynced();
  const fullSyncs = Number((await set.primary.info("stats")).sync_full);
  await replica.restart({ wipe: true });
  await set.waitSynced();
  assert.equal(await replica.cli("DBSIZE"), "100");
  assert.equal(await replica.cli("GET", "key:42"), "42");
  assert.ok(Number((await set.primary.info("stats")).sync_full) > fullSyncs, "no new full sync");
});

Deno.test("ReplicaSet.failover() promotes a replica and re-points the others", async () => {
  await using set = await startReplicaSet({ replicas: 2 });
  const next = set.replicas[1];
  const old = set.primary;
  await set.failover(next);
  assert.equal(set.primary, next);
  assert.ok(set.replicas.includes(old));
  assert.equal((await next.info()).role, "master");
  await waitFor(async () => (await old.info()).master_link_status === "up", {
    message: "old primary replicating",
  });
  await set.waitSynced();
  await next.cli("SET", "after", "failover");
  await set.waitSynced();
  for (const r of set.replicas) assert.equal(await r.cli("GET", "after"), "failover");
  // a restart keeps the new role
  await old.restart();
  assert.equal((await old.info()).master_port, String(next.port));
});

Deno.test("RedisProcess.stop() of a paused server leaves no process and no temp dir, and is idempotent", async () => {
  const before = liveCount();
  const redis = await startRedis();
  assert.equal(liveCount(), before + 1);
  const pid = redis.pid;
  redis.pause();
  await redis.stop();
  await redis.stop();
  assert.ok(pidGone(pid), "pid survived stop()");
  assert.equal(exists(redis.tempDir), false, "temp dir survived stop()");
  assert.equal(liveCount(), before);
});

Deno.test("stopAll() stops processes a test did not stop", async () => {
  const set = await startReplicaSet({ replicas: 1 });
  const pids = set.nodes.map((n) => n.pid);
  await stopAll();
  assert.equal(liveCount(), 0);
  for (const pid of pids) assert.ok(pidGone(pid), `pid ${pid} survived stopAll()`);
  await set.stop(); // still safe afterwards
});

Deno.test("startRedis() fails clearly when redis-server cannot start", async () => {
  await using taken = await startRedis();
  await assert.rejects(
    startRedis({ port: taken.port }),
    /startRedis failed: .*exited during startup/s,
  );
  await assert.rejects(
    startRedis({ args: ["--no-such-option", "1"] }),
    /Bad directive|no-such-option/,
  );
  assert.equal(liveCount(), 1);
});

Deno.test("redisClient() speaks RESP2 and RESP3 and withClients() closes every client", async () => {
  await using redis = await startRedis();
  const c2 = await redisClient(redis.port);
  const c3 = await redisClient(redis.port, { resp: 3 });
  try {
    await c2.set("a", "1");
    assert.equal(await c3.get("a"), "1");
    // RESP3 replies a map (an object by default), RESP2 a flat array
    const hello3 = await c3.sendCommand<Record<string, unknown>>(["HELLO"]);
    assert.equal(hello3.proto, 3);
    const hello2 = await c2.sendCommand<unknown[]>(["HELLO"]);
    assert.equal(hello2[hello2.indexOf("proto") + 1], 2);
  } finally {
    closeClient(c2);
    closeClient(c3);
  }
  let seen: boolean[] = [];
  const values = await withClients(3, redis.port, async (clients) => {
    seen = clients.map((c) => c.isOpen);
    return await Promise.all(clients.map((c) => c.get("a")));
  });
  assert.deepEqual(values, ["1", "1", "1"]);
  assert.deepEqual(seen, [true, true, true]);
});

Deno.test("loadLoop() counts zero failures on a healthy server and every failure on a dead one", async () => {
  await using redis = await startRedis();
  await redis.cli("SET", "k", "v");
  const op = async (c: Awaited<ReturnType<typeof redisClient>>) => {
    const v = await c.get("k");
    if (v !== "v") throw new Error(`wrong value ${v}`);
  };

  const healthy = await loadLoop({ port: redis.port, clients: 4, op });
  await healthy.waitForOk(200);
  const ok = await healthy.stop();
  assert.equal(ok.failed, 0);
  assert.ok(ok.ok >= 200);
  assert.deepEqual(ok.errors, []);

  const load = await loadLoop({ port: redis.port, clients: 4, op });
  try {
    await load.waitForOk(100);
    await redis.kill();
    await waitFor(() => load.stats().failed >= 4, { message: "failures after kill" });
    await redis.restart();
    await redis.cli("SET", "k", "v");
    await load.waitForOk(100);
  } finally {
    const s = await load.stop();
    assert.ok(s.failed >= 4, `failed ${s.failed}`);
    assert.ok(s.reconnects >= 4, `reconnects ${s.reconnects}`);
    assert.ok(s.errors.length > 0);
    assert.equal(Object.values(s.errorCounts).reduce((a, b) => a + b, 0), s.failed);
  }
});

Deno.test("loadLoop().stop() returns while the server is paused, without counting the abandoned operations", async () => {
  await using redis = await startRedis();
  const load = await loadLoop({
    port: redis.port,
    clients: 2,
    op: async (c) => void await c.ping(),
    stopTimeoutMs: 200,
  });
  await load.waitForOk(20);
  redis.pause();
  await waitFor(() => pidState(redis.pid) === "T", { message: "state T (stopped)" });
  // replies computed before the stop may still arrive; wait until the count stalls
  let last = -1;
  await waitFor(() => {
    const ok = load.stats().ok;
    const stalled = ok === last;
    last = ok;
    return stalled;
  }, { intervalMs: 50, message: "operations stuck on the paused server" });
  const t0 = Date.now();
  const s = await load.stop();
  const took = Date.now() - t0;
  redis.resume();
  assert.ok(took >= 150, `stop() returned after ${took} ms although operations were stuck`);
  assert.ok(s.ok >= 20);
  assert.equal(s.failed, 0);
});

Deno.test("waitFor() throws a clear error at the deadline", async () => {
  await assert.rejects(
    waitFor(() => false, { timeoutMs: 50, intervalMs: 10, message: "the impossible" }),
    /timed out after 50 ms waiting for the impossible/,
  );
  await assert.rejects(
    waitFor(() => {
      throw new Error("boom");
    }, { timeoutMs: 30 }),
    /last error: boom/,
  );
  let n = 0;
  await waitFor(() => ++n >= 3, { intervalMs: 1 });
  assert.equal(n, 3);
});

Deno.test("parseLogLine() reads JSON lines, text lines and anything else", () => {
  assert.deepEqual(
    parseLogLine(
      '{"time":"t","level":"info","msg":"listening","shard":"users","role":"readers","address":"127.0.0.1:5"}',
    ),
    {
      time: "t",
      level: "info",
      msg: "listening",
      shard: "users",
      role: "readers",
      address: "127.0.0.1:5",
    },
  );
  assert.deepEqual(
    parseLogLine(
      '2024-01-01T00:00:00.000Z INFO  node state changed node=127.0.0.1:7001 from=up to="ejected now"',
    ),
    {
      time: "2024-01-01T00:00:00.000Z",
      level: "info",
      msg: "node state changed",
      node: "127.0.0.1:7001",
      from: "up",
      to: "ejected now",
    },
  );
  assert.deepEqual(parseLogLine("error: Uncaught Error: x"), {
    level: "raw",
    msg: "error: Uncaught Error: x",
  });
});

/** A stand-in for main.ts that honours the log contract (listening lines, ready). */
const STAND_IN = `
const args = Deno.args;
const format = args[args.indexOf("--log-format") + 1];
const config = Deno.readTextFileSync(args[args.indexOf("--config") + 1]);
if (config.includes("fail")) {
  console.error(JSON.stringify({ level: "error", msg: "bad config" }));
  Deno.exit(2);
}
function log(msg, fields) {
  const time = new Date().toISOString();
  if (format === "json") {
    console.error(JSON.stringify({ time, level: "info", msg, ...fields }));
  } else {
    console.error(time + " INFO  " + msg + Object.entries(fields).map(([k, v]) => " " + k + "=" + v).join(""));
  }
}
// Signal handlers first, as shardgate installs them: a SIGHUP right after
// "ready" must reload, not kill the process.
Deno.addSignalListener("SIGHUP", () => log("reloaded", { ok: true }));
Deno.addSignalListener("SIGTERM", () => { log("stopping", {}); Deno.exit(0); });
const listeners = [];
for (const [shard, role] of [["users", "readers"], ["users", "writer"], ["orders", "readers"], [undefined, "admin"]]) {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  listeners.push(l);
  (async () => {
    for await (const conn of l) conn.close();
  })();
  log("listening", { ...(shard ? { shard } : {}), role, address: "127.0.0.1:" + l.addr.port });
}
log("ready", {});
`;

async function withStandIn(fn: (entry: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "shardgate-standin-" });
  try {
    await Deno.writeTextFile(`${dir}/main.js`, STAND_IN);
    await fn(`${dir}/main.js`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("startShardgate() reads the bound ports from the listening lines and stops cleanly", async () => {
  await withStandIn(async (entry) => {
    const sg = await startShardgate("shards: {}\n", { entry });
    try {
      assert.ok(sg.ports.users.readers > 0);
      assert.ok((sg.ports.users.writer ?? 0) > 0);
      assert.ok(sg.ports.orders.readers > 0);
      assert.equal(sg.ports.orders.writer, undefined);
      assert.ok((sg.adminPort ?? 0) > 0);
      assert.equal(Deno.readTextFileSync(sg.configPath), "shards: {}\n");
      // the ports are really bound by the child
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: sg.ports.users.readers });
      conn.close();

      const from = sg.logs().length;
      sg.signal("SIGHUP");
      const line = await sg.waitForLog((l) => l.msg === "reloaded", 10_000, { from });
      assert.equal(line.ok, true);
      await sg.writeConfig("shards: { x: 1 }\n", { rename: true });
      assert.equal(Deno.readTextFileSync(sg.configPath), "shards: { x: 1 }\n");
      await assert.rejects(
        sg.waitForLog((l) => l.msg === "never", 50),
        /no matching log line within 50 ms/,
      );
    } finally {
      await sg.stop();
      await sg.stop();
    }
    assert.ok(pidGone(sg.pid));
    assert.equal(exists(sg.tempDir), false);
    assert.equal((await sg.exited).code, 0);
    assert.ok(sg.records().some((l) => l.msg === "stopping"), "SIGTERM first");
  });
});

Deno.test("startShardgate() parses text logs and rejects with the log when the process exits early", async () => {
  await withStandIn(async (entry) => {
    await using sg = await startShardgate("shards: {}\n", {
      entry,
      logFormat: "text",
      logLevel: "info",
    });
    assert.ok(sg.ports.users.readers > 0);
    assert.ok((sg.adminPort ?? 0) > 0);

    const before = liveCount();
    await assert.rejects(startShardgate("fail\n", { entry }), /exited \(code 2\).*bad config/s);
    assert.equal(liveCount(), before);
  });
});
