/**
 * Pools the paired ratios of variant cells (`get_50c_traced`,
 * `get_50c_faults`, …: each run ÷ the mean of its two `get_50c` brackets)
 * over several benchmark runs' raw JSON, and prints per cell the number of
 * pairs, their median and quartiles. One run of 5–7 rounds on this shared
 * machine spreads ±15% per pair, so a 3–5% target needs the pairs of
 * several runs.
 *
 * ```sh
 * deno run --allow-read bench/pool_ratios.ts bench/data/issue20/after-*.json
 * ```
 *
 * @module
 */

import { median, type RunRecord } from "./_report.ts";

/** Paired ratios by cell, from the runs of each file. */
export function pairedRatios(runsByFile: readonly (readonly RunRecord[])[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const runs of runsByFile) {
    for (const r of runs) {
      if (r.sample === null || r.baselineRps === null || r.baselineRps === undefined) continue;
      if (r.error !== null || !(r.baselineRps > 0)) continue;
      const list = out.get(r.cell) ?? [];
      list.push(r.sample.rps / r.baselineRps);
      out.set(r.cell, list);
    }
  }
  return out;
}

/** The `q` quantile (0..1) of `values`, nearest rank. */
export function quantile(values: readonly number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

if (import.meta.main) {
  const files = Deno.args;
  if (files.length === 0) {
    console.error("usage: deno run --allow-read bench/pool_ratios.ts RUN.json…");
    Deno.exit(2);
  }
  const runs = await Promise.all(
    files.map(async (f) => (JSON.parse(await Deno.readTextFile(f)) as { runs: RunRecord[] }).runs),
  );
  for (const [cell, ratios] of pairedRatios(runs)) {
    console.log(
      `${cell}: ${ratios.length} pairs from ${files.length} runs, median ${
        median(ratios).toFixed(3)
      }× (quartiles ${quantile(ratios, 0.25).toFixed(3)}–${quantile(ratios, 0.75).toFixed(3)})`,
    );
  }
}
