/**
 * The fault suite's traffic generator: many real clients (the npm `redis`
 * package, RESP2 and RESP3) reading a populated dataset through a shard's
 * readers port and writing unique keys through its writer port, while a
 * test injects one fault. It records every operation (start, end, outcome)
 * so the test can ask for read latency during the fault window and outside
 * it, the operations in flight at a given moment, and which acknowledged
 * writes the primary lost.
 *
 * Built on `loadLoop` (reconnects, back-off, bounded stop) from the harness.
 *
 * @module
 */

import {
  closeClient,
  errorText,
  type LoadLoop,
  loadLoop,
  redisClient,
  type TestClient,
  waitFor,
} from "../helpers/mod.ts";
import { type Percentiles, percentiles } from "./_latency.ts";

/** Reading clients speaking RESP2 (the client's default). */
export const DEFAULT_RESP2_READERS = 12;
/** Reading clients speaking RESP3 (`HELLO 3` at connect). */
export const DEFAULT_RESP3_READERS = 6;
/** Writing clients on the writer port. */
export const DEFAULT_WRITERS = 4;
/** Pause of each client between two operations, so the load leaves CPU for the rest. */
export const DEFAULT_PACE_MS = 1;
/** How long `stop()` lets operations in flight finish before closing their clients. */
export const TRAFFIC_STOP_TIMEOUT_MS = 6_000;
/** The error text of an operation still unanswered when the traffic stopped. */
export const STUCK = `no reply ${TRAFFIC_STOP_TIMEOUT_MS / 1000} s after the traffic stopped`;
/** Distinct error texts kept per operation kind. */
const MAX_ERROR_TEXTS = 30;
/** Keys per MGET when verifying acknowledged writes. */
const VERIFY_BATCH = 500;

/** Options of {@linkcode startTraffic}. */
export interface TrafficOptions {
  /** The shard's readers port. */
  readersPort: number;
  /** The shard's writer port; no writes without it. */
  writerPort?: number;
  /** The dataset holds `key:i` = `value:i` for i < keys (see `populate`). */
  keys: number;
  /** RESP2 reading clients; default {@linkcode DEFAULT_RESP2_READERS}. */
  resp2Readers?: number;
  /** RESP3 reading clients; default {@linkcode DEFAULT_RESP3_READERS}. */
  resp3Readers?: number;
  /** Writing clients; default {@linkcode DEFAULT_WRITERS} (0 with no writer port). */
  writers?: number;
  /** Pause between two operations of one client; default {@linkcode DEFAULT_PACE_MS}. */
  paceMs?: number;
}

/** Outcome counts of one kind of operation. */
export interface OpCounts {
  /** Completed as expected. */
  ok: number;
  /** Rejected, or (reads) answered with a wrong value. */
  failed: number;
  /** Occurrences of each error text (first {@linkcode MAX_ERROR_TEXTS} texts). */
  errors: Record<string, number>;
}

/** What the traffic saw, computed at `stop()`. */
export interface TrafficReport {
  /** Every read. */
  reads: OpCounts & {
    /** Reads answered with a value other than the key's (nil included). */
    wrong: number;
    /** Failed reads of RESP2 clients. */
    failedResp2: number;
    /** Failed reads of RESP3 clients. */
    failedResp3: number;
  };
  /** Every write. */
  writes: OpCounts;
  /** Keys whose SET was acknowledged with OK. */
  acked: readonly string[];
  /** Latency of the measured reads that overlapped the fault window (ok or failed). */
  during: Percentiles;
  /** Latency of the other measured reads (after the warm-up, outside the window). */
  outside: Percentiles;
  /** Longest read of a RESP2 client during the fault window, ms. */
  duringMaxResp2: number;
  /** Longest read of a RESP3 client during the fault window, ms. */
  duringMaxResp3: number;
  /** How long the traffic ran, ms. */
  elapsedMs: number;
}

/** Operations whose [start, end] contains a moment, with their outcomes. */
export interface InFlight {
  /** How many. */
  total: number;
  /** How many failed. */
  failed: number;
  /** Their error texts. */
  errors: Record<string, number>;
}

/** Start, end and outcome of every operation of one kind, in completion order. */
class OpLog {
  readonly starts: number[] = [];
  readonly ends: number[] = [];
  readonly failed: boolean[] = [];
  readonly texts: (string | null)[] = [];
  readonly proto: number[] = [];
  ok = 0;
  bad = 0;
  wrong = 0;
  readonly errors: Record<string, number> = {};

