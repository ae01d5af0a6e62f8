/**
 * Shared pieces of the live-reload end-to-end tests (`reload_*_test.ts`):
 * config text builders with fast checks, waits for the reload log lines,
 * per-node read counters and connection counts read from the servers
 * themselves, and the "no failure, no dropped client" assertion.
 *
 * @module
 */

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import {
  closeClient,
  type LoadStats,
  type LogRecord,
  redisClient,
  type ShardgateProcess,
  type TestClient,
  waitFor,
} from "./helpers/mod.ts";

/** Test options: these tests run processes, so the sanitizers are off. */
export const E2E = { sanitizeOps: false, sanitizeResources: false };

/** `defaults:` with fast checks, so nodes join and leave within a few hundred ms. */
export const FAST_DEFAULTS = `defaults:
  check: { interval: 100ms, timeout: 500ms, rise: 2, fall: 2 }
`;

/** One shard of a test config. */
export interface ShardSpec {
  /** Readers listen address; default `127.0.0.1:0`. */
  readers?: string;
  /** Writer listen address; default `127.0.0.1:0`; null for none. */
  writer?: string | null;
  /** Node entries as YAML flow items (`127.0.0.1:6379`, `{ address: …, weight: 3 }`). */
  nodes: string[];
  /** Extra shard keys, each a YAML line without indentation (e.g. `timeouts: { server: 5s }`). */
  extra?: string[];
}

/** A whole config: fast-check defaults (plus `defaults` lines) and the shards in order. */
export function configYaml(
  shards: Record<string, ShardSpec>,
  defaults: string[] = [],
): string {
  let out = FAST_DEFAULTS + defaults.map((l) => `  ${l}\n`).join("") + "shards:\n";
  for (const [name, s] of Object.entries(shards)) {
    out += `  ${name}:\n`;
    out += `    readers: ${s.readers ?? "127.0.0.1:0"}\n`;
    const writer = s.writer === undefined ? "127.0.0.1:0" : s.writer;
    if (writer !== null) out += `    writer: ${writer}\n`;
    out += `    nodes: [${s.nodes.join(", ")}]\n`;
    for (const l of s.extra ?? []) out += `    ${l}\n`;
  }
  return out;
}

/** A weighted node entry. */
export function weighted(address: string, weight: number): string {
  return `{ address: "${address}", weight: ${weight} }`;
}

/** Waits for a `config reloaded` line logged at or after index `from`; returns it. */
export function reloaded(
  sg: ShardgateProcess,
  from: number,
  timeoutMs = 10_000,
): Promise<LogRecord> {
  return sg.waitForLog((l) => l.msg === "config reloaded", timeoutMs, { from });
}

/** Waits for a `config rejected` line logged at or after index `from`; returns it. */
export function rejected(
  sg: ShardgateProcess,
  from: number,
  timeoutMs = 10_000,
): Promise<LogRecord> {
  return sg.waitForLog(
    (l) => l.msg === "config rejected; the running config stays",
    timeoutMs,
    { from },
  );
}

/** The `config reloaded` lines logged so far. */
export function reloadCount(sg: ShardgateProcess): number {
  return sg.records().filter((l) => l.msg === "config reloaded").length;
}

/** A field of a log line as text (fails the test when missing). */
export function field(rec: LogRecord, name: string): string {
  const v = rec[name];
  if (typeof v !== "string") {
    throw new Error(`log line has no text field "${name}": ${JSON.stringify(rec)}`);
  }
  return v;
}

/** Regex-escapes `s`. */
export function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Asserts a load loop saw no failed operation and no dropped connection. */
export function assertClean(stats: LoadStats, what: string): void {
  assertEquals(
    { what, failed: stats.failed, reconnects: stats.reconnects, errors: stats.errors },
    { what, failed: 0, reconnects: 0, errors: [] },
  );
}

/**
 * True when a TCP connect to 127.0.0.1:`port` fails: refused, or reset
 * while the closed listening socket is still being torn down.
 */
export async function refuses(port: number): Promise<boolean> {
  try {
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    c.close();
    return false;
  } catch (e) {
    return e instanceof Deno.errors.ConnectionRefused || e instanceof Deno.errors.ConnectionReset;
  }
}

/** Name of the observer clients, so they can leave themselves out of `CLIENT LIST`. */
const OBSERVER = "sg-reload-observer";

/**
 * Direct clients to redis-server nodes that read what shardgate did to them:
 * how many GETs each served and how many connections it holds there.
 */
export class NodeObserver implements AsyncDisposable {
  #clients: TestClient[];

  private constructor(clients: TestClient[]) {
    this.#clients = clients;
  }

  /** Connects one observer client per node port. */
  static async open(ports: number[]): Promise<NodeObserver> {
    const clients: TestClient[] = [];
    try {
      for (const p of ports) {
        const c = await redisClient(p);
        await c.clientSetName(OBSERVER);
        clients.push(c);
      }
    } catch (e) {
      for (const c of clients) closeClient(c);
      throw e;
    }
    return new NodeObserver(clients);
  }

  /** GET calls served so far by each node (`INFO commandstats`), read concurrently. */
  async gets(): Promise<number[]> {
    const texts = await Promise.all(this.#clients.map((c) => c.info("commandstats")));
    return texts.map((t) => {
      const m = /^cmdstat_get:calls=(\d+)/m.exec(t);
      return m ? Number(m[1]) : 0;
    });
  }

  /** Normal client connections on node `i` other than the observers (shardgate's, here). */
  async connections(i: number): Promise<number> {
    const list = await this.#clients[i].clientList({ TYPE: "NORMAL" });
    return list.filter((c) => c.name !== OBSERVER).length;
  }

  /** Closes the observer clients. */
  close(): void {
    for (const c of this.#clients) closeClient(c);
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

/**
 * GETs served per node while `work` runs: the counters' difference before
 * and after (every GET in these tests comes through shardgate).
 */
export async function getsDuring(obs: NodeObserver, work: () => Promise<void>): Promise<number[]> {
  const before = await obs.gets();
  await work();
  const after = await obs.gets();
  return after.map((n, i) => n - before[i]);
}

/** Waits until `port` refuses connections. */
export function waitRefused(port: number, timeoutMs = 5_000): Promise<void> {
  return waitFor(() => refuses(port), { timeoutMs, message: `port ${port} to refuse connections` });
}
