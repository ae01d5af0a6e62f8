/**
 * Latency figures of the fault suite: nearest-rank percentiles over a set
 * of durations, and their one-line text.
 *
 * @module
 */

/** p50, p99 and max of a set of durations (ms); NaN when there were none. */
export interface Percentiles {
  /** How many durations. */
  readonly count: number;
  /** Median. */
  readonly p50: number;
  /** 99th percentile. */
  readonly p99: number;
  /** Longest. */
  readonly max: number;
}

/** The `q`-quantile (0 < q ≤ 1) of ascending `sorted`, nearest rank. */
function rank(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

/** p50/p99/max of `durations` (not modified). */
export function percentiles(durations: readonly number[]): Percentiles {
  const sorted = [...durations].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50: rank(sorted, 0.5),
    p99: rank(sorted, 0.99),
    max: sorted.length === 0 ? NaN : sorted[sorted.length - 1],
  };
}

/** `p50=0.4 p99=2.1 max=2012 ms (n=1234)`. */
export function formatPercentiles(p: Percentiles): string {
  const f = (x: number) => Number.isNaN(x) ? "-" : x < 10 ? x.toFixed(1) : x.toFixed(0);
  return `p50=${f(p.p50)} p99=${f(p.p99)} max=${f(p.max)} ms (n=${p.count})`;
}
