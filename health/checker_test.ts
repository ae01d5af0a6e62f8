/**
 * NodeChecker timing: a fake server covers what a real one cannot do (a
 * reply that stops half-way); the healthy node next to it is a real
 * redis-server.
 */
import assert from "node:assert/strict";
import { NodeChecker } from "./checker.ts";
import { ShardHealth } from "./shard_health.ts";
import type { CheckResult } from "./state.ts";
import { startRedis, waitFor } from "../tests/helpers/mod.ts";
import { captureLogger, localNode, nodeOf, testShard } from "./_test_helpers.ts";

const encoder = new TextEncoder();

/** A TCP server that answers every request with `reply` and then, per `close`, hangs or hangs up. */
class FakeServer {
  readonly listener: Deno.Listener;
  readonly conns = new Set<Deno.Conn>();
  accepted = 0;
  #loop: Promise<void>;
  #tasks = new Set<Promise<void>>();

  constructor(reply: string, close: boolean) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.listener = listener;
    this.#loop = (async () => {
      for await (const conn of listener) {
        this.accepted++;
        this.conns.add(conn);
        const t = this.#serve(conn, reply, close).finally(() => this.#tasks.delete(t));
        this.#tasks.add(t);
      }
    })();
  }

  get port(): number {
    return (this.listener.addr as Deno.NetAddr).port;
  }

  async #serve(conn: Deno.Conn, reply: string, close: boolean): Promise<void> {
    const buf = new Uint8Array(4096);
    try {
      const n = await conn.read(buf);
      if (n === null) return;
      await conn.write(encoder.encode(reply));
      if (close) {
        conn.close();
        this.conns.delete(conn);
        return;
      }
      while ((await conn.read(buf)) !== null) {
        // swallow further requests without answering
      }
    } catch {
      // closed by the test
    }
  }

  async close(): Promise<void> {
    this.listener.close();
    await this.#loop.catch(() => {});
    for (const c of this.conns) {
      try {
        c.close();
      } catch {
        // already closed
      }
    }
    await Promise.allSettled([...this.#tasks]);
  }
}

const MASTER_INFO = "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n";
const bulk = (s: string) => `$${s.length}\r\n${s}\r\n`;

Deno.test("NodeChecker bounds a check that hangs mid-reply by check.timeout, and other nodes keep their pace", async () => {
  // PONG, then an INFO bulk string that never completes.
  const fake = new FakeServer("+PONG\r\n$500\r\n# Server\r\nrun_id:x", false);
  const real = await startRedis();
  const shard = testShard([nodeOf(real), localNode(fake.port)], {
    check: { intervalMs: 50, timeoutMs: 800 },
  });
  const results = new Map<string, { at: number; r: CheckResult }[]>();
  const checkers = shard.nodes.map((node) => {
    results.set(node.id, []);
    return new NodeChecker({
      node,
      shard: () => shard,
      connect: (address, opts) =>
        Deno.connect({ hostname: address.host, port: address.port, signal: opts.signal }),
      onResult: (r) => results.get(node.id)!.push({ at: performance.now(), r }),
      onLost: () => {},
    });
  });
  try {
    const t0 = performance.now();
    await Promise.all(checkers.map((c) => c.start()));
    const firstRound = performance.now() - t0;
    assert.ok(firstRound >= 780 && firstRound < 1500, `first round took ${firstRound}ms`);
    const fakeResults = results.get(localNode(fake.port).id)!;
    await waitFor(() => fakeResults.length >= 3, {
      timeoutMs: 8000,
      intervalMs: 10,
      message: "three checks of the hanging node",
    });
    for (const { r } of fakeResults) {
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.error, "timeout after 800ms");
    }
    assert.ok(fake.accepted >= 3, "each timed-out check dropped its connection and reconnected");
    const realResults = results.get(nodeOf(real).id)!;
    assert.ok(realResults.every(({ r }) => r.ok));
    // While the fake node hung 800 ms per check, the real one was checked
    // every ~50 ms (gaps far below the fake's timeout, even on a busy host).
    const after = realResults.filter(({ at }) => at > t0 + firstRound);
    assert.ok(after.length >= 15, `only ${after.length} checks of the real node`);
    for (let i = 1; i < after.length; i++) {
      const gap = after[i].at - after[i - 1].at;
      assert.ok(gap < 400, `gap of ${gap}ms between two checks of the real node`);
    }
  } finally {
    await Promise.all(checkers.map((c) => c.stop()));
    await real.stop();
    await fake.close();
  }
});

