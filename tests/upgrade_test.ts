/**
 * End-to-end: hitless upgrade (SIGUSR2) with real redis-servers and real
 * clients (ioredis 6 in its default configuration and node-redis 6, 50 in
 * all, GET on the readers port and SET on the writer port).
 *
 * - Upgrades in a row under load: no connection refused (a connect probe
 *   opens new connections to every port all along), no failed ioredis
 *   command, node-redis failures counted with their reasons, p99 and max
 *   latency through the upgrade windows, the admin port (/readyz, /metrics,
 *   the status page, /status) answering 200 throughout, each old process
 *   gone after its drain and the last one holding no more descriptors or
 *   memory than the first (no leak across upgrades).
 *   `npm test` runs {@link DEFAULT_UPGRADES}; `SHARDGATE_UPGRADES=20` is the
 *   longer run (`SHARDGATE_UPGRADES=20 deno test --allow-all tests/upgrade_test.ts`).
 * - Rollback: a new binary that exits at start, and one that never says it
 *   is ready, are stopped; the old process keeps serving with no failed
 *   command and logs why; a good binary afterwards takes over.
 * - Command boundaries: an idle client is closed at once, a client in MULTI
 *   when its EXEC is answered, a subscriber at `timeouts.drain`.
 */

import { deepStrictEqual as assertEquals, match, ok as assert } from "node:assert/strict";
import { freePorts, REPO_ROOT, startReplicaSet, startShardgate, waitFor } from "./helpers/mod.ts";
import {
  adminProbe,
  alive,
  connectProbe,
  fdCount,
  Generations,
  ioredisLoad,
  nodeRedisLoad,
  windowLatency,
} from "./_upgrade_helpers.ts";
import { rssBytes } from "./helpers/mod.ts";
import { frame, RawConn } from "./_raw.ts";

const E2E = { sanitizeOps: false, sanitizeResources: false };
/** Upgrades in `npm test`; SHARDGATE_UPGRADES sets another count (20 for the long run). */
const DEFAULT_UPGRADES = 3;
const UPGRADES = Number(Deno.env.get("SHARDGATE_UPGRADES") ?? DEFAULT_UPGRADES);
/** Commands each load completes between two upgrades, so every client is back on the new process. */
const OPS_BETWEEN = 2_000;
/** A latency window: from the signal to this long after the old process exited. */
const WINDOW_TAIL_MS = 1_000;

function config(nodes: readonly string[], readers: number, writer: number, admin: number): string {
  return [
    "admin:",
    `  listen: 127.0.0.1:${admin}`,
    "defaults:",
    "  check: { interval: 250ms, timeout: 2s, rise: 1, fall: 3 }",
    "  timeouts: { drain: 5s }",
    "shards:",
    "  main:",
    `    readers: 127.0.0.1:${readers}`,
    `    writer: 127.0.0.1:${writer}`,
    `    nodes: [${nodes.join(", ")}]`,
    "",
  ].join("\n");
}

