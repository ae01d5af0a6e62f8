/**
 * Differential test: random command streams sent to Redis directly and
 * through shardgate's writer port, cut at random byte boundaries into
 * random TCP writes, while other clients load the same node connections.
 * Every reply must be equal byte for byte (modulo what the README lists as
 * different: HELLO's reply, MONITOR's lines), and so must the data after.
 *
 * `DIFF_PORT=split` sends the streams through a split port with
 * `consistency: session` instead (README: what differs there by design).
 *
 * Seeded and reproducible: `DIFF_SEED=<n>` replays a run, `DIFF_COMMANDS`
 * sets its size (default {@link DEFAULT_COMMANDS}, under a minute; the
 * README gives the longer run). A failure prints its seed, the stream, the
 * first differing reply and the shortest failing stream found.
 */

import { deepStrictEqual as assertEquals, fail } from "node:assert/strict";
import { loadLoop, startRedis, startReplicaSet, startShardgate } from "./helpers/mod.ts";
import { E2E, shardYaml } from "./_health_helpers.ts";
import { pipeline } from "./_raw_resp.ts";
import { Prng } from "./faults/_prng.ts";
import {
  comparable,
  cutPoints,
  firstDifference,
  randomStream,
  renamed,
  runStream,
  showStream,
  shrink,
  STREAM_DBS,
  streamBytes,
  type StreamCommand,
  streamKeys,
} from "./_differential.ts";

/** Commands in a default run (CI). */
const DEFAULT_COMMANDS = 12_000;
/** Other clients loading the node connections through shardgate's writer port. */
const LOADERS = 16;
/** Streams run at once (each on its own pair of connections). */
const PARALLEL = 4;
/** Longest stream. */
const MAX_STREAM = 60;
/** How long one stream may take. */
const STREAM_TIMEOUT_MS = 15_000;
/** How long one stream may take while shrinking (a hang shows within it). */
const SHRINK_TIMEOUT_MS = 3_000;
/** Re-runs a failing stream's shrinking may take. */
const SHRINK_BUDGET = 150;

const td = new TextDecoder("latin1");

/** The command that reads a key of `type` whole. */
function readOf(type: string, key: string): string[] {
  switch (type) {
    case "string":
      return ["GET", key];
    case "list":
      return ["LRANGE", key, "0", "-1"];
    case "hash":
      return ["HGETALL", key];
    case "set":
      return ["SMEMBERS", key];
    case "zset":
      return ["ZRANGE", key, "0", "-1", "WITHSCORES"];
    default:
      return ["EXISTS", key];
  }
}

/** A reply as text; a set's or hash's elements sorted (their order is the server's hash order). */
function sortedIfUnordered(command: string, reply: Uint8Array): string {
  const text = td.decode(reply);
  if (command !== "SMEMBERS" && command !== "HGETALL") return text;
  // *N\r\n then N bulk strings $len\r\nbytes\r\n (bytes may hold CRLF).
  const items: string[] = [];
  let at = text.indexOf("\r\n") + 2;
  while (at < text.length) {
    const eol = text.indexOf("\r\n", at);
    const len = Number(text.slice(at + 1, eol));
    items.push(JSON.stringify(text.slice(eol + 2, eol + 2 + len)));
    at = eol + 2 + len + 2;
  }
  if (command === "HGETALL") {
    const pairs: string[] = [];
    for (let i = 0; i + 1 < items.length; i += 2) pairs.push(`${items[i]}=${items[i + 1]}`);
    return pairs.sort().join(",");
  }
  return items.sort().join(",");
}

