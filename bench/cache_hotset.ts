/**
 * The near cache's benchmark (issue 19): GET over a Zipf-skewed hot set of
 * 100,000 keys (`zipf_get.ts`, its own load generator) against the replica
 * directly, shardgate with `cache: true`, shardgate without a cache, and
 * (`cache_all`) shardgate whose cache holds the whole keyspace, admits
 * every key at its first read and keeps it ten minutes — the ceiling of what
 * admission can give — and (`deno_floor`, `get_responder.ts`) a Deno server
 * that answers every GET with the same bytes, no lookup, no node: the floor
 * of a hit; the replica's GET calls during each run; the replica's GETs of
 * the hot set (the 1,000 and 10,000 most popular keys, counted by key from
 * MONITOR in passes of their own: after the hot cells, and through `cache_on`
 * once more right after the cold cell filled it) per client read of it; the
 * cache on over a cold uniform
 * keyspace against off (paired); and the RSS of a shardgate whose cache is
 * bounded below a keyspace larger than it.
 *
 * ```sh
 * node_modules/.bin/deno run -A bench/cache_hotset.ts [--rounds 3] [--seconds 5] [--out FILE] [--generator c]
 * ```
 *
 * `--generator c` drives the Zipf cells with `zipf_get.c` (compiled with
 * `cc` at the start) instead of `zipf_get.ts`: the same load at about 8.5 µs
 * of CPU per GET instead of 13, so on a two-core machine the target under
 * test is not short of CPU because of the generator.
 *
 * Cells rotate their target order per round; raw results are JSON lines in
 * `--out` (default `bench/data/19/hotset-<time>.jsonl`), a summary of medians
 * goes to stdout.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { freePort, rssKb, Supervisor, waitFor } from "./_procs.ts";
import { type MiniRedis, parseInfo, startRedisServer } from "./_redis.ts";
import { buildZipfGetC, zipfCdf } from "./zipf_get.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const DENO = Deno.execPath();
const HOT_KEYS = 100_000;
/** Keys of 100 B past the hot set, for the memory cell (a keyspace larger than the cache). */
const BIG_KEYS = 200_000;

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "5" },
    out: { type: "string" },
    generator: { type: "string", default: "deno" },
  },
});
if (values.generator !== "deno" && values.generator !== "c") {
  throw new Error(`--generator: "deno" or "c", not ${JSON.stringify(values.generator)}`);
}
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const OUT = values.out ??
  `${ROOT}bench/data/19/hotset-${new Date().toISOString().replace(/[:.]/g, "-")}.jsonl`;

interface Load {
  clients: number;
  seconds: number;
  ops: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** zipf_get.ts: GETs of its warm-up second (also seen by the replica). */
  warmupOps?: number;
}

const sup = new Supervisor();
const lines: string[] = [];

function record(row: Record<string, unknown>): void {
  const line = JSON.stringify(row);
  lines.push(line);
  console.error(line);
}

function startRedis(port: number, extra: string[] = []): Promise<MiniRedis> {
  return startRedisServer(sup, `redis-${port}`, port, extra);
}

async function populate(r: MiniRedis, from: number, to: number, value: string): Promise<void> {
  for (let start = from; start < to; start += 1000) {
    const args = ["MSET"];
    for (let i = start; i < Math.min(to, start + 1000); i++) {
      args.push(`key:${String(i).padStart(12, "0")}`, value);
    }
    await r.command(...args);
  }
}

async function gets(r: MiniRedis): Promise<number> {
  const info = parseInfo(String(await r.command("INFO", "commandstats")));
  const m = /calls=(\d+)/.exec(info.get("cmdstat_get") ?? "");
  return Number(m?.[1] ?? 0);
}

async function startShardgate(
  name: string,
  primary: number,
  replica: number,
  cache: string,
): Promise<{ port: number; admin: number; pid: number }> {
  const port = freePort(), admin = freePort();
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(
    file,
    `admin:
  listen: 127.0.0.1:${admin}
shards:
  main:
    readers: 127.0.0.1:${port}
    nodes: [127.0.0.1:${primary}, 127.0.0.1:${replica}]
${cache === "" ? "" : `    cache: ${cache}\n`}`,
  );
  const p = sup.spawn(name, DENO, ["run", "-A", `${ROOT}main.ts`, "run", "--config", file], {
    env: { NO_COLOR: "1" },
  });
  await waitFor(`${name} ready`, 60_000, async () => {
    try {
      const r = await fetch(`http://127.0.0.1:${admin}/readyz`);
      await r.body?.cancel();
      return r.status === 200 ? true : undefined;
    } catch {
      return undefined;
    }
  });
  return { port, admin, pid: p.pid };
}