Deno.test(
  `upgrade e2e: ${UPGRADES} upgrades under 50 clients refuse no connection and fail no ioredis command`,
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    const [readers, writer, admin] = await freePorts(3);
    const sg = await startShardgate(config(set.addresses, readers, writer, admin), {
      logLevel: "info",
    });
    const gens = new Generations(sg);
    const probe = connectProbe([readers, writer, admin]);
    const adminCheck = adminProbe(admin);
    const io = await ioredisLoad(readers, writer, 25);
    const nr = await nodeRedisLoad(readers, writer, 25);
    const windows: [number, number][] = [];
    const perGen: { pid: number; fds: number; rssMb: number }[] = [];
    const times: number[] = [];
    /** After the clients' warm-up (their first OPS_BETWEEN commands). */
    let warm = 0;
    try {
      const settle = async () => {
        const target = io.stats.ok + nr.stats.ok + OPS_BETWEEN;
        await waitFor(() => io.stats.ok + nr.stats.ok >= target, {
          timeoutMs: 30_000,
          message: `${OPS_BETWEEN} more commands`,
        });
      };
      await settle();
      warm = performance.now();
      for (let i = 0; i < UPGRADES; i++) {
        perGen.push({
          pid: gens.current,
          fds: fdCount(gens.current),
          rssMb: rssBytes(gens.current) / 1024 / 1024,
        });
        const t0 = performance.now();
        const r = await gens.upgrade();
        times.push(r.ms);
        windows.push([t0, performance.now() + WINDOW_TAIL_MS]);
        assert(!alive(r.old), `old process ${r.old} still runs`);
        await settle();
      }
      perGen.push({
        pid: gens.current,
        fds: fdCount(gens.current),
        rssMb: rssBytes(gens.current) / 1024 / 1024,
      });
    } finally {
      await Promise.all([io.stop(), nr.stop(), probe.stop(), adminCheck.stop()]);
      await gens.stop();
    }
    const ioWin = windowLatency(io.stats.samples, windows);
    const nrWin = windowLatency(nr.stats.samples, windows);
    // Outside the windows (after the warm-up): what the same clients see with no upgrade going on.
    const outside: [number, number][] = [];
    let from = warm;
    for (const [a, b] of windows) {
      outside.push([from, a]);
      from = b;
    }
    const ioOut = windowLatency(io.stats.samples, outside);
    console.log(JSON.stringify({
      upgrades: UPGRADES,
      upgradeMs: times.map(Math.round),
      connects: probe.counts.connects,
      refused: probe.counts.refused + io.stats.refused + nr.stats.refused,
      ioredis: { ok: io.stats.ok, failed: io.stats.failed, errors: io.stats.errors },
      nodeRedis: { ok: nr.stats.ok, failed: nr.stats.failed, errors: nr.stats.errors },
      latencyInUpgradeWindows: {
        ioredis: { ...ioWin, p99: +ioWin.p99.toFixed(2), max: +ioWin.max.toFixed(2) },
        nodeRedis: { ...nrWin, p99: +nrWin.p99.toFixed(2), max: +nrWin.max.toFixed(2) },
      },
      ioredisOutsideWindows: { ...ioOut, p99: +ioOut.p99.toFixed(2), max: +ioOut.max.toFixed(2) },
      admin: adminCheck.counts.ok,
      generations: perGen.map((g) => ({ ...g, rssMb: +g.rssMb.toFixed(1) })),
    }));

    assertEquals(probe.counts.refused, 0, probe.counts.errors.slice(0, 5).join("\n"));
    assertEquals(io.stats.refused + nr.stats.refused, 0);
    assert(probe.counts.connects > UPGRADES * 10, `only ${probe.counts.connects} probe connects`);
    assertEquals(io.stats.failed, 0, JSON.stringify(io.stats.errors));
    assert(io.stats.ok > OPS_BETWEEN, `ioredis ran ${io.stats.ok} commands`);
    assert(nr.stats.ok > OPS_BETWEEN, `node-redis ran ${nr.stats.ok} commands`);
    // node-redis fails a command it had sent on a connection the old process
    // closed (it does not resend): "Socket closed unexpectedly", or a reset
    // when it wrote after the close. Nothing else may fail it.
    for (const m of Object.keys(nr.stats.errors)) {
      match(m, /^(Socket closed unexpectedly|read ECONNRESET|write EPIPE)$/);
    }
    assertEquals(adminCheck.counts.bad, 0, adminCheck.counts.errors.slice(0, 5).join("\n"));
    assert(adminCheck.counts.ok > 10, `admin answered ${adminCheck.counts.ok} times`);
    for (const g of perGen.slice(0, -1)) assert(!alive(g.pid), `${g.pid} still runs`);
    // No leak across upgrades: the last process holds what the first did.
    const first = perGen[0];
    const last = perGen[perGen.length - 1];
    assert(last.fds <= first.fds + 5, `descriptors ${first.fds} → ${last.fds}`);
    assert(last.rssMb <= first.rssMb + 30, `RSS ${first.rssMb} → ${last.rssMb} MB`);
  },
);

