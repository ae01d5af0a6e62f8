/**
 * ShardHealth against real redis-server processes: a primary and two
 * replicas on free ports, checked every 100 ms (rise 2, fall 2).
 */
import assert from "node:assert/strict";
import { ShardHealth } from "./shard_health.ts";
import type { NodeSnapshot, RouteUpdate } from "./state.ts";
import type { TlsConfig } from "../config/types.ts";
import {
  captureLogger,
  delay,
  freePort,
  infoField,
  localNode,
  redisText,
  startCluster,
  type TestCluster,
  testShard,
  type TestShardOverrides,
  waitFor,
  waitLinkUp,
} from "./_test_helpers.ts";

const INTERVAL = 100;
const FALL = 2;

interface Harness {
  cluster: TestCluster;
  health: ShardHealth;
  changes: { at: number; routes: RouteUpdate }[];
  lines: Record<string, unknown>[];
  node(id: string): NodeSnapshot;
}

/** Starts a cluster and a ShardHealth on it, runs `body`, stops everything. */
async function withCluster(
  opts: { keys?: number; password?: string | null; replicas?: number; shard?: TestShardOverrides },
  body: (h: Harness) => void | Promise<void>,
): Promise<void> {
  const cluster = await startCluster(opts);
  const { logger, lines } = captureLogger();
  const changes: Harness["changes"] = [];
  const health = new ShardHealth(testShard(cluster.nodes, opts.shard), {
    logger,
    onChange: (routes) => changes.push({ at: Date.now(), routes }),
  });
  try {
    await health.start();
    await body({
      cluster,
      health,
      changes,
      lines,
      node: (id) => health.snapshot().find((n) => n.id === id)!,
    });
  } finally {
    await health.stop();
    await cluster.stop();
  }
}

Deno.test("ShardHealth.start() learns the primary and the serving replicas from real nodes", async () => {
  await withCluster({}, ({ cluster, health, changes, node }) => {
    const [r1, r2] = cluster.replicas;
    const expected = { readers: [r1.id, r2.id], primary: cluster.primary.id, primaryProblem: null };
    assert.deepEqual(health.routes(), expected);
    assert.deepEqual(
      changes.map((c) => c.routes),
      [expected],
      "one onChange, after the first round",
    );
    const p = node(cluster.primary.id);
    assert.equal(p.role, "master");
    assert.equal(p.status, "up");
    assert.equal(p.connectedReplicas, 2);
    const r = node(r1.id);
    assert.equal(r.role, "replica");
    assert.equal(r.linkUp, true);
    assert.equal(r.servesReads, true);
    assert.ok(r.lagMs !== null && r.lagMs <= 1000, `lag ${r.lagMs}`);
    assert.ok(r.lastCheckMs !== null && r.lastCheckMs < 300);
  });
});

Deno.test("ShardHealth drops a SIGKILLed replica within fall x interval and takes it back after rise checks", async () => {
  await withCluster({}, async ({ cluster, health, changes, node, lines }) => {
    const [r1, r2] = cluster.replicas;
    const logged = lines.length;
    await r1.kill("SIGKILL");
    const killedAt = Date.now();
    const gone = await waitFor(
      "r1 out of readers",
      () => !health.routes().readers.includes(r1.id),
      3000,
      5,
    );
    assert.ok(gone <= FALL * INTERVAL + 150, `left the readers after ${gone}ms`);
    assert.deepEqual(changes.at(-1)?.routes.readers, [r2.id], "onChange told the proxy");
    await waitFor("r1 down", () => node(r1.id).status === "down", FALL * INTERVAL + 1000);
    assert.equal(health.routes().primary, cluster.primary.id);

    await r1.restart();
    await waitFor("r1 back in readers", () => health.routes().readers.includes(r1.id), 10_000);
    assert.deepEqual(health.routes().readers, [r1.id, r2.id]);
    const ups = lines.slice(logged).filter((l) =>
      l.msg === "node status changed" && l.node === r1.id
    );
    assert.deepEqual(ups.map((l) => l.to), ["down", "up"]);
    // Between the kill and its return, no route update listed r1.
    const back = changes.findIndex((c) => c.at >= killedAt && c.routes.readers.includes(r1.id));
    assert.ok(back > 0);
    assert.ok(
      changes.slice(0, back).filter((c) => c.at >= killedAt).every((c) =>
        !c.routes.readers.includes(r1.id)
      ),
    );
  });
});

