/**
 * ShardHealth against real redis-server processes: a primary and two
 * replicas on free ports, checked every 100 ms (rise 2, fall 2).
 */
import assert from "node:assert/strict";
import { type HealthEvent, ShardHealth } from "./shard_health.ts";
import type { NodeSnapshot, RouteUpdate } from "./state.ts";
import type { TlsConfig } from "../config/types.ts";
import {
  freePort,
  type RedisProcess,
  type ReplicaSet,
  startRedis,
  startReplicaSet,
  waitFor,
} from "../tests/helpers/mod.ts";
import {
  captureLogger,
  elapsedMs,
  FakeClock,
  localNode,
  nodeOf,
  testShard,
  type TestShardOverrides,
} from "./_test_helpers.ts";

const INTERVAL = 100;
const FALL = 2;

/** The health node id of a redis-server process. */
const id = (p: RedisProcess): string => nodeOf(p).id;

interface Harness {
  set: ReplicaSet;
  health: ShardHealth;
  changes: { at: number; routes: RouteUpdate }[];
  lines: Record<string, unknown>[];
  node(id: string): NodeSnapshot;
}

/**
 * Starts a primary and replicas (with `keys` keys on every node) and a
 * ShardHealth on them, runs `body`, stops everything.
 */
async function withCluster(
  opts: { keys?: number; shard?: TestShardOverrides; now?: () => number },
  body: (h: Harness) => void | Promise<void>,
): Promise<void> {
  await using set = await startReplicaSet({
    primaryArgs: ["--enable-debug-command", "local"],
  });
  if ((opts.keys ?? 0) > 0) {
    // DEBUG POPULATE is not replicated: restarted empty, the replicas
    // full-sync the keys.
    assert.equal(
      await set.primary.cli("DEBUG", "POPULATE", String(opts.keys), "key", "64"),
      "OK",
    );
    for (const r of set.replicas) await r.restart({ wipe: true });
    await set.waitSynced();
  }
  const { logger, lines } = captureLogger();
  const changes: Harness["changes"] = [];
  const health = new ShardHealth(testShard(set.nodes.map(nodeOf), opts.shard), {
    logger,
    onChange: (routes) => changes.push({ at: Date.now(), routes }),
    ...(opts.now === undefined ? {} : { now: opts.now }),
  });
  try {
    await health.start();
    await body({
      set,
      health,
      changes,
      lines,
      node: (id) => health.snapshot().find((n) => n.id === id)!,
    });
  } finally {
    await health.stop();
  }
}

Deno.test("ShardHealth.start() learns the primary and the serving replicas from real nodes", async () => {
  await withCluster({}, ({ set, health, changes, node }) => {
    const [r1, r2] = set.replicas;
    const expected = { readers: [id(r1), id(r2)], primary: id(set.primary), primaryProblem: null };
    assert.deepEqual(health.routes(), expected);
    assert.deepEqual(
      changes.map((c) => c.routes),
      [expected],
      "one onChange, after the first round",
    );
    const p = node(id(set.primary));
    assert.equal(p.role, "master");
    assert.equal(p.status, "up");
    assert.equal(p.connectedReplicas, 2);
    const r = node(id(r1));
    assert.equal(r.role, "replica");
    assert.equal(r.linkUp, true);
    assert.equal(r.servesReads, true);
    assert.ok(r.lagMs !== null && r.lagMs <= 1000, `lag ${r.lagMs}`);
    assert.ok(r.lastCheckMs !== null && r.lastCheckMs < 300);
  });
});

Deno.test("ShardHealth drops a SIGKILLed replica within fall x interval and takes it back after rise checks", async () => {
  await withCluster({}, async ({ set, health, changes, node, lines }) => {
    const [r1, r2] = set.replicas;
    const logged = lines.length;
    await r1.kill("SIGKILL");
    const killedAt = Date.now();
    const gone = await elapsedMs(() =>
      waitFor(() => !health.routes().readers.includes(id(r1)), {
        timeoutMs: 3000,
        intervalMs: 5,
        message: "r1 out of readers",
      })
    );
    assert.ok(gone <= FALL * INTERVAL + 150, `left the readers after ${gone}ms`);
    assert.deepEqual(changes.at(-1)?.routes.readers, [id(r2)], "onChange told the proxy");
    await waitFor(() => node(id(r1)).status === "down", {
      timeoutMs: FALL * INTERVAL + 1000,
      intervalMs: 10,
      message: "r1 down",
    });
    assert.equal(health.routes().primary, id(set.primary));

    await r1.restart({ wipe: true });
    await waitFor(() => health.routes().readers.includes(id(r1)), {
      timeoutMs: 10_000,
      intervalMs: 10,
      message: "r1 back in readers",
    });
    assert.deepEqual(health.routes().readers, [id(r1), id(r2)]);
    const ups = lines.slice(logged).filter((l) =>
      l.msg === "node status changed" && l.node === id(r1)
    );
    assert.deepEqual(ups.map((l) => l.to), ["down", "up"]);
    // Between the kill and its return, no route update listed r1.
    const back = changes.findIndex((c) => c.at >= killedAt && c.routes.readers.includes(id(r1)));
    assert.ok(back > 0);
    assert.ok(
      changes.slice(0, back).filter((c) => c.at >= killedAt).every((c) =>
        !c.routes.readers.includes(id(r1))
      ),
    );
  });
});

