/**
 * The last minutes of every shard and node, for the status page's charts
 * (`/history`): sampled from the counters the data path already keeps
 * (`CommandStats`, `ShardCounters`, each node's `NodeCommandCounters`) every
 * HISTORY_SAMPLE_MS, kept in fixed-size rings covering HISTORY_WINDOW_MS, so
 * memory is bounded by the number of shards and nodes, never by traffic or
 * uptime. No external store.
 *
 * Per shard: ops/s, p50/p99 of command latency (arrival to final reply, as
 * the client sees it), errors/s (the node's error replies and shardgate's
 * own), retries/s, hedges/s and hedge wins/s. Per node: replies/s, p50/p99
 * of reply latency (send to reply), errors/s, and its state. A node's p99
 * is at least the age of its oldest command still in flight when sampled,
 * so a node that stopped answering shows as the spike it is (its replies,
 * which would show it, have not come). Node state
 * changes and writer switches are kept as a short event list with their
 * exact times. Percentiles come from the difference of two samples of a
 * latency histogram, interpolated within a bucket.
 *
 * It only reads snapshots; it changes nothing.
 *
 * @module
 */

import { HISTORY_EVENTS, HISTORY_SAMPLE_MS, HISTORY_WINDOW_MS } from "../config/defaults.ts";
import { LATENCY_BUCKETS_SECONDS } from "../telemetry/mod.ts";
import type { ShardSource } from "./source.ts";

/** Upper bounds of the latency buckets in ms (the +Inf bucket reports the last). */
const BOUNDS_MS = LATENCY_BUCKETS_SECONDS.map((s) => s * 1000);
const BUCKETS = BOUNDS_MS.length + 1;
/** Node states as numbers in the `state` series. */
export const STATE_CODES: Readonly<Record<string, number>> = {
  up: 0,
  down: 1,
  ejected: 2,
  draining: 3,
};

/** A node's state change or a writer switch, as the page lists and marks it. */
export interface HistoryEvent {
  /** When, epoch ms. */
  readonly at: number;
  readonly shard: string;
  /** `node`: a node's state changed; `writer`: the writer moved to another node (or none). */
  readonly kind: "node" | "writer";
  /** The node (kind node), else null. */
  readonly node: string | null;
  /** Previous state (node) or primary (writer; null: none). */
  readonly from: string | null;
  /** New state (node) or primary (writer; null: none). */
  readonly to: string | null;
  /** Why, as the status page shows it, or null. */
  readonly reason: string | null;
}

/** One node's series in `/history` (null where there was no sample or no reply). */
export interface NodeHistoryDoc {
  readonly id: string;
  /** Replies per second. */
  readonly ops: (number | null)[];
  /** Reply latency percentiles, ms (p99: at least the oldest command still waiting). */
  readonly p50: (number | null)[];
  readonly p99: (number | null)[];
  /** Commands it failed or answered with an error, per second. */
  readonly errors: (number | null)[];
  /** State at each sample ({@link STATE_CODES}). */
  readonly state: (number | null)[];
}

/** One shard's series in `/history`. */
export interface ShardHistoryDoc {
  readonly name: string;
  /** Commands answered per second. */
  readonly ops: (number | null)[];
  /** Command latency percentiles, ms. */
  readonly p50: (number | null)[];
  readonly p99: (number | null)[];
  /** Error replies (the node's and shardgate's own) per second. */
  readonly errors: (number | null)[];
  readonly retries: (number | null)[];
  readonly hedges: (number | null)[];
  readonly hedgeWins: (number | null)[];
  readonly nodes: readonly NodeHistoryDoc[];
}

/** The `/history` document. */
export interface HistoryDoc {
  /** Sampling interval and window, ms. */
  readonly intervalMs: number;
  readonly windowMs: number;
  /** When each sample was taken, epoch ms, oldest first (every series has one value per time). */
  readonly times: number[];
  readonly shards: readonly ShardHistoryDoc[];
  /** Node state changes and writer switches in the window, oldest first. */
  readonly events: readonly HistoryEvent[];
}

/** One series: a ring of samples aligned with the history's time ring. */
class Series {
  readonly values: Float64Array;
  constructor(size: number) {
    this.values = new Float64Array(size).fill(NaN);
  }
}

/** Cumulative counters as last read, to take differences from. */
interface Last {
  total: number;
  errors: number;
  retries: number;
  hedges: number;
  hedgeWins: number;
  latency: Float64Array;
}

const SHARD_SERIES = ["ops", "p50", "p99", "errors", "retries", "hedges", "hedgeWins"] as const;
const NODE_SERIES = ["ops", "p50", "p99", "errors", "state"] as const;