Deno.test("ShardHealth keeps a replica restarted EMPTY out of the readers until its full sync finished", async () => {
  const KEYS = 200_000;
  await withCluster({ keys: KEYS }, async ({ cluster, health }) => {
    const [r1, r2] = cluster.replicas;
    assert.equal(await redisText(r2.port, ["DBSIZE"]), String(KEYS));
    // The primary waits 2 s before it starts the (diskless) full sync.
    assert.equal(
      await redisText(cluster.primary.port, ["CONFIG", "SET", "repl-diskless-sync-delay", "2"]),
      "OK",
    );
    await r2.kill("SIGKILL");
    await r2.restart();
    let gapObserved = 0;
    let syncObserved = 0;
    await waitFor(
      "r2 back in readers",
      async () => {
        const listed = health.routes().readers.includes(r2.id);
        const dbsize = await redisText(r2.port, ["DBSIZE"]);
        const sync = await infoField(r2.port, "replication", "master_sync_in_progress");
        const link = await infoField(r2.port, "replication", "master_link_status");
        if (listed) {
          assert.equal(dbsize, String(KEYS), "listed before its data was complete");
          assert.equal(sync, "0", "listed during a full sync");
          return true;
        }
        if (link === "down" && sync === "0" && dbsize === "0") gapObserved++;
        if (sync === "1" || dbsize.startsWith("-LOADING")) syncObserved++;
        return false;
      },
      20_000,
      5,
    );
    assert.ok(gapObserved > 10, `the pre-sync gap was observed ${gapObserved} times`);
    assert.ok(syncObserved > 0, "the full sync itself was observed");
    assert.deepEqual(health.routes().readers, [r1.id, r2.id]);
  });
});

Deno.test("ShardHealth switches the writer to the new primary after a failover", async () => {
  await withCluster({}, async ({ cluster, health }) => {
    const { primary: p } = cluster;
    const [r1, r2] = cluster.replicas;
    assert.equal(health.routes().primary, p.id);
    assert.equal(await redisText(r1.port, ["REPLICAOF", "NO", "ONE"]), "OK");
    assert.equal(await redisText(r2.port, ["REPLICAOF", "127.0.0.1", String(r1.port)]), "OK");
    assert.equal(await redisText(p.port, ["REPLICAOF", "127.0.0.1", String(r1.port)]), "OK");
    const switched = await waitFor(
      "primary is r1",
      () => health.routes().primary === r1.id,
      5000,
      5,
    );
    assert.ok(switched <= INTERVAL + 300, `switched after ${switched}ms`);
    await waitLinkUp(p.port);
    await waitLinkUp(r2.port);
    await waitFor("old primary and r2 serve reads", () => {
      const r = health.routes();
      return r.readers.length === 2 && r.readers.includes(p.id) && r.readers.includes(r2.id);
    }, 5000);
    assert.deepEqual(health.routes(), {
      readers: [p.id, r2.id],
      primary: r1.id,
      primaryProblem: null,
    });
  });
});

Deno.test("ShardHealth ejects a SIGSTOPped replica at once on reported timeouts; it rejoins after SIGCONT", async () => {
  const shard = { passive: { errors: 5, cooldownMs: 300 } };
  await withCluster({ shard }, async ({ cluster, health, changes, node }) => {
    const [r1, r2] = cluster.replicas;
    await r1.kill("SIGSTOP");
    try {
      for (let i = 0; i < 4; i++) health.reportError(r1.id, "timeout");
      assert.ok(health.routes().readers.includes(r1.id), "4 errors are below the limit");
      const before = changes.length;
      health.reportError(r1.id, "timeout");
      // Synchronously: no await between the fifth error and these checks.
      assert.deepEqual(health.routes().readers, [r2.id]);
      assert.equal(changes.length, before + 1);
      assert.deepEqual(changes.at(-1)?.routes.readers, [r2.id]);
      assert.equal(node(r1.id).status, "ejected");
      // The cooldown passes while the node is still paused: it stays out.
      await delay(500);
      assert.ok(!health.routes().readers.includes(r1.id));
      assert.match(node(r1.id).reason, /timeout/);
    } finally {
      await r1.kill("SIGCONT");
    }
    const back = await waitFor("r1 back", () => health.routes().readers.includes(r1.id), 5000);
    assert.ok(back < 2000, `rejoined after ${back}ms`);
    assert.equal(node(r1.id).ejections, 1);
  });
});