Deno.test("ShardHealth keeps a replica restarted EMPTY out of the readers until its full sync finished", async () => {
  const KEYS = 200_000;
  await withCluster({ keys: KEYS }, async ({ set, health }) => {
    const [r1, r2] = set.replicas;
    assert.equal(await r2.cli("DBSIZE"), String(KEYS));
    // The primary waits 2 s before it starts the (diskless) full sync.
    assert.equal(
      await set.primary.cli("CONFIG", "SET", "repl-diskless-sync-delay", "2"),
      "OK",
    );
    await r2.kill("SIGKILL");
    await r2.restart({ wipe: true });
    let gapObserved = 0;
    let gapFirst = 0, gapLast = 0; // when the pre-sync gap was first and last seen
    let syncObserved = 0;
    // What r2 reported right after it was first seen in the readers.
    const atListing: { dbsize?: string; sync?: string } = {};
    await waitFor(
      async () => {
        const listed = health.routes().readers.includes(id(r2));
        const dbsize = await r2.cli("DBSIZE");
        const replication = await r2.info("replication");
        const sync = replication.master_sync_in_progress;
        const link = replication.master_link_status;
        if (listed) {
          atListing.dbsize = dbsize;
          atListing.sync = sync;
          return true;
        }
        if (link === "down" && sync === "0" && dbsize === "0") {
          gapObserved++;
          gapLast = Date.now();
          if (gapFirst === 0) gapFirst = gapLast;
        }
        if (sync === "1" || dbsize.startsWith("LOADING")) syncObserved++;
        return false;
      },
      { timeoutMs: 20_000, intervalMs: 5, message: "r2 back in readers" },
    );
    assert.equal(atListing.dbsize, String(KEYS), "listed before its data was complete");
    assert.equal(atListing.sync, "0", "listed during a full sync");
    // The gap (r2 up, empty, waiting for the delayed sync) lasted ~2 s while it stayed unlisted;
    // how often it was sampled depends on the machine's load, how long it was seen does not.
    assert.ok(
      gapObserved >= 2 && gapLast - gapFirst >= 500,
      `the pre-sync gap was seen ${gapObserved} times over ${gapLast - gapFirst} ms`,
    );
    assert.ok(syncObserved > 0, "the full sync itself was observed");
    assert.deepEqual(health.routes().readers, [id(r1), id(r2)]);
  });
});

Deno.test("ShardHealth switches the writer to the new primary after a failover", async () => {
  await withCluster({}, async ({ set, health }) => {
    const p = set.primary;
    const [r1, r2] = set.replicas;
    assert.equal(health.routes().primary, id(p));
    // REPLICAOF NO ONE on r1, then p and r2 replicate from it (each must answer OK).
    await set.failover(r1);
    const switched = await elapsedMs(() =>
      waitFor(() => health.routes().primary === id(r1), {
        timeoutMs: 5000,
        intervalMs: 5,
        message: "primary is r1",
      })
    );
    assert.ok(switched <= INTERVAL + 300, `switched after ${switched}ms`);
    await set.waitSynced();
    await waitFor(() => {
      const r = health.routes();
      return r.readers.length === 2 && r.readers.includes(id(p)) && r.readers.includes(id(r2));
    }, { timeoutMs: 5000, intervalMs: 10, message: "old primary and r2 serve reads" });
    assert.deepEqual(health.routes(), {
      readers: [id(p), id(r2)],
      primary: id(r1),
      primaryProblem: null,
    });
  });
});

