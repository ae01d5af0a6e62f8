/**
 * Sustained client load for failure tests ("kill a replica under load,
 * expect zero failed reads"): N clients each run an operation in a loop
 * until stopped; successes, failures, error messages and slow operations
 * are counted.
 *
 * @module
 */

import {
  LOAD_FAILURE_BACKOFF_MS,
  LOAD_MAX_ERROR_MESSAGES,
  LOAD_SLOW_OP_MS,
  LOAD_STOP_TIMEOUT_MS,
} from "./_defaults.ts";
import { closeClient, redisClient, type TestClient } from "./client.ts";
import { delay, errorText, waitFor, withTimeout } from "./wait.ts";

/** Options of {@linkcode loadLoop}. */
export interface LoadLoopOptions {
  /** Port to connect the clients to (ignored when `connect` is given). */
  port?: number;
  /** How to make a client; default `redisClient(port)`. */
  connect?: () => Promise<TestClient>;
  /** Concurrent clients, each running `op` in a loop; default 10. */
  clients?: number;
  /**
   * One operation. Throw to count a failure, e.g.
   * `async (c) => { if (await c.get("k") !== "v") throw new Error("wrong value"); }`.
   */
  op: (client: TestClient, worker: number, iteration: number) => Promise<void>;
  /** An operation slower than this counts in `slow`; default 1000 ms. */
  slowMs?: number;
  /** Pause between two operations of one client; default 0 (as fast as possible). */
  pauseMs?: number;
  /** How long `stop()` lets in-flight operations finish before destroying clients; default 5 s. */
  stopTimeoutMs?: number;
}

/** Counters of a load loop. */
export interface LoadStats {
  /** Operations that completed without throwing. */
  ok: number;
  /** Operations (and reconnect attempts) that threw. */
  failed: number;
  /** Times a worker replaced a client whose connection was closed. */
  reconnects: number;
  /** Operations that took longer than `slowMs`. */
  slow: number;
  /** Longest operation, in ms. */
  maxLatencyMs: number;
  /** Distinct error messages, first seen first (at most 100). */
  errors: string[];
  /** How often each distinct message occurred. */
  errorCounts: Record<string, number>;
  /** Time since the loop started, in ms. */
  elapsedMs: number;
}

/** A running load loop. */
export interface LoadLoop {
  /** A snapshot of the counters. */
  stats(): LoadStats;
  /** Waits until `n` more operations have succeeded (proves traffic flows). */
  waitForOk(n: number, timeoutMs?: number): Promise<void>;
  /**
   * Stops the loop: lets in-flight operations finish (up to `stopTimeoutMs`, after which
   * clients are destroyed and those operations are not counted), closes every
   * client, returns the final counters. Idempotent.
   */
  stop(): Promise<LoadStats>;
  /** Same as `stop()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Connects the clients (throws if any fails), then starts every worker and
 * returns the handle. A worker whose client's connection closed replaces it
 * with a new one (counting `reconnects`) and pauses 10 ms after a failure so
 * an outage does not become a hot loop.
 */
export async function loadLoop(opts: LoadLoopOptions): Promise<LoadLoop> {
  const port = opts.port;
  const connect = opts.connect ?? (() => {
    if (port === undefined) throw new Error("loadLoop: give port or connect");
    return redisClient(port);
  });
  const n = opts.clients ?? 10;
  const slowMs = opts.slowMs ?? LOAD_SLOW_OP_MS;
  const results = await Promise.allSettled(Array.from({ length: n }, () => connect()));
  const clients = results.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
  const failedConnect = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failedConnect) {
    for (const c of clients) closeClient(c);
    throw failedConnect.reason;
  }

  const started = Date.now();
  const s: LoadStats = {
    ok: 0,
    failed: 0,
    reconnects: 0,
    slow: 0,
    maxLatencyMs: 0,
    errors: [],
    errorCounts: {},
    elapsedMs: 0,
  };
  let stopping = false;
  let destroying = false;
  const current: (TestClient | null)[] = [...clients];

  const fail = (e: unknown) => {
    if (destroying) return;
    s.failed++;
    const msg = errorText(e);
    if (s.errorCounts[msg] === undefined) {
      if (s.errors.length >= LOAD_MAX_ERROR_MESSAGES) return;
      s.errors.push(msg);
      s.errorCounts[msg] = 0;
    }
    s.errorCounts[msg]++;
  };

  const worker = async (w: number) => {
    for (let i = 0; !stopping; i++) {
      let client = current[w];
      if (client === null || !client.isOpen) {
        if (client !== null) closeClient(client);
        current[w] = null;
        try {
          client = await connect();
          if (stopping) {
            closeClient(client);
            return;
          }
          current[w] = client;
          s.reconnects++;
        } catch (e) {
          fail(e);
          await delay(LOAD_FAILURE_BACKOFF_MS);
          continue;
        }
      }
      const t0 = performance.now();
      try {
        await opts.op(client, w, i);
        if (destroying) return;
        s.ok++;
      } catch (e) {
        fail(e);
        if (!stopping) await delay(LOAD_FAILURE_BACKOFF_MS);
      }
      const took = performance.now() - t0;
      if (took > s.maxLatencyMs) s.maxLatencyMs = took;
      if (took > slowMs) s.slow++;
      if (opts.pauseMs && !stopping) await delay(opts.pauseMs);
    }
  };
  const workers = Promise.all(Array.from({ length: n }, (_, w) => worker(w)));

  const snapshot = (): LoadStats => ({
    ...s,
    errors: [...s.errors],
    errorCounts: { ...s.errorCounts },
    elapsedMs: Date.now() - started,
  });

  let stopped: Promise<LoadStats> | null = null;
  const stop = (): Promise<LoadStats> => {
    stopped ??= (async () => {
      stopping = true;
      try {
        await withTimeout(workers, opts.stopTimeoutMs ?? LOAD_STOP_TIMEOUT_MS, "load loop stop");
      } catch {
        destroying = true;
      }
      const final = snapshot();
      for (const c of current) if (c) closeClient(c);
      await workers;
      return final;
    })();
    return stopped;
  };

  return {
    stats: snapshot,
    async waitForOk(count: number, timeoutMs?: number): Promise<void> {
      const target = s.ok + count;
      await waitFor(() => s.ok >= target, {
        timeoutMs,
        message: `${count} more successful operations (at ${s.ok}, failed ${s.failed}: ${
          s.errors.slice(0, 3).join(" | ")
        })`,
      });
    },
    stop,
    async [Symbol.asyncDispose](): Promise<void> {
      await stop();
    },
  };
}