Deno.test("NodeChecker re-checks at once when the node closes the check connection", async () => {
  // Answers one check correctly, then hangs up.
  const fake = new FakeServer(
    "+PONG\r\n" + bulk("# Server\r\nrun_id:a\r\n") + bulk(MASTER_INFO) + bulk("loading:0\r\n"),
    true,
  );
  const node = localNode(fake.port);
  const INTERVAL_MS = 1_200;
  const shard = testShard([node], { check: { intervalMs: INTERVAL_MS, timeoutMs: 500 } });
  const results: CheckResult[] = [];
  const at: number[] = [];
  const lost: string[] = [];
  const checker = new NodeChecker({
    node,
    shard: () => shard,
    connect: (address, opts) =>
      Deno.connect({ hostname: address.host, port: address.port, signal: opts.signal }),
    onResult: (r) => {
      results.push(r);
      at.push(performance.now());
    },
    onLost: (why) => lost.push(why),
  });
  try {
    await checker.start();
    assert.equal(results[0]?.ok, true);
    // The node hangs up after each check. The first loss triggers a check at
    // once; the second is within that interval, so the third check waits for
    // the timer: no spinning on a node that keeps hanging up.
    await waitFor(() => results.length >= 3, {
      timeoutMs: 5000,
      intervalMs: 10,
      message: "three checks",
    });
    assert.equal(lost[0], "connection closed by the node");
    assert.equal(lost[1], "connection closed by the node");
    assert.equal(results[1].ok, true);
    assert.ok(fake.accepted >= 3);
    const early = at[1] - at[0];
    assert.ok(early < INTERVAL_MS / 2, `the loss re-checked after ${early}ms, not at once`);
    // Check #2 started before its result; #3 starts an interval after #2 started.
    const next = at[2] - at[1];
    assert.ok(next >= INTERVAL_MS - 200, `a second early check ${next}ms after the first`);
  } finally {
    await checker.stop();
    await fake.close();
  }
});

Deno.test("ShardHealth.start() resolves after the first round even when a node hangs", async () => {
  const fake = new FakeServer("", false); // accepts, never answers
  const real = await startRedis();
  const { logger } = captureLogger();
  const changes: unknown[] = [];
  const health = new ShardHealth(
    testShard([nodeOf(real), localNode(fake.port)], { check: { timeoutMs: 250 } }),
    { logger, onChange: (u) => changes.push(u) },
  );
  try {
    const t0 = performance.now();
    await health.start();
    const took = performance.now() - t0;
    assert.ok(took < 1000, `start() took ${took}ms`);
    assert.deepEqual(health.routes(), {
      readers: [],
      primary: nodeOf(real).id,
      primaryProblem: null,
    });
    const hung = health.snapshot()[1];
    assert.equal(hung.status, "down");
    assert.equal(hung.reason, "timeout after 250ms");
    assert.equal(changes.length, 1);
  } finally {
    await health.stop();
    await real.stop();
    await fake.close();
  }
});

Deno.test("NodeChecker re-dials when the node's name stops resolving to the connection's peer", async () => {
  const real = await startRedis();
  const address = { host: "node.test", port: real.port, text: `node.test:${real.port}` };
  const node = { id: address.text, address, weight: 1 };
  const shard = { ...testShard([node], { check: { intervalMs: 30 } }), dnsRefreshMs: 30 };
  let ips = ["127.0.0.1"];
  let dials = 0;
  const results: CheckResult[] = [];
  const checker = new NodeChecker({
    node,
    shard: () => shard,
    connect: (a, opts) => {
      dials++;
      return Deno.connect({ hostname: "127.0.0.1", port: a.port, signal: opts.signal });
    },
    resolve: (host) => Promise.resolve(host === "node.test" ? ips : []),
    onResult: (r) => results.push(r),
    onLost: () => {},
  });
  try {
    await checker.start();
    await waitFor(() => results.length >= 5, {
      timeoutMs: 2000,
      intervalMs: 10,
      message: "checks on one connection",
    });
    assert.equal(dials, 1, "re-dialled while the name still resolved to the peer");
    ips = ["127.0.0.9"];
    await waitFor(() => dials >= 2, {
      timeoutMs: 2000,
      intervalMs: 10,
      message: "a re-dial after the name moved",
    });
    // The switch costs no failed check.
    assert.ok(results.every((r) => r.ok), JSON.stringify(results.filter((r) => !r.ok)));
  } finally {
    await checker.stop();
    await real.stop();
  }
});
