/**
 * The near cache's own work per cold read, in process: the parser and
 * `NearCache.lookup()` of GET and MGET of 10 keys drawn uniformly from
 * 100,000, against a cache that holds 10,000 of them (the defaults), with
 * the parser alone as the baseline. No sockets, so none of the shared
 * machine's network noise: what the "cold keyspace" cell's cache costs
 * before any I/O, to set beside the proxy's whole CPU per command
 * (`bench/cache_cpu_per_op.sh`, about 25–35 µs here).
 *
 * ```sh
 * node_modules/.bin/deno run -A bench/cache_lookup_cost.ts [--rounds 7]
 * ```
 *
 * The cache is filled over an in-memory node that answers every fill
 * (`GET` + `PTTL`) with a 3-byte value and no TTL.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { NearCache, type TrackerSocket } from "../cache/mod.ts";
import { encodeCommand, RequestParser } from "../resp/mod.ts";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "7" } } });
const ROUNDS = Number(values.rounds);
const KEYSPACE = 100_000, HELD = 10_000, COMMANDS = 400_000;

const te = new TextEncoder();
const td = new TextDecoder();
const SETUP = te.encode("%1\r\n$6\r\nserver\r\n$5\r\nredis\r\n+OK\r\n+OK\r\n");
const FILL = te.encode("$3\r\nabc\r\n:-1\r\n");

/** A node that answers the tracking setup and every fill at once. */
class AnsweringNode implements TrackerSocket {
  #inbox: Uint8Array[] = [];
  #reader: ((n: number | null) => void) | null = null;
  #target: Uint8Array | null = null;

  read(p: Uint8Array): Promise<number | null> {
    const next = this.#inbox.shift();
    if (next !== undefined) {
      p.set(next);
      return Promise.resolve(next.length);
    }
    this.#target = p;
    return new Promise((resolve) => this.#reader = resolve);
  }

  write(p: Uint8Array): Promise<number> {
    const text = td.decode(p);
    if (text.includes("TRACKING")) this.#send(SETUP);
    const fills = text.split("$4\r\nPTTL\r\n").length - 1;
    for (let i = 0; i < fills; i++) this.#send(FILL);
    return Promise.resolve(p.length);
  }

  close(): void {
    this.#reader?.(null);
    this.#reader = null;
  }

  #send(b: Uint8Array): void {
    if (this.#reader === null) return void this.#inbox.push(b);
    this.#target!.set(b);
    const r = this.#reader;
    this.#reader = null;
    r(b.length);
  }
}

const key = (i: number) => `key:${String(i).padStart(12, "0")}`;
const client = { role: "readers", proto: 2, db: 0, user: null } as const;
const parser = new RequestParser();

/** Parses `frame` and asks `cache` (when given) at `now`: true on a hit. */
function ask(cache: NearCache | null, frame: Uint8Array, now: number): boolean {
  parser.parse(frame, 0, frame.length);
  return cache !== null && cache.lookup(parser, frame, client, now) !== null;
}

const cache = new NearCache({
  enabled: true,
  maxKeys: HELD,
  maxBytes: 64 * 1024 * 1024,
  minReads: 3,
  maxAgeMs: 3_600_000,
});
const node = new AnsweringNode();
cache.serving([{ id: "n1:6379", auth: null, dial: () => Promise.resolve(node) }]);
while (!cache.stats().tracking) await new Promise((r) => setTimeout(r, 1));
// Three reads each within a moment: every key of the first 10,000 is admitted while there is room.
for (let i = 0; i < HELD; i++) {
  const f = encodeCommand(["GET", key(i)]);
  for (let r = 0; r < 3; r++) ask(cache, f, i / 1000);
  if (i % 200 === 199) await new Promise((r) => setTimeout(r, 0)); // let the fills come back
}
while (cache.stats().keys < HELD) await new Promise((r) => setTimeout(r, 1));

const pick = () => key(Math.floor(Math.random() * KEYSPACE));
const gets: Uint8Array[] = [], mgets: Uint8Array[] = [];
for (let i = 0; i < 4096; i++) {
  gets.push(encodeCommand(["GET", pick()]));
  mgets.push(encodeCommand(["MGET", ...Array.from({ length: 10 }, pick)]));
}

/** ns per command of `COMMANDS` commands from `frames`, starting the clock at `t0` ms. */
function run(with_: NearCache | null, frames: Uint8Array[], t0: number): [number, number] {
  let hits = 0;
  const start = performance.now();
  for (let i = 0; i < COMMANDS; i++) if (ask(with_, frames[i & 4095], t0 + i / 40)) hits++;
  return [((performance.now() - start) * 1e6) / COMMANDS, hits / COMMANDS];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const out: Record<string, number[]> = {};
let hitShare = { GET: 0, MGET10: 0 };
let clock = 10_000;
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, frames] of [["GET", gets], ["MGET10", mgets]] as const) {
    (out[`${name}_parse_ns`] ??= []).push(run(null, frames, clock)[0]);
    const [ns, hits] = run(cache, frames, clock);
    (out[`${name}_parse_lookup_ns`] ??= []).push(ns);
    hitShare = { ...hitShare, [name]: hits };
    clock += COMMANDS / 40;
  }
}
cache.close();
const summary: Record<string, number> = {};
for (const [k, v] of Object.entries(out)) summary[k] = Math.round(median(v));
console.log(JSON.stringify({
  rounds: ROUNDS,
  commandsPerRun: COMMANDS,
  keyspace: KEYSPACE,
  cached: HELD,
  hitShare,
  medians: summary,
  cacheNsPerCommand: {
    GET: summary.GET_parse_lookup_ns - summary.GET_parse_ns,
    MGET10: summary.MGET10_parse_lookup_ns - summary.MGET10_parse_ns,
  },
  runs: out,
}));