Deno.test(
  "upgrade e2e: a new binary that exits at start or is never ready is stopped, and the old one keeps serving",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    const [readers, writer, admin] = await freePorts(3);
    const dir = await Deno.makeTempDir({ prefix: "shardgate-upgrade-test-" });
    const binary = `${dir}/shardgate`;
    await Deno.writeTextFile(binary, "#!/bin/sh\nexit 3\n");
    await Deno.chmod(binary, 0o755);
    const sg = await startShardgate(config(set.addresses, readers, writer, admin), {
      logLevel: "info",
      args: ["--upgrade-binary", binary, "--upgrade-timeout", "3s"],
    });
    const gens = new Generations(sg);
    const probe = connectProbe([readers, writer, admin]);
    const io = await ioredisLoad(readers, writer, 6);
    const nr = await nodeRedisLoad(readers, writer, 4);
    let failedInRollbacks = -1;
    const rolledBack = async (reason: RegExp) => {
      const from = sg.logs().length;
      Deno.kill(gens.current, "SIGUSR2");
      const line = await sg.waitForLog(
        (l) => l.msg === "upgrade rolled back; this process keeps serving",
        20_000,
        { from },
      );
      match(String(line.reason), reason);
      return line;
    };
    try {
      // A binary that exits at once.
      await rolledBack(/exited before it was ready \(code 3\)/);
      const okBefore = io.stats.ok + nr.stats.ok;
      await waitFor(() => io.stats.ok + nr.stats.ok > okBefore + 500, {
        message: "traffic after the first rollback",
      });
      // A binary that never says it is ready: stopped at the deadline.
      await Deno.writeTextFile(binary, "#!/bin/sh\nexec sleep 60\n");
      const line = await rolledBack(/not ready within 3000 ms/);
      const stuck = Number(line.pid);
      assert(stuck > 0 && !alive(stuck), `the never-ready process ${stuck} was not stopped`);
      assert(sg.running && alive(gens.current), "the old process stopped");
      const okAfter = io.stats.ok + nr.stats.ok;
      await waitFor(() => io.stats.ok + nr.stats.ok > okAfter + 500, {
        message: "traffic after the second rollback",
      });
      // Until here only rollbacks: not one command failed, of either client.
      failedInRollbacks = io.stats.failed + nr.stats.failed;
      // A working binary afterwards takes over.
      await Deno.writeTextFile(
        binary,
        `#!/bin/sh\ncd ${REPO_ROOT} && exec ${Deno.execPath()} run --allow-all main.ts "$@"\n`,
      );
      await gens.upgrade();
      const okLast = io.stats.ok + nr.stats.ok;
      await waitFor(() => io.stats.ok + nr.stats.ok > okLast + 500, {
        message: "traffic after the upgrade",
      });
    } finally {
      await Promise.all([io.stop(), nr.stop(), probe.stop()]);
      await gens.stop();
      await Deno.remove(dir, { recursive: true });
    }
    assertEquals(probe.counts.refused, 0, probe.counts.errors.slice(0, 5).join("\n"));
    assertEquals(io.stats.failed, 0, JSON.stringify(io.stats.errors));
    assertEquals(failedInRollbacks, 0, JSON.stringify(nr.stats.errors));
  },
);

Deno.test(
  "upgrade e2e: the old process closes an idle client at once, a MULTI after its EXEC, a subscriber at timeouts.drain",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    const [readers, writer, admin] = await freePorts(3);
    const drainMs = 3_000;
    const sg = await startShardgate(
      config(set.addresses, readers, writer, admin).replace("drain: 5s", `drain: ${drainMs}ms`),
      { logLevel: "info" },
    );
    const gens = new Generations(sg);
    const idle = await RawConn.open(readers);
    const tx = await RawConn.open(writer);
    const sub = await RawConn.open(readers);
    try {
      await idle.send(frame("PING"));
      assertEquals(await idle.readUntil((t) => t.endsWith("\r\n")), "+PONG\r\n");
      await tx.send(frame("MULTI"));
      assertEquals(await tx.readUntil((t) => t.endsWith("\r\n")), "+OK\r\n");
      await tx.send(frame("SET", "up:tx", "1"));
      assertEquals(await tx.readUntil((t) => t.endsWith("\r\n")), "+QUEUED\r\n");
      await sub.send(frame("SUBSCRIBE", "up:ch"));
      await sub.readUntil((t) => t.includes("up:ch") && t.endsWith(":1\r\n"));

      const from = sg.logs().length;
      Deno.kill(gens.current, "SIGUSR2");
      const ready = await sg.waitForLog(
        (l) => l.msg === "upgrade: new process ready; this one stops accepting and drains",
        30_000,
        { from },
      );
      gens.pids.push(Number(ready.pid));
      const t0 = performance.now();
      // Idle: closed right away, cleanly, with nothing sent.
      assertEquals(await idle.readToEnd(2_000), { text: "", reset: false });
      // In MULTI: still served by the old process until EXEC is answered, then closed.
      await tx.send(frame("SET", "up:tx", "2"));
      assertEquals(await tx.readUntil((t) => t.endsWith("\r\n")), "+QUEUED\r\n");
      await tx.send(frame("EXEC"));
      assertEquals(await tx.readUntil((t) => t.endsWith("+OK\r\n+OK\r\n")), "*2\r\n+OK\r\n+OK\r\n");
      assertEquals((await tx.readToEnd(2_000)).text, "");
      // Subscribed: pinned until the drain deadline, then closed.
      await sub.readToEnd(drainMs + 3_000);
      const subMs = performance.now() - t0;
      assert(subMs >= drainMs - 500, `subscriber closed after ${subMs} ms, before timeouts.drain`);
      await sg.waitForLog((l) => l.msg === "upgrade: handed over", 10_000, { from });
      const c = await RawConn.open(set.primary.port);
      try {
        await c.send(frame("GET", "up:tx"));
        assertEquals(await c.readUntil((t) => t.endsWith("2\r\n")), "$1\r\n2\r\n");
      } finally {
        c.close();
      }
    } finally {
      idle.close();
      tx.close();
      sub.close();
      await gens.stop();
    }
  },
);
