/**
 * Shared pieces of the health end-to-end tests (`health_*_test.ts`): the
 * one-shard config, a replicated dataset of numbered keys, a read load that
 * fails on any wrong or missing value, per-node command counters read from
 * the servers, and log-line lookups with their timestamps.
 *
 * @module
 */

import {
  closeClient,
  delay,
  type LoadLoop,
  loadLoop,
  type LogRecord,
  parseInfo,
  redisClient,
  type RedisProcess,
  type ReplicaSet,
  type ShardgateProcess,
  type TestClient,
} from "./helpers/mod.ts";

/** Test options: these tests run processes, so the sanitizers are off. */
export const E2E = { sanitizeOps: false, sanitizeResources: false };

/** Shard name used by every health e2e test. */
export const SHARD = "main";

/** Keys per MSET in `populate`. */
const POPULATE_BATCH = 1000;

/** Slack for timing assertions on a shared, noisy 2-core machine. */
export const SLACK_MS = 600;

/**
 * One shard `main` with readers and writer on port 0, the given nodes, and
 * extra shard keys (YAML lines without indentation).
 */
export function shardYaml(nodes: readonly string[], extra: string[] = []): string {
  return `shards:
  ${SHARD}:
    readers: 127.0.0.1:0
    writer: 127.0.0.1:0
    nodes: [${nodes.join(", ")}]
${extra.map((l) => `    ${l}\n`).join("")}`;
}

/**
 * Writes keys `key:0..n-1` with values `value:0..n-1` to the primary (MSET
 * batches, so they replicate: `DEBUG POPULATE` does not) and waits until
 * every replica has them.
 */
export async function populate(set: ReplicaSet, n: number): Promise<void> {
  const c = await redisClient(set.primary.port);
  try {
    const batches: Promise<unknown>[] = [];
    for (let start = 0; start < n; start += POPULATE_BATCH) {
      const args = ["MSET"];
      for (let i = start; i < Math.min(n, start + POPULATE_BATCH); i++) {
        args.push(`key:${i}`, `value:${i}`);
      }
      batches.push(c.sendCommand(args));
    }
    await Promise.all(batches);
  } finally {
    closeClient(c);
  }
  await set.waitSynced();
}

/**
 * `clients` readers each GETting random keys of a `populate`d dataset of
 * `keys` keys; a missing (null) or wrong value throws, so it counts as failed.
 */
export function readLoad(port: number, keys: number, clients = 10): Promise<LoadLoop> {
  return loadLoop({
    port,
    clients,
    op: async (c: TestClient) => {
      const i = Math.floor(Math.random() * keys);
      const v = await c.get(`key:${i}`);
      if (v !== `value:${i}`) throw new Error(`GET key:${i} returned ${v}`);
    },
  });
}

/** `calls` and `rejected_calls` of one command in a node's `INFO commandstats`. */
export interface CommandCount {
  calls: number;
  rejected: number;
}

/** Parses `cmdstat_<cmd>:calls=..,rejected_calls=..` out of INFO text (zeros when absent). */
export function commandCount(info: Record<string, string>, cmd = "get"): CommandCount {
  const v = info[`cmdstat_${cmd}`];
  if (v === undefined) return { calls: 0, rejected: 0 };
  const calls = /(?:^|,)calls=(\d+)/.exec(v);
  const rejected = /(?:^|,)rejected_calls=(\d+)/.exec(v);
  return { calls: Number(calls?.[1] ?? 0), rejected: Number(rejected?.[1] ?? 0) };
}

/** GET counts of a node (`INFO commandstats`). */
export async function getCount(node: RedisProcess): Promise<CommandCount> {
  return commandCount(parseInfo(await node.cli("INFO", "commandstats")));
}

/** Epoch ms of a log record's `time` field. */
export function logTime(rec: LogRecord): number {
  const t = Date.parse(String(rec.time));
  if (!Number.isFinite(t)) throw new Error(`log line without a time: ${JSON.stringify(rec)}`);
  return t;
}

/** Predicate: a `node status changed` line for `node` to `to`. */
export function statusChanged(node: RedisProcess, to: string): (l: LogRecord) => boolean {
  return (l) => l.msg === "node status changed" && l.node === node.address && l.to === to;
}

/** Predicate: a line with message `msg` about `node`. */
export function nodeLine(node: RedisProcess, msg: string): (l: LogRecord) => boolean {
  return (l) => l.msg === msg && l.node === node.address;
}

/** Every parsed log line of `sg` from index `from` matching `pred`. */
export function linesSince(
  sg: ShardgateProcess,
  from: number,
  pred: (l: LogRecord) => boolean,
): LogRecord[] {
  return sg.records().slice(from).filter(pred);
}

/** One poll of a node by {@linkcode watchNode}. */
export interface NodeSample {
  /** Epoch ms when the answer arrived. */
  at: number;
  /** `loading:1`. */
  loading: boolean;
  /** `master_sync_in_progress:1`. */
  syncing: boolean;
  /** `master_link_status:up`. */
  linkUp: boolean;
  /** GETs it executed and rejected so far. */
  gets: CommandCount;
}

/** A running poll of one node's `INFO all`. */
export interface NodeWatch {
  /** Every answered poll so far. */
  readonly samples: readonly NodeSample[];
  /** Stops polling; resolves once the last poll is done. */
  stop(): Promise<void>;
}

/**
 * Polls `INFO all` of `node` (one command, so replication state and command
 * counters are one consistent snapshot) every `everyMs` until stopped.
 * Polls that fail (the process is down) are skipped.
 */
export function watchNode(node: RedisProcess, everyMs = 20): NodeWatch {
  const samples: NodeSample[] = [];
  let stopped = false;
  const run = (async () => {
    while (!stopped) {
      try {
        const info = parseInfo(await node.cli("INFO", "all"));
        samples.push({
          at: Date.now(),
          loading: info.loading === "1",
          syncing: info.master_sync_in_progress === "1",
          linkUp: info.master_link_status === "up",
          gets: commandCount(info),
        });
      } catch {
        // not answering now
      }
      if (!stopped) await delay(everyMs);
    }
  })();
  return {
    samples,
    async stop(): Promise<void> {
      stopped = true;
      await run;
    },
  };
}