Deno.test("ShardHealth ejects a SIGSTOPped replica at once on reported timeouts; it rejoins after SIGCONT", async () => {
  const shard = { passive: { errors: 5, cooldownMs: 300 } };
  // Cooldowns run on the health clock: a fake one passes the cooldown at once.
  const clock = new FakeClock();
  await withCluster({ shard, now: clock.now }, async ({ set, health, changes, node }) => {
    const [r1, r2] = set.replicas;
    r1.pause();
    try {
      for (let i = 0; i < 4; i++) health.reportError(id(r1), "timeout");
      assert.ok(health.routes().readers.includes(id(r1)), "4 errors are below the limit");
      const before = changes.length;
      health.reportError(id(r1), "timeout");
      // Synchronously: no await between the fifth error and these checks.
      assert.deepEqual(health.routes().readers, [id(r2)]);
      assert.equal(changes.length, before + 1);
      assert.deepEqual(changes.at(-1)?.routes.readers, [id(r2)]);
      assert.equal(node(id(r1)).status, "ejected");
      // The cooldown passes while the node is still paused, and a check runs
      // after it (it times out): the node stays out.
      clock.advance(shard.passive.cooldownMs + 1);
      await waitFor(() => node(id(r1)).lastCheckAt === clock.t, {
        timeoutMs: 5000,
        intervalMs: 10,
        message: "a check of r1 after the cooldown",
      });
      assert.ok(!health.routes().readers.includes(id(r1)));
      assert.equal(node(id(r1)).status, "ejected");
      assert.match(
        node(id(r1)).reason,
        /last: timeout\).*cooldown over, waiting for a passing check/,
      );
    } finally {
      r1.resume();
    }
    const back = await elapsedMs(() =>
      waitFor(() => health.routes().readers.includes(id(r1)), {
        timeoutMs: 5000,
        intervalMs: 10,
        message: "r1 back",
      })
    );
    assert.ok(back < 2000, `rejoined after ${back}ms`);
    assert.equal(node(id(r1)).ejections, 1);
  });
});

Deno.test("ShardHealth checks with AUTH when the nodes require a password", async () => {
  const password = "s3cret-pw";
  await using set = await startReplicaSet({ replicas: 1 });
  // Set once the set is up: the harness's readiness checks send no AUTH.
  // The replica authenticates with masterauth whenever it reconnects.
  for (const r of set.replicas) {
    assert.equal(await r.cli("CONFIG", "SET", "masterauth", password), "OK");
  }
  for (const n of set.nodes) {
    assert.equal(await n.cli("CONFIG", "SET", "requirepass", password), "OK");
  }
  const { logger } = captureLogger();
  const [r1] = set.replicas;
  const make = (auth: { username: string | null; password: string } | null) =>
    new ShardHealth(testShard(set.nodes.map(nodeOf), { auth }), { logger, onChange: () => {} });
  const right = make({ username: null, password });
  const acl = make({ username: "default", password });
  const none = make(null);
  const wrong = make({ username: null, password: "nope" });
  try {
    await Promise.all([right.start(), acl.start(), none.start(), wrong.start()]);
    const good = { readers: [id(r1)], primary: id(set.primary), primaryProblem: null };
    assert.deepEqual(right.routes(), good);
    assert.deepEqual(acl.routes(), good);
    assert.equal(none.routes().primary, null);
    assert.match(none.snapshot()[0].reason, /NOAUTH/);
    assert.equal(wrong.snapshot()[0].status, "down");
    assert.match(wrong.snapshot()[0].reason, /AUTH refused: WRONGPASS/);
    assert.ok(!wrong.snapshot()[0].reason.includes("nope"), "the password is never shown");
  } finally {
    await Promise.all([right.stop(), acl.stop(), none.stop(), wrong.stop()]);
  }
});

Deno.test("ShardHealth.update(): a removed node leaves at once, an added node joins after rise checks", async () => {
  await withCluster({}, async ({ set, health, changes }) => {
    const p = set.primary;
    const [r1, r2] = set.replicas;
    health.update(testShard([nodeOf(p), nodeOf(r2)]));
    assert.deepEqual(health.routes().readers, [id(r2)]);
    assert.deepEqual(changes.at(-1)?.routes.readers, [id(r2)]);
    const t0 = Date.now();
    health.update(testShard([nodeOf(p), nodeOf(r1), nodeOf(r2)]));
    assert.deepEqual(health.routes().readers, [id(r2)], "not before its checks");
    const joined = await elapsedMs(() =>
      waitFor(() => health.routes().readers.includes(id(r1)), {
        timeoutMs: 5000,
        intervalMs: 5,
        message: "r1 joins",
      })
    );
    assert.ok(Date.now() - t0 >= INTERVAL, `joined after ${joined}ms: needs two passing checks`);
    assert.deepEqual(health.routes().readers, [id(r1), id(r2)]);
  });
});

