/**
 * Hedged reads, per shard: the adaptive delay after which a read with no
 * reply is also sent to another node, and the budget that caps how many
 * such extra commands a shard sends ("The Tail at Scale"; gRPC's hedging
 * policy and retry throttling).
 *
 * - Delay: the configured percentile of the shard's read latencies over the
 *   last two refresh periods, clamped to `[min_delay, max_delay]`.
 * - Budget: at most `budget` hedges per 100 reads over the last
 *   HEDGE_BUDGET_WINDOW_MS (counted in one-second buckets), and always at
 *   least HEDGE_BUDGET_FLOOR, so a shard-wide slowdown does not double the
 *   load while a quiet shard can still hedge.
 *
 * @module
 */

import {
  HEDGE_BUDGET_FLOOR,
  HEDGE_BUDGET_WINDOW_MS,
  HEDGE_DELAY_REFRESH_MS,
  HEDGE_SLOW_FACTOR,
  HEDGE_SLOW_MIN_MS,
} from "../config/defaults.ts";
import type { HedgeConfig } from "../config/types.ts";

/** Latencies are counted per millisecond up to this; slower ones share the last bucket. */
const LATENCY_BUCKETS = 1024;
const BUDGET_BUCKET_MS = 1_000;
const BUDGET_BUCKETS = Math.max(1, Math.round(HEDGE_BUDGET_WINDOW_MS / BUDGET_BUCKET_MS));

/** One shard's hedge delay and budget. */
export class HedgePolicy {
  #now: Uint32Array = new Uint32Array(LATENCY_BUCKETS);
  #prev: Uint32Array = new Uint32Array(LATENCY_BUCKETS);
  #delayMs: number;
  #nextRefresh = 0;
  #hedges = new Float64Array(BUDGET_BUCKETS);
  #reads = new Float64Array(BUDGET_BUCKETS);
  #bucket = 0;
  #bucketEnds = 0;
  #readsSeen = 0;

  /** A policy starting at `config.minDelayMs`. */
  constructor(config: HedgeConfig) {
    this.#delayMs = config.minDelayMs;
  }

  /** The current hedge delay, ms. */
  get delayMs(): number {
    return this.#delayMs;
  }

  /** A read still unanswered this long after a hedge was sent for it counts against its node. */
  get slowAfterMs(): number {
    return Math.max(HEDGE_SLOW_MIN_MS, HEDGE_SLOW_FACTOR * this.#delayMs);
  }

  /** Records one read's latency (ms). Allocation-free. */
  record(ms: number): void {
    this.#now[ms < LATENCY_BUCKETS - 1 ? (ms < 0 ? 0 : ms | 0) : LATENCY_BUCKETS - 1]++;
  }

  /**
   * Moves the clock: recomputes the delay every HEDGE_DELAY_REFRESH_MS and
   * rolls the budget's buckets. `reads` is the shard's read count so far.
   */
  tick(now: number, config: HedgeConfig, reads: number): void {
    if (now >= this.#bucketEnds) this.#roll(now, reads);
    if (now < this.#nextRefresh) return;
    this.#nextRefresh = now + HEDGE_DELAY_REFRESH_MS;
    const p = percentile(this.#now, this.#prev, config.percentile);
    const swap = this.#prev;
    this.#prev = this.#now;
    this.#now = swap;
    swap.fill(0);
    if (p !== null) {
      // A reply in the same millisecond counts as 1 ms: the delay is a whole number of ms.
      this.#delayMs = Math.min(config.maxDelayMs, Math.max(config.minDelayMs, p + 1));
    } else {
      this.#delayMs = Math.min(config.maxDelayMs, Math.max(config.minDelayMs, this.#delayMs));
    }
  }

  #roll(now: number, reads: number): void {
    const delta = reads - this.#readsSeen;
    this.#readsSeen = reads;
    this.#reads[this.#bucket] += delta;
    // Skip buckets for idle seconds, clearing them.
    const steps = this.#bucketEnds === 0
      ? 1
      : Math.min(BUDGET_BUCKETS, 1 + Math.floor((now - this.#bucketEnds) / BUDGET_BUCKET_MS));
    for (let i = 0; i < steps; i++) {
      this.#bucket = (this.#bucket + 1) % BUDGET_BUCKETS;
      this.#hedges[this.#bucket] = 0;
      this.#reads[this.#bucket] = 0;
    }
    this.#bucketEnds = now + BUDGET_BUCKET_MS;
  }

  /**
   * Takes one hedge from the budget if there is one left; `reads` is the
   * shard's read count so far. `pastBudget`: taken (and counted) even when
   * none is left.
   */
  take(config: HedgeConfig, reads: number, pastBudget = false): boolean {
    let hedges = 0, counted = reads - this.#readsSeen;
    for (let i = 0; i < BUDGET_BUCKETS; i++) {
      hedges += this.#hedges[i];
      counted += this.#reads[i];
    }
    const allowed = Math.max(HEDGE_BUDGET_FLOOR, (counted * config.budgetPercent) / 100);
    if (hedges >= allowed && !pastBudget) return false;
    this.#hedges[this.#bucket]++;
    return true;
  }
}

/** The `pct` percentile (ms) of two latency histograms together, or null when both are empty. */
function percentile(a: Uint32Array, b: Uint32Array, pct: number): number | null {
  let total = 0;
  for (let i = 0; i < a.length; i++) total += a[i] + b[i];
  if (total === 0) return null;
  const rank = Math.ceil((total * pct) / 100);
  let seen = 0;
  for (let i = 0; i < a.length; i++) {
    seen += a[i] + b[i];
    if (seen >= rank) return i;
  }
  return a.length - 1;
}