Deno.test("ShardHealth checks with AUTH when the nodes require a password", async () => {
  const password = "s3cret-pw";
  const cluster = await startCluster({ password, replicas: 1 });
  const { logger } = captureLogger();
  const [r1] = cluster.replicas;
  const make = (auth: { username: string | null; password: string } | null) =>
    new ShardHealth(testShard(cluster.nodes, { auth }), { logger, onChange: () => {} });
  const right = make({ username: null, password });
  const acl = make({ username: "default", password });
  const none = make(null);
  const wrong = make({ username: null, password: "nope" });
  try {
    await Promise.all([right.start(), acl.start(), none.start(), wrong.start()]);
    const good = { readers: [r1.id], primary: cluster.primary.id, primaryProblem: null };
    assert.deepEqual(right.routes(), good);
    assert.deepEqual(acl.routes(), good);
    assert.equal(none.routes().primary, null);
    assert.match(none.snapshot()[0].reason, /NOAUTH/);
    assert.equal(wrong.snapshot()[0].status, "down");
    assert.match(wrong.snapshot()[0].reason, /AUTH refused: WRONGPASS/);
    assert.ok(!wrong.snapshot()[0].reason.includes("nope"), "the password is never shown");
  } finally {
    await Promise.all([right.stop(), acl.stop(), none.stop(), wrong.stop()]);
    await cluster.stop();
  }
});

Deno.test("ShardHealth.update(): a removed node leaves at once, an added node joins after rise checks", async () => {
  await withCluster({}, async ({ cluster, health, changes }) => {
    const [r1, r2] = cluster.replicas;
    const shard = (nodes = cluster.nodes) => testShard(nodes);
    health.update(shard([cluster.primary.node, r2.node]));
    assert.deepEqual(health.routes().readers, [r2.id]);
    assert.deepEqual(changes.at(-1)?.routes.readers, [r2.id]);
    const t0 = Date.now();
    health.update(shard([cluster.primary.node, r1.node, r2.node]));
    assert.deepEqual(health.routes().readers, [r2.id], "not before its checks");
    const joined = await waitFor(
      "r1 joins",
      () => health.routes().readers.includes(r1.id),
      5000,
      5,
    );
    assert.ok(Date.now() - t0 >= INTERVAL, `joined after ${joined}ms: needs two passing checks`);
    assert.deepEqual(health.routes().readers, [r1.id, r2.id]);
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
  let child: Deno.ChildProcess | null = null;
  const { logger } = captureLogger();
  const healths: ShardHealth[] = [];
  try {
    await makeCerts(dir);
    const port = freePort();
    child = new Deno.Command("redis-server", {
      args: [
        "--port",
        "0",
        "--tls-port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        dir,
        "--tls-cert-file",
        `${dir}/server.crt`,
        "--tls-key-file",
        `${dir}/server.key`,
        "--tls-ca-cert-file",
        `${dir}/ca.crt`,
        "--tls-auth-clients",
        "no",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const node = localNode(port);
    const make = (tls: TlsConfig) => {
      const h = new ShardHealth({ ...testShard([node]), tls }, { logger, onChange: () => {} });
      healths.push(h);
      return h;
    };
    await waitFor("the TLS port listens", async () => {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
        return true;
      } catch {
        return false;
      }
    }, 5000);
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
    if (child !== null) {
      child.kill("SIGKILL");
      await child.status;
    }
    await Deno.remove(dir, { recursive: true });
  }
});
