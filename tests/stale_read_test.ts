/**
 * End-to-end: the stale-read checker. Several worker processes each write
 * an increasing value (through the writer port and the split port) and
 * read it back at once through the readers port and the split port, while
 * the lag device (`_lag_relay.ts`) holds the replica's replication stream
 * 0, 5, 50 and 500 ms behind. `consistency: host` gives 0 stale reads at
 * every lag, across processes and ports; `session` gives 0 for a split
 * session's own writes; `eventual` shows what they buy (its count is
 * reported, not asserted). The share of gated reads a replica served is
 * reported at each lag from `/metrics`; at 0-5 ms it is at least 90%.
 *
 * `STALE_OPS` (writes per worker, default 30) and `STALE_WORKERS`
 * (default 3) make a larger run; `STALE_WAIT_MS` sets `consistency_wait`
 * (default 50 ms here).
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  parsePrometheus,
  REPO_ROOT,
  sampleValue,
  type ShardgateProcess,
  startRedis,
  startShardgate,
} from "./helpers/mod.ts";
import { E2E } from "./_health_helpers.ts";
import { reloaded } from "./_reload_helpers.ts";
import { LagRelay, replicaThrough } from "./_lag_relay.ts";
import type { StaleCounts } from "./_stale_worker.ts";

const OPS = Number(Deno.env.get("STALE_OPS") ?? 30);
const WORKERS = Number(Deno.env.get("STALE_WORKERS") ?? 3);
const LAGS = [0, 5, 50, 500];
const MODES = ["host", "session", "eventual"] as const;
/**
 * How long a gated read waits for the replica: more than the default 20 ms,
 * so a loaded machine's scheduling does not push reads at 5 ms of lag past it
 * (`STALE_WAIT_MS` to change it).
 */
const WAIT_MS = Number(Deno.env.get("STALE_WAIT_MS") ?? 50);

function yaml(nodes: readonly string[], mode: string): string {
  return `admin: { listen: 127.0.0.1:0 }
shards:
  main:
    readers: 127.0.0.1:0
    writer: 127.0.0.1:0
    split: 127.0.0.1:0
    nodes: [${nodes.join(", ")}]
    consistency: ${mode}
    consistency_wait: ${WAIT_MS}ms
    check: { interval: 100ms, timeout: 500ms, rise: 1, fall: 3, max_lag: 60s }
    hedge: { budget: 0 }
`;
}

/** Gated reads and those a replica served, from `/metrics`. */
async function gated(sg: ShardgateProcess): Promise<{ gated: number; replica: number }> {
  const text = await (await fetch(`http://127.0.0.1:${sg.adminPort}/metrics`)).text();
  const f = parsePrometheus(text);
  return {
    gated: sampleValue(f, "shardgate_gated_reads_total", { shard: "main" }) ?? 0,
    replica: sampleValue(f, "shardgate_gated_reads_replica_total", { shard: "main" }) ?? 0,
  };
}

/** A worker process (`_stale_worker.ts`), driven line by line. */
class Worker {
  #child: Deno.ChildProcess;
  #lines: ReadableStreamDefaultReader<string>;
  #buf = "";
  #stdin: WritableStreamDefaultWriter<Uint8Array>;

  constructor(ports: { writer?: number; readers: number; split?: number }) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${REPO_ROOT}/tests/_stale_worker.ts`, JSON.stringify(ports)],
      cwd: REPO_ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#lines = this.#child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    this.#stdin = this.#child.stdin.getWriter();
  }

  /** The next line it prints. */
  async line(): Promise<string> {
    for (;;) {
      const nl = this.#buf.indexOf("\n");
      if (nl >= 0) {
        const line = this.#buf.slice(0, nl);
        this.#buf = this.#buf.slice(nl + 1);
        return line;
      }
      const { value, done } = await this.#lines.read();
      if (done) throw new Error("stale worker exited");
      this.#buf += value;
    }
  }

  /** One check: `ops` writes to `key`, each read back through both ports. */
  async run(key: string, ops: number): Promise<StaleCounts> {
    await this.#stdin.write(new TextEncoder().encode(JSON.stringify({ key, ops }) + "\n"));
    return JSON.parse(await this.line()) as StaleCounts;
  }

  /** Ends it (closes its input) and waits for it. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.#stdin.close();
    } catch {
      // gone
    }
    const t = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // exited
      }
    }, 5_000);
    await this.#child.status;
    clearTimeout(t);
    await this.#lines.cancel().catch(() => {});
  }
}

/** Runs one check on every worker at once; sums their counts. */
async function runWorkers(workers: readonly Worker[], cell: string): Promise<StaleCounts> {
  const all = await Promise.all(workers.map((w, i) => w.run(`stale:${cell}:${i}`, OPS)));
  const sum: StaleCounts = { reads: 0, staleReaders: 0, staleSplit: 0, staleOwnSplit: 0 };
  for (const c of all) {
    sum.reads += c.reads;
    sum.staleReaders += c.staleReaders;
    sum.staleSplit += c.staleSplit;
    sum.staleOwnSplit += c.staleOwnSplit;
  }
  return sum;
}

Deno.test(
  "stale reads: host 0 at every lag, session 0 for its own writes, eventual counted",
  E2E,
  async () => {
    await using primary = await startRedis();
    await using relay = new LagRelay(primary.port);
    await using replica = await replicaThrough(relay);
    const nodes = [primary.address, replica.address];
    await using sg = await startShardgate(yaml(nodes, MODES[0]));
    const workers = Array.from({ length: WORKERS }, () => new Worker(sg.ports.main));
    await using _stop = {
      [Symbol.asyncDispose]: async () =>
        void await Promise.all(workers.map((w) => w[Symbol.asyncDispose]())),
    };
    for (const w of workers) assertEquals(await w.line(), "ready");
    const rows: string[] = [];
    const failures: string[] = [];
    for (const mode of MODES) {
      if (mode !== MODES[0]) {
        const from = sg.logs().length;
        await sg.writeConfig(yaml(nodes, mode));
        await reloaded(sg, from);
      }
      for (const lag of LAGS) {
        relay.delayMs = lag;
        const before = await gated(sg);
        const t0 = performance.now();
        const c = await runWorkers(workers, `${mode}-${lag}`);
        const took = performance.now() - t0;
        const after = await gated(sg);
        const g = after.gated - before.gated;
        const share = g === 0 ? 1 : (after.replica - before.replica) / g;
        rows.push(
          `${mode.padEnd(8)} lag ${
            String(lag).padStart(3)
          } ms: ${c.reads} reads, stale readers ${c.staleReaders}, ` +
            `split ${c.staleSplit} (own ${c.staleOwnSplit}); gated ${g}, replica share ${
              (share * 100).toFixed(1)
            }% (${took.toFixed(0)} ms)`,
        );
        if (mode === "host" && c.staleReaders + c.staleSplit > 0) failures.push(rows.at(-1)!);
        if (mode === "session" && c.staleOwnSplit > 0) failures.push(rows.at(-1)!);
        if (mode === "host" && lag <= 5 && share < 0.9) {
          failures.push(
            `${rows.at(-1)!} (share < 90%)`,
          );
        }
      }
    }
    relay.delayMs = 0;
    console.log(
      `stale-read checker, ${WORKERS} processes x ${OPS} writes, consistency_wait ${WAIT_MS} ms:\n  ${
        rows.join("\n  ")
      }`,
    );
    assertEquals(failures, []);
    assert(rows.length === MODES.length * LAGS.length);
  },
);
