/**
 * Bad input, bounded: for a few seconds, several raw connections feed
 * random and mutated RESP into the readers port (truncated frames, wrong
 * lengths, negative and huge counts, deep nesting, binary garbage, inline
 * lines of extreme length) while well-behaved clients (RESP2 and RESP3) read
 * through the same port. shardgate must not crash or hang, its memory must
 * stay bounded, and every well-behaved read must get its correct value.
 *
 * The seed is printed; `FUZZ_SEED=<seed>` replays the same cases (each
 * connection's sequence is fixed by the seed; their interleaving is not).
 */

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { startReplicaSet, startShardgate } from "../helpers/mod.ts";
import { populate, SHARD } from "../_health_helpers.ts";
import { DEFAULT_KEYS, E2E, faultConfig, WARMUP_READS } from "./_fault.ts";
import { formatPercentiles } from "./_latency.ts";
import { announceSeed, Prng } from "./_prng.ts";
import { exchange } from "./_raw.ts";
import { type FuzzCase, fuzzCase } from "./_resp_fuzz.ts";
import { cleanExit, crashLines, RssSampler } from "./_watch.ts";
import { startTraffic } from "./_traffic.ts";

/** How long the fuzzing lasts. */
const FUZZ_MS = 8_000;
/** Fuzzing connections at once. */
const FUZZ_WORKERS = 8;
/** Well-behaved RESP2 clients reading meanwhile (few: the fuzzer needs the CPU). */
const CLEAN_RESP2 = 4;
/** Well-behaved RESP3 clients reading meanwhile. */
const CLEAN_RESP3 = 2;
/** How long a case waits for more bytes from shardgate before it hangs up. */
const CASE_IDLE_MS = 100;
/** Most a well-behaved read may take while the fuzzing runs. */
const MAX_CLEAN_READ_MS = 1_000;
/** Most shardgate's RSS may grow over its level before the fuzzing. */
const MAX_RSS_GROWTH_MB = 128;
/** Cases remembered per worker, printed when the run fails. */
const RECENT_CASES = 5;

/** Counts of what the cases got back. */
interface FuzzStats {
  cases: number;
  closedByServer: number;
  protocolErrors: number;
  byKind: Record<string, number>;
  recent: string[];
}

/** Runs cases from `rng` on fresh connections to `port` until `deadline`. */
async function fuzzWorker(port: number, rng: Prng, deadline: number, s: FuzzStats): Promise<void> {
  const recent: string[] = [];
  while (Date.now() < deadline) {
    const c: FuzzCase = fuzzCase(rng);
    const size = c.pieces.reduce((n, p) => n + p.length, 0);
    recent.push(`${c.kind} (${size} bytes in ${c.pieces.length} pieces)`);
    if (recent.length > RECENT_CASES) recent.shift();
    const got = await exchange(port, c.pieces, {
      idleMs: CASE_IDLE_MS,
      shutdownWrite: c.shutdownWrite,
    });
    s.cases++;
    s.byKind[c.kind] = (s.byKind[c.kind] ?? 0) + 1;
    if (got.closed) s.closedByServer++;
    if (got.text.includes("-ERR Protocol error")) s.protocolErrors++;
  }
  s.recent.push(...recent);
}

Deno.test(
  "bad input: random and mutated RESP on the readers port leave shardgate and its other clients unharmed",
  E2E,
  async () => {
    const seed = announceSeed("client input fuzz");
    await using set = await startReplicaSet({ replicas: 1 });
    await populate(set, DEFAULT_KEYS);
    await using sg = await startShardgate(faultConfig(set.addresses));
    const port = sg.ports[SHARD].readers;
    await using traffic = await startTraffic({
      readersPort: port,
      keys: DEFAULT_KEYS,
      resp2Readers: CLEAN_RESP2,
      resp3Readers: CLEAN_RESP3,
    });
    await traffic.waitForOk(WARMUP_READS);
    traffic.startMeasuring();
    await traffic.waitForOk(WARMUP_READS);

    const stats: FuzzStats = {
      cases: 0,
      closedByServer: 0,
      protocolErrors: 0,
      byKind: {},
      recent: [],
    };
    await using rss = new RssSampler(sg.pid);
    traffic.faultStarts();
    const deadline = Date.now() + FUZZ_MS;
    await Promise.all(
      Array.from(
        { length: FUZZ_WORKERS },
        (_, i) => fuzzWorker(port, new Prng(seed + i), deadline, stats),
      ),
    );
    await traffic.waitForOk(WARMUP_READS);
    traffic.faultEnds();
    const report = await traffic.stop();
    const growthMb = rss.growthMb;
    console.log(
      `FUZZ client input seed=${seed}: ${stats.cases} cases ${JSON.stringify(stats.byKind)}; ` +
        `${stats.closedByServer} closed by shardgate, ${stats.protocolErrors} protocol errors; ` +
        `RSS ${(rss.first / 1048576).toFixed(0)} MB, max +${growthMb.toFixed(0)} MB; ` +
        `well-behaved reads ok=${report.reads.ok} failed=${report.reads.failed}, ` +
        formatPercentiles(report.during),
    );
    const violations: string[] = [];
    if (!sg.running) violations.push("shardgate exited");
    violations.push(...crashLines(sg));
    if (report.reads.failed > 0) {
      violations.push(
        `${report.reads.failed} reads failed: ${JSON.stringify(report.reads.errors)}`,
      );
    }
    if (!(report.during.max < MAX_CLEAN_READ_MS)) {
      violations.push(`a well-behaved read took ${report.during.max.toFixed(0)} ms`);
    }
    if (growthMb > MAX_RSS_GROWTH_MB) violations.push(`RSS grew by ${growthMb.toFixed(0)} MB`);
    if (stats.protocolErrors === 0) violations.push("no case was refused: the fuzzer missed");
    violations.push(...await cleanExit(sg));
    assertEquals(
      { seed, violations },
      { seed, violations: [] },
      `last cases per connection:\n${stats.recent.join("\n")}`,
    );
  },
);