Deno.test(
  "differential: random streams in random writes get the same replies and data as Redis directly",
  E2E,
  async () => {
    const total = Number(Deno.env.get("DIFF_COMMANDS") ?? DEFAULT_COMMANDS);
    const seed = Number(Deno.env.get("DIFF_SEED") ?? (Date.now() % 2 ** 31));
    await using direct = await startRedis();
    await using set = await startReplicaSet({ replicas: 1 });
    // Four connections per node: a session has more ways to go wrong. With
    // DIFF_PORT=split the streams go through a split port that gives each
    // session its own writes (`consistency: session`): reads from replicas.
    const split = Deno.env.get("DIFF_PORT") === "split";
    const extra = ["connections_per_node: 4"];
    if (split) extra.push("split: 127.0.0.1:0", "consistency: session");
    await using sg = await startShardgate(shardYaml(set.addresses, extra));
    const writer = sg.ports.main.writer!;
    const target = split ? sg.ports.main.split! : writer;
    // Other clients share the node connections the streams' commands take.
    await using writers = await loadLoop({
      port: writer,
      clients: LOADERS,
      op: async (c, w, i) => {
        if (i % 2 === 0) await c.set(`load:${w}:${i % 7}`, String(i));
        else await c.get(`load:${w}:${i % 7}`);
      },
    });
    await using readers = await loadLoop({
      port: sg.ports.main.readers,
      clients: 2,
      op: async (c, w, i) => {
        await c.get(`load:${w}:${i % 7}`);
      },
    });
    await writers.waitForOk(100);

    const rng = new Prng(seed);
    const namespaces: string[] = [];
    /** Each namespace's stream and cut seed, to report a data difference. */
    const streams = new Map<string, { stream: StreamCommand[]; cutSeed: number }>();
    let sent = 0;
    let streamNo = 0;
    const failures: string[] = [];

    /** Runs one stream against both; the report of a difference, or null. */
    const compare = async (
      stream: readonly StreamCommand[],
      cutSeed: number,
      ns: string,
      timeoutMs = STREAM_TIMEOUT_MS,
    ): Promise<{ index: number; want: string[]; got: string[] } | null> => {
      const marker = `end:${ns}`;
      const bytes = streamBytes(stream, marker);
      const cuts = cutPoints(new Prng(cutSeed), bytes.length);
      const [want, got] = await Promise.all([
        runStream(direct.port, bytes, cuts, marker, timeoutMs),
        runStream(target, bytes, cuts, marker, timeoutMs).catch((e) =>
          new TextEncoder().encode(`<failed: ${e instanceof Error ? e.message : e}>`)
        ),
      ]);
      const a = comparable(want), b = comparable(got);
      const index = firstDifference(a, b);
      return index < 0 ? null : { index, want: a, got: b };
    };

    const one = async (): Promise<void> => {
      const n = streamNo++;
      const ns = `d${seed}:${n}`;
      namespaces.push(ns);
      // Some streams stay on the multiplexed path, longer: order shows there.
      const plain = rng.chance(0.3);
      const length = 1 + rng.int(plain ? 6 * MAX_STREAM : MAX_STREAM);
      const stream = randomStream(rng, ns, length, plain);
      const cutSeed = rng.int(2 ** 31);
      streams.set(ns, { stream, cutSeed });
      sent += stream.length;
      const diff = await compare(stream, cutSeed, ns);
      if (diff === null) return;
      let tries = 0;
      const shortest = await shrink(stream, async (s) => {
        const fresh = `${ns}.${tries++}`;
        const again = await compare(renamed(s, ns, fresh), cutSeed, fresh, SHRINK_TIMEOUT_MS);
        return again !== null;
      }, SHRINK_BUDGET);
      failures.push(
        [
          `seed ${seed}, stream ${n} (${stream.length} commands, cut seed ${cutSeed}):`,
          `first difference at reply ${diff.index}:`,
          `  direct:     ${JSON.stringify(diff.want[diff.index])}`,
          `  shardgate:  ${JSON.stringify(diff.got[diff.index])}`,
          `replies before it: ${JSON.stringify(diff.want.slice(0, diff.index).slice(-5))}`,
          `stream:\n${showStream(stream)}`,
          `shortest failing stream found (${shortest.length} commands):\n${showStream(shortest)}`,
        ].join("\n"),
      );
    };

    while (sent < total && failures.length === 0) {
      await Promise.all(Array.from({ length: PARALLEL }, one));
    }
    const stats = [await writers.stop(), await readers.stop()];
    if (failures.length > 0) fail(`${failures.length} stream(s) differ:\n${failures.join("\n\n")}`);
    for (const s of stats) assertEquals(s.failed, 0, s.errors.join("; "));

    // The data each stream left is the same on both servers (by value: a
    // hash table's order depends on each server's own hash seed).
    const dataOf = async (port: number): Promise<string[]> => {
      const out: string[] = [];
      for (const db of STREAM_DBS) {
        const cmds: string[][] = [["SELECT", String(db)]];
        for (const ns of namespaces) {
          for (const k of streamKeys(ns)) cmds.push(["TYPE", k], ["PTTL", k]);
        }
        const types = await pipeline(port, cmds);
        const reads: string[][] = [["SELECT", String(db)]];
        const keys: string[] = [];
        for (let i = 1; i < types.length; i += 2) {
          const key = cmds[i][1];
          const type = td.decode(types[i]).slice(1, -2);
          const pttl = Number(td.decode(types[i + 1]).slice(1, -2));
          keys.push(`${db} ${key} ${type} ttl:${Math.sign(pttl)}`);
          reads.push(readOf(type, key));
        }
        const values = await pipeline(port, reads);
        for (let i = 0; i < keys.length; i++) {
          out.push(`${keys[i]} ${sortedIfUnordered(reads[i + 1][0], values[i + 1])}`);
        }
      }
      return out;
    };
    const [want, got] = await Promise.all([dataOf(direct.port), dataOf(set.primary.port)]);
    const at = firstDifference(want, got);
    if (at >= 0) {
      const ns = namespaces.find((n) => want[at].includes(` ${n}:`)) ?? "";
      const s = streams.get(ns);
      fail(
        `seed ${seed}: data differs: direct ${JSON.stringify(want[at])} / shardgate ${
          JSON.stringify(got[at])
        }\nstream (cut seed ${s?.cutSeed}):\n${showStream(s?.stream ?? [])}`,
      );
    }
    console.log(`differential: seed ${seed}, ${streamNo} streams, ${sent} commands, 0 differences`);
  },
);
