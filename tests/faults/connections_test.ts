/**
 * Bad clients at the connection level: slowloris clients that trickle a
 * command a byte at a time (served, and not mistaken for idle ones), a
 * client that stops mid-command (closed after `client_idle`), 5,000 idle
 * connections (memory per connection, others unaffected) and a flood past
 * `max_clients` (refused with Redis's error; admitted clients keep working).
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { rssBytes, startReplicaSet, startShardgate, waitFor } from "../helpers/mod.ts";
import { populate, SHARD } from "../_health_helpers.ts";
import { DEFAULT_KEYS, E2E, faultConfig, WARMUP_READS } from "./_fault.ts";
import { formatPercentiles } from "./_latency.ts";
import { ensureOpenFiles, exchange, RawConn } from "./_raw.ts";
import { frame } from "../_raw.ts";
import { startTraffic } from "./_traffic.ts";
import { crashLines } from "./_watch.ts";

/** `timeouts.client_idle` of the slowloris test. */
const CLIENT_IDLE_MS = 1_000;
/** Pause between two bytes of a trickled command (under `client_idle`). */
const TRICKLE_GAP_MS = 100;
/** Slowloris clients at once. */
const TRICKLERS = 50;
/** Slack for a timing bound on a busy 2-core machine. */
const SLACK_MS = 1_000;
/** Most a well-behaved read may take while bad clients are around. */
const MAX_CLEAN_READ_MS = 1_000;
/** Idle connections held open (issue 10). */
const IDLE_CONNECTIONS = 5_000;
/** Connections opened at once while building up the idle ones. */
const OPEN_BATCH = 250;
/** Most RSS one idle client connection may cost, KB (measured: about 17). */
const MAX_KB_PER_IDLE = 32;
/** Idle connections asked again at the end (they must all still answer). */
const IDLE_SAMPLE = 200;
/** `max_clients` of the flood test. */
const MAX_CLIENTS = 50;
/** Connections beyond `max_clients` in the flood. */
const FLOOD = 200;

const PING = "*1\r\n$4\r\nPING\r\n";
const PONG = "+PONG\r\n";
const REFUSED = "-ERR max number of clients reached\r\n";

/** A readers/writer shard over a primary and a replica with `keys` populated, and `extra` lines. */
async function shard(extra: string[]) {
  const set = await startReplicaSet({ replicas: 1 });
  try {
    await populate(set, DEFAULT_KEYS);
    const sg = await startShardgate(faultConfig(set.addresses, extra));
    return { set, sg, port: sg.ports[SHARD].readers };
  } catch (e) {
    await set.stop();
    throw e;
  }
}

Deno.test(
  "bad clients: slowloris clients are served, a client stalled mid-command is closed",
  E2E,
  async () => {
    const { set, sg, port } = await shard([`timeouts: { client_idle: ${CLIENT_IDLE_MS}ms }`]);
    await using _set = set;
    await using _sg = sg;
    await using traffic = await startTraffic({ readersPort: port, keys: DEFAULT_KEYS });
    await traffic.waitForOk(WARMUP_READS);
    traffic.startMeasuring();
    traffic.faultStarts();
    const get = new TextEncoder().encode(frame("GET", "key:1"));
    const bytes = [...get].map((b) => Uint8Array.of(b));
    const started = Date.now();
    const stalled = (async () => {
      using c = await RawConn.open(port);
      await c.send(get.subarray(0, get.length - 5));
      const t0 = Date.now();
      const got = await c.readQuiet(CLIENT_IDLE_MS * 4);
      return { ...got, afterMs: Date.now() - t0 };
    })();
    const trickled = await Promise.all(
      Array.from({ length: TRICKLERS }, () => exchange(port, bytes, { gapMs: TRICKLE_GAP_MS })),
    );
    const tookMs = Date.now() - started;
    const stall = await stalled;
    traffic.faultEnds();
    const report = await traffic.stop();
    const answered = trickled.filter((t) => t.text === "$7\r\nvalue:1\r\n").length;
    console.log(
      `slowloris: ${answered} of ${TRICKLERS} trickled GETs answered after ${tookMs} ms; ` +
        `stalled client closed=${stall.closed} after ${stall.afterMs} ms; well-behaved reads ` +
        `ok=${report.reads.ok} failed=${report.reads.failed} ${formatPercentiles(report.during)}`,
    );
    assert(tookMs > CLIENT_IDLE_MS, `the trickle took only ${tookMs} ms: it proves nothing`);
    assertEquals(
      answered,
      TRICKLERS,
      JSON.stringify(trickled.find((t) => t.text !== "$7\r\nvalue:1\r\n")),
    );
    assertEquals({ closed: stall.closed, text: stall.text }, { closed: true, text: "" });
    assert(stall.afterMs < CLIENT_IDLE_MS + SLACK_MS, `closed after ${stall.afterMs} ms`);
    assertEquals(report.reads.failed, 0, JSON.stringify(report.reads.errors));
    assert(report.during.max < MAX_CLEAN_READ_MS, `a read took ${report.during.max} ms`);
  },
);