async function run(cmd: string, args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(`${cmd} failed: ${new TextDecoder().decode(out.stderr)}`);
}

/** A CA and a server certificate for localhost / 127.0.0.1 in `dir`. */
async function makeCerts(dir: string): Promise<void> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run("openssl", [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "2",
    "-subj",
    "/CN=shardgate test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ], dir);
  await run("openssl", [
    "req",
    ...ec,
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=localhost",
  ], dir);
  await Deno.writeTextFile(
    `${dir}/ext.cnf`,
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n" +
      "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
  );
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.crt",
    "-days",
    "2",
    "-extfile",
    "ext.cnf",
  ], dir);
}

Deno.test("ShardHealth checks over TLS with the configured CA and server name", async () => {
  const dir = await Deno.makeTempDir({ prefix: "shardgate_health_tls_" });
  let redis: RedisProcess | null = null;
  const { logger } = captureLogger();
  const healths: ShardHealth[] = [];
  try {
    await makeCerts(dir);
    const port = await freePort();
    // The harness's readiness checks use the plain port; the checks under
    // test use only the TLS port, bound before the server answers at all.
    redis = await startRedis({
      args: [
        "--tls-port",
        String(port),
        "--tls-cert-file",
        `${dir}/server.crt`,
        "--tls-key-file",
        `${dir}/server.key`,
        "--tls-ca-cert-file",
        `${dir}/ca.crt`,
        "--tls-auth-clients",
        "no",
      ],
    });
    const node = localNode(port);
    const make = (tls: TlsConfig) => {
      const h = new ShardHealth({ ...testShard([node]), tls }, { logger, onChange: () => {} });
      healths.push(h);
      return h;
    };
    const ca = `${dir}/ca.crt`;
    const byIp = make({ servername: null, caFile: ca, insecure: false });
    const byName = make({ servername: "localhost", caFile: ca, insecure: false });
    const untrusted = make({ servername: null, caFile: null, insecure: false });
    const wrongName = make({ servername: "other.example", caFile: ca, insecure: false });
    const insecure = make({ servername: "other.example", caFile: ca, insecure: true });
    await Promise.all([byIp, byName, untrusted, wrongName, insecure].map((h) => h.start()));
    assert.equal(byIp.routes().primary, node.id, byIp.snapshot()[0].reason);
    assert.equal(byName.routes().primary, node.id);
    assert.equal(insecure.routes().primary, node.id, "insecure skips the name check");
    assert.equal(untrusted.routes().primary, null);
    assert.match(untrusted.snapshot()[0].reason, /connect: .*UnknownIssuer/);
    assert.equal(wrongName.routes().primary, null);
    assert.match(wrongName.snapshot()[0].reason, /connect: .*not valid for name "other.example"/);
  } finally {
    await Promise.all(healths.map((h) => h.stop()));
    await redis?.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ShardHealth onEvent: a killed replica's status change and the lost primary, nothing at start", async () => {
  await using set = await startReplicaSet({ replicas: 1 });
  const { logger } = captureLogger();
  const events: HealthEvent[] = [];
  const health = new ShardHealth(testShard(set.nodes.map(nodeOf)), {
    logger,
    onChange: () => {},
    onEvent: (e) => events.push(e),
  });
  try {
    await health.start();
    assert.equal(events.length, 0, "the first round decides states without events");
    const [replica] = set.replicas;
    await replica.kill("SIGKILL");
    await waitFor(() => events.some((e) => e.kind === "node" && e.node.id === id(replica)), {
      timeoutMs: 5000,
      message: "a node event for the replica",
    });
    const down = events.find((e) => e.kind === "node")!;
    assert.ok(down.kind === "node");
    assert.equal(down.from, "up");
    assert.equal(down.node.status, "down");
    assert.ok(down.node.lastCheckAt !== null && down.node.lastCheckAt <= Date.now());
    await set.primary.kill("SIGKILL");
    await waitFor(() => events.some((e) => e.kind === "writer"), {
      timeoutMs: 5000,
      message: "a writer event",
    });
    const w = events.find((e) => e.kind === "writer")!;
    assert.ok(w.kind === "writer");
    assert.deepEqual([w.from, w.to], [id(set.primary), null]);
    assert.match(w.reason ?? "", /role:master/);
  } finally {
    await health.stop();
  }
});
