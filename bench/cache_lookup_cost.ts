/**
 * The near cache's own work per read, in process: the parser and
 * `NearCache.lookup()` of GET and MGET of 10 keys drawn from 100,000
 * (uniformly, or by a Zipf law with `--zipf`), against a cache that holds
 * `--held` of them (10,000, the defaults), with the parser alone as the
 * baseline. No sockets, so none of the shared
 * machine's network noise: what the "cold keyspace" cell's cache costs
 * before any I/O, to set beside the proxy's whole CPU per command
 * (`bench/cache_cpu_per_op.sh`, about 25–35 µs here).
 *
 * ```sh
 * node_modules/.bin/deno run -A bench/cache_lookup_cost.ts [--rounds 7]
 * # a warm cache under skewed reads, and the same with another checkout's cache code:
 * node_modules/.bin/deno run -A bench/cache_lookup_cost.ts --held 80000 --zipf 0.99
 * node_modules/.bin/deno run -A bench/cache_lookup_cost.ts --held 80000 --zipf 0.99 --checkout /tmp/base
 * ```
 *
 * The cache is filled over a real tracking connection to a `redis-server`
 * the script starts (and stops).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { NearCache } from "../cache/mod.ts";
import { encodeCommand, RequestParser } from "../resp/mod.ts";
import { startRedisServer } from "./_redis.ts";
import { freePort, Supervisor, waitFor } from "./_procs.ts";
import { pick as zipfPick, zipfCdf } from "./zipf_get.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "7" },
    held: { type: "string", default: "10000" },
    zipf: { type: "string", default: "0" },
    checkout: { type: "string" },
  },
});
const ROUNDS = Number(values.rounds);
const KEYSPACE = 100_000, HELD = Number(values.held), COMMANDS = 400_000;
/** Distinct commands cycled through: enough that a cold read's lookup is not served from the CPU's caches. */
const FRAMES = 1 << 16;
/** The cache code measured: this checkout's, or `--checkout`'s (a before/after). */
const cacheModule: typeof import("../cache/mod.ts") = values.checkout === undefined
  ? await import("../cache/mod.ts")
  : await import(pathToFileURL(resolve(values.checkout, "cache/mod.ts")).href);

const key = (i: number) => `key:${String(i).padStart(12, "0")}`;
const client = { role: "readers", proto: 2, db: 0, user: null } as const;
const parser = new RequestParser();

/** Parses `frame` and asks `cache` (when given) at `now`: true on a hit. */
function ask(cache: NearCache | null, frame: Uint8Array, now: number): boolean {
  parser.parse(frame, 0, frame.length);
  return cache !== null && cache.lookup(parser, frame, client, now) !== null;
}

/** Commands asked between two event-loop turns: 10 ms of the data path's clock (40 a ms). */
const CHUNK = 400;

/** Until the tracking connection has answered what it was sent (fills, probes). */
async function answered(cache: NearCache): Promise<void> {
  do await new Promise((r) => setTimeout(r, 0)); while ((cache.stats().inFlight ?? 0) > 0);
}

/**
 * ns per command of `COMMANDS` commands from `frames`, starting the clock at
 * `t0` ms. The event loop turns between chunks, untimed, as it does between
 * reads on the data path: a cache whose tracking connection were never read
 * would take its unanswered probe for a stalled node.
 */
async function run(
  with_: NearCache | null,
  frames: Uint8Array[],
  t0: number,
): Promise<[number, number]> {
  let hits = 0, ms = 0;
  for (let c = 0; c < COMMANDS; c += CHUNK) {
    const start = performance.now();
    for (let i = c; i < c + CHUNK; i++) {
      if (ask(with_, frames[i & (FRAMES - 1)], t0 + i / 40)) hits++;
    }
    ms += performance.now() - start;
    if (with_ !== null) await answered(with_);
  }
  return [(ms * 1e6) / COMMANDS, hits / COMMANDS];
}

const sup = new Supervisor();
const port = freePort();
let cache: NearCache | null = null;
try {
  const probe = await startRedisServer(sup, "redis", port);
  probe.close();
  cache = new cacheModule.NearCache({
    enabled: true,
    maxKeys: HELD,
    maxBytes: 64 * 1024 * 1024,
    minReads: 3,
    maxAgeMs: 3_600_000,
  });
  const dial = () => Deno.connect({ hostname: "127.0.0.1", port });
  cache.serving([{ id: `127.0.0.1:${port}`, auth: null, dial }]);
  while (!cache.stats().tracking) await new Promise((r) => setTimeout(r, 1));
  // Three reads each within a moment: every key of the first `HELD` is admitted while there is room
  // (the server has no keys: each is cached as a nil, which costs the lookup the same).
  // All within the first 10 s window, which then answers every held key once: a fill phase of
  // misses alone would make the cache lean (it drops its entries) when the measured reads begin.
  for (let i = 0; i < HELD; i++) {
    const f = encodeCommand(["GET", key(i)]);
    for (let r = 0; r < 3; r++) ask(cache, f, i / 20); // 5 ms of the clock per hundred
    if (i % 100 === 99) { // the fills in flight are bounded: let each hundred come back
      const c = cache;
      await waitFor("fills", 30_000, () => Promise.resolve(c.stats().keys > i ? true : undefined));
    }
  }

  for (let i = 0; i < HELD; i++) ask(cache, encodeCommand(["GET", key(i)]), 9_500);

  const cdf = zipfCdf(KEYSPACE, Number(values.zipf));
  const pick = () => key(zipfPick(cdf, Math.random()));
  const gets: Uint8Array[] = [], mgets: Uint8Array[] = [];
  for (let i = 0; i < FRAMES; i++) {
    gets.push(encodeCommand(["GET", pick()]));
    mgets.push(encodeCommand(["MGET", ...Array.from({ length: 10 }, pick)]));
  }

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const out: Record<string, number[]> = {};
  let hitShare = { GET: 0, MGET10: 0 };
  let clock = 10_000;
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, frames] of [["GET", gets], ["MGET10", mgets]] as const) {
      (out[`${name}_parse_ns`] ??= []).push((await run(null, frames, clock))[0]);
      const [ns, hits] = await run(cache, frames, clock);
      (out[`${name}_parse_lookup_ns`] ??= []).push(ns);
      hitShare = { ...hitShare, [name]: hits };
      clock += COMMANDS / 40;
    }
  }
  const summary: Record<string, number> = {};
  for (const [k, v] of Object.entries(out)) summary[k] = Math.round(median(v));
  console.log(JSON.stringify({
    rounds: ROUNDS,
    commandsPerRun: COMMANDS,
    keyspace: KEYSPACE,
    cached: HELD,
    zipf: Number(values.zipf),
    checkout: values.checkout ?? ".",
    hitShare,
    medians: summary,
    cacheNsPerCommand: {
      GET: summary.GET_parse_lookup_ns - summary.GET_parse_ns,
      MGET10: summary.MGET10_parse_lookup_ns - summary.MGET10_parse_ns,
    },
    runs: out,
  }));
} finally {
  cache?.close();
  await sup.stopAll();
}