  add(start: number, end: number, proto: number, error: string | null, wrong = false): void {
    this.starts.push(start);
    this.ends.push(end);
    this.failed.push(error !== null);
    this.texts.push(error);
    this.proto.push(proto);
    if (error === null) {
      this.ok++;
      return;
    }
    this.bad++;
    if (wrong) this.wrong++;
    if (this.errors[error] !== undefined) this.errors[error]++;
    else if (Object.keys(this.errors).length < MAX_ERROR_TEXTS) this.errors[error] = 1;
  }

  counts(): OpCounts {
    return { ok: this.ok, failed: this.bad, errors: { ...this.errors } };
  }
}

/** A running traffic generator; stop it with `stop()` (or `await using`). */
export class Traffic implements AsyncDisposable {
  readonly #t0 = performance.now();
  readonly #reads = new OpLog();
  readonly #writes = new OpLog();
  readonly #acked: string[] = [];
  readonly #loops: LoadLoop[] = [];
  #window: { start: number; end: number } | null = null;
  #cutoff = Infinity;
  #measureFrom = 0;
  #pending = 0;
  #clients = 0;
  #stopped: Promise<TrafficReport> | null = null;

  /** Milliseconds since the traffic started (the time base of every figure). */
  now(): number {
    return performance.now() - this.#t0;
  }

  /** Operations started and not finished yet. */
  get pending(): number {
    return this.#pending;
  }

  /** Clients running operations (readers and writers). */
  get clients(): number {
    return this.#clients;
  }

  /** Latency figures count only reads that start from now on (after the warm-up). */
  startMeasuring(): void {
    this.#measureFrom = this.now();
  }

  /** Marks the start of the fault window (now). */
  faultStarts(): void {
    const t = this.now();
    this.#window = { start: t, end: Infinity };
  }

  /** Marks the end of the fault window (now). */
  faultEnds(): void {
    if (this.#window === null) throw new Error("faultEnds() before faultStarts()");
    this.#window.end = this.now();
  }

  /** Waits until `n` more reads (and, with writers, `writes` more writes) succeeded. */
  async waitForOk(n: number, writes = 0, timeoutMs?: number): Promise<void> {
    const reads = this.#reads.ok + n;
    const wrote = this.#writes.ok + writes;
    await waitFor(() => this.#reads.ok >= reads && this.#writes.ok >= wrote, {
      timeoutMs,
      message: `${n} more reads and ${writes} more writes (reads ok=${this.#reads.ok} ` +
        `failed=${this.#reads.bad}, writes ok=${this.#writes.ok} failed=${this.#writes.bad}: ` +
        `${Object.keys(this.#reads.errors).slice(0, 3).join(" | ")})`,
    });
  }

  /** Reads and writes in flight at `t` (ms on this traffic's clock), with their outcomes. */
  inFlightAt(t: number): InFlight {
    const out: InFlight = { total: 0, failed: 0, errors: {} };
    for (const log of [this.#reads, this.#writes]) {
      for (let i = 0; i < log.starts.length; i++) {
        if (log.starts[i] > t || log.ends[i] < t) continue;
        out.total++;
        const text = log.texts[i];
        if (text === null) continue;
        out.failed++;
        out.errors[text] = (out.errors[text] ?? 0) + 1;
      }
    }
    return out;
  }

  /** Adds a loop of `clients` clients (internal, see `startTraffic`). */
  track(loop: LoadLoop, clients: number): void {
    this.#loops.push(loop);
    this.#clients += clients;
  }

  /** Runs one read on `c` and records it. */
  async read(c: TestClient, proto: number, keys: number): Promise<void> {
    const k = Math.floor(Math.random() * keys);
    const start = this.#begin();
    let value: string | null;
    try {
      value = await c.get(`key:${k}`) as string | null;
    } catch (e) {
      this.#record(this.#reads, start, proto, errorText(e));
      throw e;
    }
    if (value !== `value:${k}`) {
      const text = value === null ? "nil for an existing key" : "wrong value";
      this.#record(this.#reads, start, proto, text, true);
      throw new Error(`GET key:${k} returned ${value}`);
    }
    this.#record(this.#reads, start, proto, null);
  }

  /** Runs one SET of a unique key on `c` and records it. */
  async write(c: TestClient, key: string): Promise<void> {
    const start = this.#begin();
    let reply: string | null;
    try {
      reply = await c.set(key, key) as string | null;
    } catch (e) {
      this.#record(this.#writes, start, 2, errorText(e));
      throw e;
    }
    if (reply !== "OK") {
      this.#record(this.#writes, start, 2, `SET answered ${reply}`);
      throw new Error(`SET ${key} answered ${reply}`);
    }
    this.#record(this.#writes, start, 2, null);
    this.#acked.push(key);
  }

  #begin(): number {
    this.#pending++;
    return this.now();
  }

