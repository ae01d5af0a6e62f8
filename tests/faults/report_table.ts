/**
 * Turns the JSON lines that fault runs append to `$FAULTS_REPORT` into the
 * rows of the table in `tests/faults/README.md`: per fault and config, the
 * median of each figure over the runs.
 *
 * ```sh
 * for i in 1 2 3; do FAULTS_REPORT=/tmp/runs.jsonl npm run test:faults; done
 * node_modules/.bin/deno run --allow-read tests/faults/report_table.ts /tmp/runs.jsonl
 * ```
 *
 * @module
 */

/** One line of a fault report (see `appendReport` in `_fault.ts`). */
interface Run {
  fault: string;
  bounds?: { maxFailedReads?: number; maxReadMsDuring?: number };
  defaults: string[];
  readsOk: number;
  readsFailed: number;
  writesOk: number;
  writesFailed: number;
  lost: number;
  during: { p99: number; max: number };
  duringMaxResp2: number;
  duringMaxResp3: number;
  extraGets: number | null;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function ms(x: number): string {
  return x < 10 ? x.toFixed(1) : x.toFixed(0);
}

/** The bounds a fault asserts, as the table shows them. */
function bounds(r: Run): string {
  const b = r.bounds ?? {};
  return [
    b.maxFailedReads === undefined ? null : `failed reads ≤ ${b.maxFailedReads}`,
    "lost writes 0",
    b.maxReadMsDuring === undefined ? null : `max < ${b.maxReadMsDuring} ms`,
  ].filter((x) => x !== null).join("; ");
}

/**
 * Markdown rows: fault, runs, failed reads and writes, lost writes, p99 and
 * max read latency during the fault (max of RESP2 / RESP3 clients), extra
 * GETs, asserted bounds.
 */
export function tableRows(runs: readonly Run[]): string[] {
  const groups = new Map<string, Run[]>();
  for (const r of runs) {
    const key = `${r.fault} [${r.defaults.join(", ") || "defaults"}]`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups].map(([key, rs]) => {
    const m = (f: (r: Run) => number) => median(rs.map(f));
    const extra = rs.every((r) => r.extraGets !== null) ? String(m((r) => r.extraGets!)) : "n/a";
    return `| ${key} | ${rs.length} | ${m((r) => r.readsFailed)} of ${m((r) => r.readsOk)} | ` +
      `${m((r) => r.writesFailed)} of ${m((r) => r.writesOk)} | ${m((r) => r.lost)} | ` +
      `${ms(m((r) => r.during.p99))} | ${ms(m((r) => r.during.max))} (${
        ms(m((r) => r.duringMaxResp2))
      } / ${ms(m((r) => r.duringMaxResp3))}) | ${extra} | ${bounds(rs[0])} |`;
  });
}

if (import.meta.main) {
  const file = Deno.args[0];
  if (file === undefined) {
    console.error("usage: report_table.ts FILE.jsonl");
    Deno.exit(2);
  }
  const runs = (await Deno.readTextFile(file)).split("\n").filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Run);
  console.log(
    "| fault [config] | runs | failed reads of ok | failed writes of ok | lost writes | p99 ms | " +
      "max ms (RESP2 / RESP3) | extra GETs | asserted |",
  );
  console.log("| --- | --: | --: | --: | --: | --: | --: | --: | --- |");
  for (const row of tableRows(runs)) console.log(row);
}