interface ShardTrack {
  readonly series: Record<typeof SHARD_SERIES[number], Series>;
  last: Last | null;
  readonly nodes: Map<string, NodeTrack>;
  seen: boolean;
}

interface NodeTrack {
  readonly series: Record<typeof NODE_SERIES[number], Series>;
  last: Last | null;
  seen: boolean;
}

/** The `q` quantile (0..1) of the histogram `counts` (by bucket), in ms; NaN when empty. */
export function histogramQuantile(counts: ArrayLike<number>, q: number): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i];
  if (total <= 0) return NaN;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i];
    if (c > 0 && seen + c >= rank) {
      if (i >= BOUNDS_MS.length) return BOUNDS_MS[BOUNDS_MS.length - 1];
      const lo = i === 0 ? 0 : BOUNDS_MS[i - 1];
      return lo + (BOUNDS_MS[i] - lo) * Math.min(1, Math.max(0, (rank - seen) / c));
    }
    seen += c;
  }
  return BOUNDS_MS[BOUNDS_MS.length - 1];
}

/** Options of {@link History}. */
export interface HistoryOptions {
  /** Sampling interval, ms; default HISTORY_SAMPLE_MS. */
  readonly intervalMs?: number;
  /** Window kept, ms; default HISTORY_WINDOW_MS. */
  readonly windowMs?: number;
  /** Epoch ms clock (tests inject one); default Date.now. */
  readonly now?: () => number;
}

/** Bounded in-memory history of every shard and node, sampled on a timer. */
export class History {
  readonly intervalMs: number;
  readonly windowMs: number;
  #size: number;
  #times: Float64Array;
  /** Samples taken so far (the ring's write position is count % size). */
  #count = 0;
  #shards = new Map<string, ShardTrack>();
  #events: HistoryEvent[] = [];
  #src: () => readonly ShardSource[];
  #now: () => number;
  #lastAt = 0;
  #primed = false;
  #timer: ReturnType<typeof setInterval> | null = null;

  /** A history of the shards `src` returns at each sample. */
  constructor(src: () => readonly ShardSource[], opts: HistoryOptions = {}) {
    this.#src = src;
    this.intervalMs = opts.intervalMs ?? HISTORY_SAMPLE_MS;
    this.windowMs = opts.windowMs ?? HISTORY_WINDOW_MS;
    this.#now = opts.now ?? Date.now;
    this.#size = Math.max(2, Math.ceil(this.windowMs / this.intervalMs));
    this.#times = new Float64Array(this.#size).fill(NaN);
  }