  #record(log: OpLog, start: number, proto: number, error: string | null, wrong = false): void {
    this.#pending--;
    const end = this.now();
    // Still waiting when stop() gave up and closed the client: a reply that never came.
    if (end >= this.#cutoff) error = STUCK;
    log.add(start, end, proto, error, wrong);
  }

  /**
   * Stops every client (operations in flight get up to
   * {@linkcode TRAFFIC_STOP_TIMEOUT_MS} to finish) and computes the report. Idempotent.
   */
  stop(): Promise<TrafficReport> {
    this.#stopped ??= (async () => {
      this.#cutoff = this.now() + TRAFFIC_STOP_TIMEOUT_MS;
      await Promise.all(this.#loops.map((l) => l.stop()));
      return this.#report();
    })();
    return this.#stopped;
  }

  #report(): TrafficReport {
    const r = this.#reads;
    const w = this.#window;
    const during: number[] = [];
    const outside: number[] = [];
    let failedResp2 = 0, failedResp3 = 0;
    const duringMax = [0, 0, 0, 0];
    for (let i = 0; i < r.starts.length; i++) {
      if (r.failed[i]) {
        if (r.proto[i] === 3) failedResp3++;
        else failedResp2++;
      }
      if (r.starts[i] < this.#measureFrom) continue;
      const took = r.ends[i] - r.starts[i];
      if (w !== null && r.ends[i] >= w.start && r.starts[i] <= w.end) {
        during.push(took);
        duringMax[r.proto[i]] = Math.max(duringMax[r.proto[i]], took);
      } else outside.push(took);
    }
    return {
      reads: { ...r.counts(), wrong: r.wrong, failedResp2, failedResp3 },
      writes: this.#writes.counts(),
      acked: [...this.#acked],
      during: percentiles(during),
      outside: percentiles(outside),
      duringMaxResp2: duringMax[2],
      duringMaxResp3: duringMax[3],
      elapsedMs: this.now(),
    };
  }

  /** Same as `stop()`, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/**
 * Connects every client (throws, after closing them, if one cannot connect)
 * and starts the loops: readers GET random keys of the dataset (a nil or
 * wrong value fails the read), writers SET unique keys `f:<run>:<worker>:<i>`.
 */
export async function startTraffic(opts: TrafficOptions): Promise<Traffic> {
  const t = new Traffic();
  const pauseMs = opts.paceMs ?? DEFAULT_PACE_MS;
  const run = crypto.randomUUID().slice(0, 8);
  const common = { pauseMs, stopTimeoutMs: TRAFFIC_STOP_TIMEOUT_MS };
  try {
    for (const proto of [2, 3] as const) {
      const clients = proto === 2
        ? opts.resp2Readers ?? DEFAULT_RESP2_READERS
        : opts.resp3Readers ?? DEFAULT_RESP3_READERS;
      if (clients === 0) continue;
      t.track(
        await loadLoop({
          ...common,
          clients,
          connect: () => redisClient(opts.readersPort, { resp: proto }),
          op: (c) => t.read(c, proto, opts.keys),
        }),
        clients,
      );
    }
    const writers = opts.writerPort === undefined ? 0 : opts.writers ?? DEFAULT_WRITERS;
    if (writers > 0) {
      t.track(
        await loadLoop({
          ...common,
          clients: writers,
          port: opts.writerPort,
          op: (c, w, i) => t.write(c, `f:${run}:${w}:${i}`),
        }),
        writers,
      );
    }
  } catch (e) {
    await t.stop();
    throw e;
  }
  return t;
}

/**
 * The acknowledged keys that `port` (a node, read directly, not through
 * shardgate) does not hold with their value.
 */
export async function missingKeys(port: number, keys: readonly string[]): Promise<string[]> {
  const c = await redisClient(port);
  try {
    const batches: Promise<string[]>[] = [];
    for (let i = 0; i < keys.length; i += VERIFY_BATCH) {
      const batch = keys.slice(i, i + VERIFY_BATCH);
      batches.push(
        c.mGet(batch).then((values) => batch.filter((k, j) => values[j] !== k)),
      );
    }
    return (await Promise.all(batches)).flat();
  } finally {
    closeClient(c);
  }
}
