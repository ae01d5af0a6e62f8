/**
 * End-to-end: live reload adding and removing whole shards under load. A
 * new shard's ports answer; a removed shard's ports refuse new connections,
 * its clients get the replies they were waiting for and are then closed,
 * and the clients of the other shards never notice.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  closeClient,
  freePorts,
  loadLoop,
  redisClient,
  startReplicaSet,
  startShardgate,
  unreadBytes,
  waitFor,
} from "./helpers/mod.ts";
import {
  assertClean,
  configYaml,
  E2E,
  field,
  NodeObserver,
  reloaded,
  waitRefused,
} from "./_reload_helpers.ts";

const dec = new TextDecoder();

/** Reads from `conn` until EOF; returns the text. */
async function readToEnd(conn: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(1024);
  let out = "";
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) return out;
    out += dec.decode(buf.subarray(0, n));
  }
}

Deno.test(
  "reload: an added shard's ports answer; the other shard's clients never notice",
  E2E,
  async () => {
    await using a = await startReplicaSet({ replicas: 1 });
    await using b = await startReplicaSet({ replicas: 1 });
    await a.primary.cli("set", "k", "a");
    await b.primary.cli("set", "k", "b");
    await Promise.all([a.waitSynced(), b.waitSynced()]);
    await using sg = await startShardgate(configYaml({ main: { nodes: a.addresses } }));
    await using reads = await loadLoop({
      port: sg.ports.main.readers,
      op: async (c) => {
        const v = await c.get("k");
        if (v !== "a") throw new Error(`GET k gave ${v}`);
      },
    });
    await using writes = await loadLoop({
      port: sg.ports.main.writer!,
      clients: 4,
      op: async (c, w, i) => void await c.set(`w${w}`, String(i)),
    });
    await reads.waitForOk(200);

    const from = sg.logs().length;
    await sg.writeConfig(
      configYaml({ main: { nodes: a.addresses }, extra: { nodes: b.addresses } }),
    );
    const rec = await reloaded(sg, from);
    assertEquals(field(rec, "changes"), "+shard extra");
    const both = (l: { msg?: unknown; shard?: unknown; role?: unknown }) =>
      l.msg === "listening" && l.shard === "extra" && l.role === "writer";
    await sg.waitForLog(both, 5_000, { from });
    const extra = sg.ports.extra;

    const c = await redisClient(extra.readers);
    const w = await redisClient(extra.writer!);
    try {
      assertEquals(await c.get("k"), "b");
      assertEquals(await w.set("k2", "b2"), "OK");
      assertEquals(await b.primary.cli("get", "k2"), "b2");
    } finally {
      closeClient(c);
      closeClient(w);
    }
    await reads.waitForOk(500);
    assertClean(await reads.stop(), "main readers");
    assertClean(await writes.stop(), "main writer");
  },
);

Deno.test(
  "reload: a removed shard refuses new clients, answers in-flight commands, then closes",
  E2E,
  async () => {
    await using a = await startReplicaSet({ replicas: 1 });
    await using b = await startReplicaSet({ replicas: 1 });
    await a.primary.cli("set", "k", "a");
    await b.primary.cli("set", "k", "b");
    await Promise.all([a.waitSynced(), b.waitSynced()]);
    const main = { nodes: a.addresses };
    // A long server timeout: the in-flight read below waits on a frozen node.
    const gone = { nodes: b.addresses, extra: ["timeouts: { server: 20s }"] };
    await using sg = await startShardgate(configYaml({ main, gone }));
    await using obs = await NodeObserver.open(b.nodes.map((n) => n.port));
    const goneReaders = sg.ports.gone.readers;
    const goneWriter = sg.ports.gone.writer!;
    await using mainReads = await loadLoop({
      port: sg.ports.main.readers,
      op: async (c) => {
        const v = await c.get("k");
        if (v !== "a") throw new Error(`GET k gave ${v}`);
      },
    });
    await using mainWrites = await loadLoop({
      port: sg.ports.main.writer!,
      clients: 4,
      op: async (c, w, i) => void await c.set(`w${w}`, String(i)),
    });
    const goneReadsSeen: string[] = [];
    await using goneReads = await loadLoop({
      port: goneReaders,
      op: async (c) => {
        const v = await c.get("k");
        goneReadsSeen.push(String(v));
      },
    });
    await Promise.all([mainReads.waitForOk(200), goneReads.waitForOk(200)]);

    // One read left in flight: both nodes of `gone` frozen, the GET sent.
    const raw = await Deno.connect({ hostname: "127.0.0.1", port: goneReaders });
    b.primary.pause();
    b.replicas[0].pause();
    let answer: Promise<string>;
    try {
      await raw.write(new TextEncoder().encode("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"));
      answer = readToEnd(raw);
      await waitFor(() => unreadBytes(b.primary.port) + unreadBytes(b.replicas[0].port) > 0, {
        timeoutMs: 5_000,
        message: "the GET to reach a frozen node",
      });

      const from = sg.logs().length;
      await sg.writeConfig(configYaml({ main }));
      const rec = await reloaded(sg, from);
      assertEquals(field(rec, "changes"), "-shard gone");
      // New connections are refused, on both ports (the socket closes as
      // the reload is logged; its teardown may take a moment).
      await waitRefused(goneReaders, 1_000);
      await waitRefused(goneWriter, 1_000);
    } finally {
      b.primary.resume();
      b.replicas[0].resume();
    }
    // The waiting client gets its reply, then the connection ends.
    assertEquals(await answer, "$1\r\nb\r\n");
    raw.close();

    // The load on `gone` got right answers until its connections closed.
    const goneStats = await goneReads.stop();
    assert(goneReadsSeen.length > 200 && goneReadsSeen.every((v) => v === "b"), "wrong reads");
    for (const e of goneStats.errors) {
      assert(/closed|refused|reset/i.test(e), `unexpected error on the removed shard: ${e}`);
    }
    // shardgate let go of the removed shard's nodes.
    await waitFor(async () => await obs.connections(0) + await obs.connections(1) === 0, {
      timeoutMs: 5_000,
      message: "shardgate's connections to the removed shard's nodes to close",
    });

    await mainReads.waitForOk(300);
    assertClean(await mainReads.stop(), "main readers");
    assertClean(await mainWrites.stop(), "main writer");
  },
);