/** The Zipf generator's command: `zipf_get.ts` on Deno, or `zipf_get.c` compiled here. */
async function generator(): Promise<[string, string[]]> {
  if (values.generator === "deno") return [DENO, ["run", "-A", `${ROOT}bench/zipf_get.ts`]];
  return [await buildZipfGetC(await Deno.makeTempDir()), []];
}
const [GEN, GEN_ARGS] = await generator();

async function load(port: number, clients: number, zipf: number, keys = HOT_KEYS): Promise<Load> {
  const r = await new Deno.Command(GEN, {
    args: [
      ...GEN_ARGS,
      "--port",
      String(port),
      "--clients",
      String(clients),
      "--seconds",
      String(SECONDS),
      "--keys",
      String(keys),
      "--zipf",
      String(zipf),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!r.success) throw new Error(`zipf_get failed on port ${port}`);
  return JSON.parse(new TextDecoder().decode(r.stdout).trim());
}

/** One `redis-benchmark -t get` run over a uniform key space of `keys` keys. */
async function benchmark(port: number, clients: number, keys: number, n: number): Promise<Load> {
  const t0 = performance.now();
  const r = await new Deno.Command("redis-benchmark", {
    args: [
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
      "-t",
      "get",
      "-c",
      String(clients),
      "-n",
      String(n),
      "-r",
      String(keys),
      "--precision",
      "3",
      "--csv",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - t0) / 1000;
  const text = new TextDecoder().decode(r.stdout).trim().split("\n");
  // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
  const row = text[text.length - 1].split(",").map((x) => x.replace(/"/g, ""));
  return {
    clients,
    seconds,
    ops: n,
    opsPerSec: Number(row[1]),
    p50Ms: Number(row[4]),
    p99Ms: Number(row[6]),
    errors: 0,
  };
}

async function cacheStatus(admin: number): Promise<Record<string, unknown>> {
  const r = await fetch(`http://127.0.0.1:${admin}/status`);
  return (await r.json()).shards[0].cache;
}

/** Replica GETs by key rank, counted from a `MONITOR` connection (the hot set's share, see below). */
interface RankCounts {
  /** GETs of keys ranked below 1,000 (`key:<12 digits>`, the rank). */
  top1k: number;
  /** GETs of keys ranked below 10,000 (the default `max_keys`). */
  top10k: number;
  /** All GETs. */
  all: number;
}

/** Starts counting the GETs `port` runs, by key rank, until the returned stop function is called. */
async function monitorGets(port: number): Promise<() => Promise<RankCounts>> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode("MONITOR\r\n"));
  const counts: RankCounts = { top1k: 0, top10k: 0, all: 0 };
  const td = new TextDecoder();
  const done = (async () => {
    let tail = "";
    const buf = new Uint8Array(1 << 16);
    try {
      for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
        const lines = (tail + td.decode(buf.subarray(0, n))).split("\r\n");
        tail = lines.pop()!;
        for (const line of lines) {
          const m = /"GET" "key:(\d{12})"/i.exec(line);
          if (m === null) continue;
          const rank = Number(m[1]);
          counts.all++;
          if (rank < 10_000) counts.top10k++;
          if (rank < 1_000) counts.top1k++;
        }
      }
    } catch {
      // closed by stop()
    }
  })();
  return async () => {
    conn.close();
    await done;
    return counts;
  };
}

/**
 * The hot set's share: the Zipf load once more through `via`, the replica's GETs counted by key
 * rank (MONITOR slows the replica, so this pass is not timed), against the reads of those ranks
 * the clients sent (their expected share of every read sent, from the law).
 */
async function hotSetShare(
  cell: string,
  replicaPort: number,
  via: { port: number; admin: number },
): Promise<void> {
  const stopMonitor = await monitorGets(replicaPort);
  const split = await load(via.port, 50, 0.99);
  const replicaByRank = await stopMonitor();
  const cdf = zipfCdf(HOT_KEYS, 0.99);
  const sent = split.ops + (split.warmupOps ?? 0);
  record({
    cell,
    clientReads: sent,
    replicaGets: replicaByRank,
    top1kShareOfReads: cdf[999],
    top10kShareOfReads: cdf[9_999],
    top1kReplicaPerRead: replicaByRank.top1k / (sent * cdf[999]),
    top10kReplicaPerRead: replicaByRank.top10k / (sent * cdf[9_999]),
    allReplicaPerRead: replicaByRank.all / sent,
    cache: await cacheStatus(via.admin),
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

try {
  const pPort = freePort(), rPort = freePort();
  const primary = await startRedis(pPort);
  const replica = await startRedis(rPort, ["--replicaof", "127.0.0.1", String(pPort)]);
  await populate(primary, 0, HOT_KEYS, "abc");
  await waitFor("replica synced", 60_000, async () => {
    const p = parseInfo(String(await primary.command("INFO", "replication")));
    const r = parseInfo(String(await replica.command("INFO", "replication")));
    return r.get("master_link_status") === "up" &&
        r.get("slave_repl_offset") === p.get("master_repl_offset")
      ? true
      : undefined;
  });
  const on = await startShardgate("sg-cache-on", pPort, rPort, "true");
  const off = await startShardgate("sg-cache-off", pPort, rPort, "");
  const every = await startShardgate(
    "sg-cache-all",
    pPort,
    rPort,
    `{ max_keys: ${HOT_KEYS}, min_reads: 1, max_age: 10m }`,
  );
  const floorPort = freePort();
  sup.spawn("deno-floor", DENO, [
    "run",
    "-A",
    `${ROOT}bench/get_responder.ts`,
    "--port",
    String(floorPort),
  ]);
  await waitFor("deno floor", 30_000, async () => {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port: floorPort })).close();
      return true;
    } catch {
      return undefined;
    }
  });
  const targets: Record<string, number> = {
    direct: rPort,
    cache_on: on.port,
    cache_off: off.port,
    cache_all: every.port,
    deno_floor: floorPort,
  };

  const runs: Record<string, Record<string, Load[]>> = {};
  const gets_: Record<string, Record<string, number[]>> = {};
  const cell = async (
    name: string,
    order: string[],
    clients: number,
    zipf: number,
    rb?: { keys: number; n: number },
  ) => {
    for (let round = 0; round < ROUNDS; round++) {
      const rot = order.map((_, i) => order[(i + round) % order.length]);
      for (const t of rot) {
        const before = await gets(replica);
        const res = rb === undefined
          ? await load(targets[t], clients, zipf)
          : await benchmark(targets[t], clients, rb.keys, rb.n);
        const replicaGets = (await gets(replica)) - before;
        ((runs[name] ??= {})[t] ??= []).push(res);
        const sent = res.ops + (res.warmupOps ?? 0);
        ((gets_[name] ??= {})[t] ??= []).push(replicaGets / Math.max(1, sent));
        record({ cell: name, round, target: t, ...res, replicaGets });
      }
    }
  };
  const all = ["direct", "cache_on", "cache_off"];
  // redis-benchmark (C, light on the shared CPU): a hot set of 1,000 keys, and 100,000 cold ones.
  await cell("rb_hot1k_get_50c", all, 50, 0, { keys: 1000, n: 40 * 5000 });
  await cell("rb_hot1k_get_1c", all, 1, 0, { keys: 1000, n: 20000 });
  await cell("rb_cold_get_50c", ["cache_on", "cache_off"], 50, 0, { keys: HOT_KEYS, n: 200000 });
  // zipf_get.ts (Deno) or zipf_get.c (`--generator c`): Zipf 0.99 over 100,000 keys. The cold
  // cell before left `cache_on` full of uniformly read keys: the hot set displaces them.
  const hot = [...all, "cache_all", "deno_floor"];
  await cell("hot_get_50c", hot, 50, 0.99);
  await cell("hot_get_1c", hot, 1, 0.99);
  // The hot set's replica GETs once the caches have served it for the cells above.
  await hotSetShare("hot_set_replica_share", rPort, on);
  await hotSetShare("hot_set_replica_share_cache_all", rPort, every);
  await cell("cold_get_50c", ["cache_on", "cache_off"], 50, 0);
  record({ cell: "cache_status_after", ...(await cacheStatus(on.admin)) });
  record({ cell: "cache_all_status_after", ...(await cacheStatus(every.admin)) });
  // And right after the cold cell filled `cache_on` with uniformly read keys: how much of the hot
  // set is back within one run.
  await hotSetShare("hot_set_replica_share_after_scan", rPort, on);

  // Memory: a cache bounded at 8 MiB under 300,000 keys read uniformly, every read admitted.
  await populate(primary, HOT_KEYS, HOT_KEYS + BIG_KEYS, "v".repeat(100));
  await waitFor("replica synced", 60_000, async () => {
    const p = parseInfo(String(await primary.command("INFO", "replication")));
    const r = parseInfo(String(await replica.command("INFO", "replication")));
    return r.get("slave_repl_offset") === p.get("master_repl_offset") ? true : undefined;
  });
  const bound = 8 * 1024 * 1024;
  const mem = await startShardgate(
    "sg-cache-mem",
    pPort,
    rPort,
    `{ min_reads: 1, max_keys: 1000000, max_bytes: ${bound} }`,
  );
  const rssBefore = rssKb(mem.pid);
  const memLoad = await load(mem.port, 50, 0, HOT_KEYS + BIG_KEYS);
  const st = await cacheStatus(mem.admin);
  const rssAfter = rssKb(mem.pid);
  // The same load on the shardgate without a cache: its RSS is the baseline.
  const offBefore = rssKb(off.pid);
  await load(off.port, 50, 0, HOT_KEYS + BIG_KEYS);
  const offAfter = rssKb(off.pid);
  record({
    cell: "memory_bound",
    boundBytes: bound,
    keyspace: HOT_KEYS + BIG_KEYS,
    cacheBytes: st.bytes,
    cacheKeys: st.keys,
    sizeEvictions: (st.evictions as Record<string, number>).size,
    rssKbIdle: rssBefore,
    rssKbAfter: rssAfter,
    cacheOffRssKbBefore: offBefore,
    cacheOffRssKbAfter: offAfter,
    ...memLoad,
  });

  // Summary (medians over rounds).
  const ops = (l: Load) => l.opsPerSec, p50 = (l: Load) => l.p50Ms;
  /** A cell's median of `f` per target, in the order the targets first ran. */
  const perTarget = (c: string, f: (l: Load) => number) =>
    Object.fromEntries(Object.keys(runs[c]).map((t) => [t, median(runs[c][t].map(f))]));
  /** The median over rounds of `t`'s ops/s ÷ `base`'s in the same round. */
  const paired = (c: string, base: string, t = "cache_on") =>
    median(runs[c][t].map((l, i) => l.opsPerSec / runs[c][base][i].opsPerSec));
  const replicaGets = (c: string) =>
    Object.fromEntries(
      Object.keys(gets_[c]).filter((t) => t !== "direct" && t !== "deno_floor")
        .map((t) => [t, median(gets_[c][t])]),
    );
  const summary = {
    generator: values.generator,
    rb_hot1k_get_50c_ops: {
      ...perTarget("rb_hot1k_get_50c", ops),
      on_vs_direct_paired: paired("rb_hot1k_get_50c", "direct"),
    },
    rb_hot1k_get_1c_p50_ms: perTarget("rb_hot1k_get_1c", p50),
    rb_hot1k_replica_gets_per_op_50c: replicaGets("rb_hot1k_get_50c"),
    rb_cold_get_50c_ops: {
      ...perTarget("rb_cold_get_50c", ops),
      paired_ratio_median: paired("rb_cold_get_50c", "cache_off"),
    },
    hot_get_50c_ops: {
      ...perTarget("hot_get_50c", ops),
      on_vs_direct_paired: paired("hot_get_50c", "direct"),
      all_vs_direct_paired: paired("hot_get_50c", "direct", "cache_all"),
      floor_vs_direct_paired: paired("hot_get_50c", "direct", "deno_floor"),
      on_vs_floor_paired: paired("hot_get_50c", "deno_floor"),
      all_vs_floor_paired: paired("hot_get_50c", "deno_floor", "cache_all"),
    },
    hot_get_1c_p50_ms: perTarget("hot_get_1c", p50),
    replica_gets_per_op_hot_50c: replicaGets("hot_get_50c"),
    cold_get_50c_ops: {
      ...perTarget("cold_get_50c", ops),
      paired_ratio_median: paired("cold_get_50c", "cache_off"),
    },
  };
  record({ cell: "summary", ...summary });
  console.log(JSON.stringify(summary, null, 2));
} finally {
  await sup.stopAll();
  await Deno.mkdir(OUT.slice(0, OUT.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(OUT, lines.join("\n") + "\n");
  console.error(`raw results: ${OUT}`);
}