  /** Samples every `intervalMs` until {@link stop} (the first call only reads the counters). */
  start(): void {
    if (this.#timer !== null) return;
    this.sample();
    this.#timer = setInterval(() => this.sample(), this.intervalMs);
  }

  /** Stops sampling. */
  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Records a node state change or writer switch. */
  event(e: HistoryEvent): void {
    this.#events.push(e);
    if (this.#events.length > HISTORY_EVENTS) {
      this.#events.splice(0, this.#events.length - HISTORY_EVENTS);
    }
  }

  /**
   * Reads every counter; from the second call on, appends one point per
   * series (rates over the time since the previous call).
   */
  sample(): void {
    const now = this.#now();
    const dt = (now - this.#lastAt) / 1000;
    const first = !this.#primed;
    this.#primed = true;
    this.#lastAt = now;
    const at = this.#count % this.#size;
    if (!first) this.#times[at] = now;
    for (const t of this.#shards.values()) {
      t.seen = false;
      for (const n of t.nodes.values()) n.seen = false;
    }
    for (const s of this.#src()) {
      let t = this.#shards.get(s.name);
      if (t === undefined) {
        t = {
          series: makeSeries(SHARD_SERIES, this.#size),
          last: null,
          nodes: new Map(),
          seen: true,
        };
        this.#shards.set(s.name, t);
      }
      t.seen = true;
      const latency = new Float64Array(BUCKETS);
      s.commands.addLatency(latency);
      const totals = s.commands.totals();
      const cur: Last = {
        total: totals.total,
        errors: totals.errors + totals.failed,
        retries: s.counters.retries,
        hedges: s.commands.hedges,
        hedgeWins: s.commands.hedgeWins,
        latency,
      };
      if (!first) record(t.series, at, t.last, cur, dt, true);
      t.last = cur;
      for (const node of s.nodes) {
        let n = t.nodes.get(node.id);
        if (n === undefined) {
          n = { series: makeSeries(NODE_SERIES, this.#size), last: null, seen: true };
          t.nodes.set(node.id, n);
        }
        n.seen = true;
        const c = s.commands.peekNode(node.id);
        const nodeCur: Last = {
          total: (c?.ok ?? 0) + (c?.errors ?? 0),
          errors: c?.errors ?? 0,
          retries: 0,
          hedges: 0,
          hedgeWins: 0,
          latency: c === undefined ? new Float64Array(BUCKETS) : Float64Array.from(c.latency),
        };
        if (!first) {
          record(n.series, at, n.last, nodeCur, dt, false);
          const waiting = s.stats.nodes.find((x) => x.id === node.id)?.oldestMs ?? 0;
          const p99 = n.series.p99.values[at];
          if (waiting > 0 && !(p99 >= waiting)) n.series.p99.values[at] = waiting;
          n.series.state.values[at] = STATE_CODES[node.status] ?? NaN;
        }
        n.last = nodeCur;
      }
    }
    // Shards and nodes a reload removed leave the history with their last sample.
    for (const [name, t] of this.#shards) {
      if (!t.seen) this.#shards.delete(name);
      else for (const [id, n] of t.nodes) if (!n.seen) t.nodes.delete(id);
    }
    if (!first) this.#count++;
    const oldest = now - this.windowMs;
    while (this.#events.length > 0 && this.#events[0].at < oldest) this.#events.shift();
  }

  /** The `/history` document: every series oldest first, one value per time. */
  doc(): HistoryDoc {
    const n = Math.min(this.#count, this.#size);
    const start = this.#count - n;
    const idx = (k: number) => (start + k) % this.#size;
    const read = (s: Series): (number | null)[] => {
      const out: (number | null)[] = new Array(n);
      for (let k = 0; k < n; k++) {
        const v = s.values[idx(k)];
        out[k] = Number.isFinite(v) ? round(v) : null;
      }
      return out;
    };
    const times: number[] = new Array(n);
    for (let k = 0; k < n; k++) times[k] = this.#times[idx(k)];
    const shards: ShardHistoryDoc[] = [];
    for (const [name, t] of this.#shards) {
      shards.push({
        name,
        ops: read(t.series.ops),
        p50: read(t.series.p50),
        p99: read(t.series.p99),
        errors: read(t.series.errors),
        retries: read(t.series.retries),
        hedges: read(t.series.hedges),
        hedgeWins: read(t.series.hedgeWins),
        nodes: [...t.nodes].map(([id, nt]) => ({
          id,
          ops: read(nt.series.ops),
          p50: read(nt.series.p50),
          p99: read(nt.series.p99),
          errors: read(nt.series.errors),
          state: read(nt.series.state),
        })),
      });
    }
    return {
      intervalMs: this.intervalMs,
      windowMs: this.windowMs,
      times,
      shards,
      events: [...this.#events],
    };
  }
}

function makeSeries<K extends string>(keys: readonly K[], size: number): Record<K, Series> {
  const out = {} as Record<K, Series>;
  for (const k of keys) out[k] = new Series(size);
  return out;
}

/** Writes the rates and percentiles between `prev` and `cur` at ring index `at`. */
function record(
  series: Record<string, Series>,
  at: number,
  prev: Last | null,
  cur: Last,
  dt: number,
  shard: boolean,
): void {
  const rate = (a: number, b: number): number =>
    prev === null || dt <= 0 || b < a ? NaN : (b - a) / dt;
  series.ops.values[at] = rate(prev?.total ?? 0, cur.total);
  series.errors.values[at] = rate(prev?.errors ?? 0, cur.errors);
  const delta = new Float64Array(BUCKETS);
  if (prev !== null) {
    for (let i = 0; i < BUCKETS; i++) delta[i] = Math.max(0, cur.latency[i] - prev.latency[i]);
  }
  series.p50.values[at] = histogramQuantile(delta, 0.5);
  series.p99.values[at] = histogramQuantile(delta, 0.99);
  if (shard) {
    series.retries.values[at] = rate(prev?.retries ?? 0, cur.retries);
    series.hedges.values[at] = rate(prev?.hedges ?? 0, cur.hedges);
    series.hedgeWins.values[at] = rate(prev?.hedgeWins ?? 0, cur.hedgeWins);
  }
}

/** Three significant digits: enough for a chart, short in JSON. */
function round(v: number): number {
  if (v === 0) return 0;
  const m = Math.pow(10, 2 - Math.floor(Math.log10(Math.abs(v))));
  return Math.round(v * m) / m;
}