Deno.test(
  "reload: a renamed shard keeps its ports, and swapped ports swap roles, never refusing a client",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 1 });
    await set.primary.cli("set", "k", "v");
    await set.waitSynced();
    const [p1, p2] = await freePorts(2);
    const shard = (readers: number, writer: number) => ({
      readers: `127.0.0.1:${readers}`,
      writer: `127.0.0.1:${writer}`,
      nodes: set.addresses,
    });
    await using sg = await startShardgate(configYaml({ main: shard(p1, p2) }));
    // New connections all the time, on both ports: none may be refused. (One
    // accepted just before a reload belongs to the old listener and may be
    // drained before its first command is read: counted, not failed.)
    let refused = 0;
    let drained = 0;
    const fresh = (port: number) =>
      loadLoop({
        port,
        clients: 3,
        op: async () => {
          const conn = await Deno.connect({ hostname: "127.0.0.1", port }).catch((e) => {
            refused++;
            throw e;
          });
          try {
            await conn.write(new TextEncoder().encode("*1\r\n$4\r\nPING\r\n"));
            const buf = new Uint8Array(64);
            const n = await conn.read(buf);
            if (n === null) drained++;
            else if (dec.decode(buf.subarray(0, n)) !== "+PONG\r\n") throw new Error("no PONG");
          } finally {
            conn.close();
          }
        },
      });
    await using fresh1 = await fresh(p1);
    await using fresh2 = await fresh(p2);
    await Promise.all([fresh1.waitForOk(20), fresh2.waitForOk(20)]);
    /** Which role serves `port` now: a write on the readers port lands on the replica. */
    const role = async (port: number) => {
      const c = await redisClient(port);
      try {
        return await c.set("probe", "1").then(() => "writer", () => "readers");
      } finally {
        closeClient(c);
      }
    };
    assertEquals([await role(p1), await role(p2)], ["readers", "writer"]);

    let from = sg.logs().length;
    await sg.writeConfig(configYaml({ users: shard(p1, p2) }));
    let rec = await reloaded(sg, from);
    assertEquals(field(rec, "changes"), "+shard users; -shard main");
    await sg.waitForLog(
      (l) => l.msg === "listening" && l.shard === "users" && l.role === "writer",
      5_000,
      {
        from,
      },
    );
    assertEquals(sg.ports.users, { readers: p1, writer: p2 });
    await Promise.all([fresh1.waitForOk(20), fresh2.waitForOk(20)]);

    from = sg.logs().length;
    await sg.writeConfig(configYaml({ users: shard(p2, p1) }));
    rec = await reloaded(sg, from);
    assertEquals(
      field(rec, "changes"),
      `shard users: readers 127.0.0.1:${p1}→127.0.0.1:${p2}, writer 127.0.0.1:${p2}→127.0.0.1:${p1}`,
    );
    assertEquals([await role(p1), await role(p2)], ["writer", "readers"]);
    await Promise.all([fresh1.waitForOk(20), fresh2.waitForOk(20)]);
    await fresh1.stop();
    await fresh2.stop();
    assertEquals(refused, 0, "a new connection was refused");
    assert(drained <= 12, `${drained} new connections closed unanswered`);
  },
);
