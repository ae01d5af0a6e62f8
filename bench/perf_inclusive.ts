/**
 * Inclusive CPU time per command of each JS function, from two `perf
 * script` dumps of shardgate processes that ran side by side (for example
 * cache off and cache on under the same load, `bench/cache_cold_concurrent.sh`
 * style): which functions the difference between them sits in.
 *
 * Each process runs with `--v8-flags=--perf-basic-prof` (so perf names JIT
 * code) and is sampled with `perf record -F <hz> --call-graph=fp -p <pid>`;
 * a sample counts towards every function on its stack once. Inlining
 * differs between processes (a callee inlined in one shows up on its own in
 * the other), so compare callers that both keep, like `routed` or the cache's
 * `#get`.
 *
 * ```sh
 * perf script -i off.perf > off.script; perf script -i on.perf > on.script
 * node_modules/.bin/deno run -A bench/perf_inclusive.ts off.script on.script \
 *   --ops-a 652364 --ops-b 655022 --hz 1999 [--top 40]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";

/** Inclusive sample counts by function name, and the number of samples. */
export interface Inclusive {
  /** Samples whose stack holds the function (once per sample). */
  readonly byFunction: Map<string, number>;
  /** All samples. */
  readonly samples: number;
}

/** A `perf script` frame's symbol, without offsets, map file, JIT tier mark or checkout path. */
export function frameName(sym: string): string {
  return sym.replace(/\+0x[0-9a-f]+/g, "")
    .replace(/ \(\/tmp\/perf-\d+\.map\)/, "")
    .replace(/JS:[*+~^]?/, "JS:")
    .replace(/file:\/\/\/\S*?\/(proxy|cache|resp|session|admin|config|router)\//, "$1/");
}

/** Reads a `perf script` dump (samples separated by blank lines, frames indented). */
export function inclusive(text: string): Inclusive {
  const byFunction = new Map<string, number>();
  let samples = 0;
  let stack = new Set<string>();
  const end = () => {
    if (stack.size === 0) return;
    samples++;
    for (const f of stack) byFunction.set(f, (byFunction.get(f) ?? 0) + 1);
    stack = new Set();
  };
  for (const line of text.split("\n")) {
    if (line.trim() === "") {
      end();
      continue;
    }
    if (line[0] !== " " && line[0] !== "\t") continue; // a sample's header line
    const parts = line.trim().split(/\s+/);
    if (parts.length < 2) continue;
    stack.add(frameName(parts.slice(1).join(" ")));
  }
  end();
  return { byFunction, samples };
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      "ops-a": { type: "string" },
      "ops-b": { type: "string" },
      hz: { type: "string", default: "1999" },
      top: { type: "string", default: "40" },
    },
  });
  if (positionals.length !== 2 || values["ops-a"] === undefined || values["ops-b"] === undefined) {
    console.error(
      "usage: perf_inclusive.ts a.script b.script --ops-a N --ops-b N [--hz 1999] [--top 40]",
    );
    Deno.exit(2);
  }
  const hz = Number(values.hz);
  const a = inclusive(await Deno.readTextFile(positionals[0]));
  const b = inclusive(await Deno.readTextFile(positionals[1]));
  const opsA = Number(values["ops-a"]), opsB = Number(values["ops-b"]);
  const us = (n: number, ops: number) => n / hz / ops * 1e6;
  const ta = us(a.samples, opsA), tb = us(b.samples, opsB);
  console.log(
    `all samples, µs per command: a ${ta.toFixed(2)}  b ${tb.toFixed(2)}  (${
      (100 * (tb / ta - 1)).toFixed(1)
    }%)`,
  );
  const names = new Set([...a.byFunction.keys(), ...b.byFunction.keys()]);
  const rows = [...names].filter((n) => n.startsWith("JS:")).map((n) => ({
    n,
    x: us(a.byFunction.get(n) ?? 0, opsA),
    y: us(b.byFunction.get(n) ?? 0, opsB),
  })).sort((p, q) => Math.max(q.x, q.y) - Math.max(p.x, p.y));
  console.log("inclusive µs per command:      a       b    b - a  function");
  for (const r of rows.slice(0, Number(values.top))) {
    console.log(
      `${" ".repeat(26)}${r.x.toFixed(3).padStart(7)} ${r.y.toFixed(3).padStart(7)} ${
        (r.y - r.x >= 0 ? "+" : "") + (r.y - r.x).toFixed(3)
      }  ${r.n.slice(0, 90)}`,
    );
  }
}