Deno.test(
  `bad clients: ${IDLE_CONNECTIONS} idle connections cost little memory and slow nobody`,
  E2E,
  async () => {
    await ensureOpenFiles(IDLE_CONNECTIONS * 2 + 1_000);
    const { set, sg, port } = await shard([]);
    await using _set = set;
    await using _sg = sg;
    const idle: RawConn[] = [];
    try {
      // Served once, so each is a session shardgate holds, then left idle.
      const warm = await RawConn.open(port);
      idle.push(warm);
      assertEquals((await warm.ask(PING, PONG)).text, PONG);
      const before = rssBytes(sg.pid);
      while (idle.length < IDLE_CONNECTIONS) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(OPEN_BATCH, IDLE_CONNECTIONS - idle.length) }, async () => {
            const c = await RawConn.open(port);
            const got = await c.ask(PING, PONG);
            if (got.text !== PONG) throw new Error(`PING answered ${JSON.stringify(got)}`);
            return c;
          }),
        );
        idle.push(...batch);
      }
      const after = rssBytes(sg.pid);
      const kbEach = (after - before) / 1024 / (IDLE_CONNECTIONS - 1);
      await using traffic = await startTraffic({ readersPort: port, keys: DEFAULT_KEYS });
      await traffic.waitForOk(WARMUP_READS);
      traffic.startMeasuring();
      traffic.faultStarts();
      await traffic.waitForOk(WARMUP_READS * 2);
      traffic.faultEnds();
      const report = await traffic.stop();
      const sample = idle.filter((_, i) => i % Math.floor(IDLE_CONNECTIONS / IDLE_SAMPLE) === 0);
      const answers = await Promise.all(sample.map((c) => c.ask(PING, PONG).then((g) => g.text)));
      console.log(
        `${IDLE_CONNECTIONS} idle connections: RSS ${(before / 1048576).toFixed(0)} -> ` +
          `${(after / 1048576).toFixed(0)} MB (${kbEach.toFixed(1)} KB each); reads meanwhile ` +
          `ok=${report.reads.ok} failed=${report.reads.failed} ${formatPercentiles(report.during)}`,
      );
      assert(kbEach < MAX_KB_PER_IDLE, `${kbEach.toFixed(1)} KB per idle connection`);
      assertEquals(report.reads.failed, 0, JSON.stringify(report.reads.errors));
      assert(report.during.max < MAX_CLEAN_READ_MS, `a read took ${report.during.max} ms`);
      assertEquals(answers.filter((a) => a !== PONG), []);
      assertEquals(crashLines(sg), []);
    } finally {
      for (const c of idle) c.close();
    }
  },
);

Deno.test(
  "bad clients: a connection flood past max_clients is refused, admitted clients keep working",
  E2E,
  async () => {
    const { set, sg, port } = await shard([`max_clients: ${MAX_CLIENTS}`]);
    await using _set = set;
    await using _sg = sg;
    const admitted: RawConn[] = [];
    try {
      for (let i = 0; i < MAX_CLIENTS; i++) {
        const c = await RawConn.open(port);
        admitted.push(c);
        assertEquals((await c.ask(PING, PONG)).text, PONG);
      }
      const flood = await Promise.all(
        Array.from({ length: FLOOD }, () => exchange(port, [PING], { idleMs: 2_000 })),
      );
      const refused = flood.filter((f) => f.text === REFUSED && f.closed).length;
      const again = await Promise.all(admitted.map((c) => c.ask(PING, PONG).then((g) => g.text)));
      // Room again once some leave.
      const leaving = admitted.splice(0, MAX_CLIENTS / 5);
      for (const c of leaving) c.close();
      await waitFor(async () => (await exchange(port, [PING])).text === PONG, {
        message: "a new client admitted after some left",
      });
      const others = flood.filter((f) => !(f.text === REFUSED && f.closed));
      console.log(
        `max_clients ${MAX_CLIENTS}: ${refused} of ${FLOOD} flooding clients refused with the error; ` +
          `others got ${JSON.stringify(others.slice(0, 3))}`,
      );
      assertEquals(again.filter((a) => a !== PONG), [], "an admitted client stopped working");
      assertEquals(others, [], "a client past max_clients did not get Redis's error and a close");
      assertEquals(crashLines(sg), []);
    } finally {
      for (const c of admitted) c.close();
    }
  },
);
