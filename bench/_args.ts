/**
 * Command line of the benchmark (`npm run bench -- [options]`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ALL_CELL_IDS, ALL_TARGETS, type CellId, type Target } from "./_cells.ts";

/** Rounds of the full run. */
export const DEFAULT_ROUNDS = 5;
/** Rounds of `--quick`. */
export const QUICK_ROUNDS = 3;

/** Where the full run writes its markdown report (relative to the repo root). */
export const FULL_REPORT_PATH = "bench/RESULTS.md";
/** Where `--quick` writes its markdown report, so it never overwrites the real results. */
export const QUICK_REPORT_PATH = "bench/RESULTS-quick.md";

/** The usage text. */
export const USAGE = `Usage: npm run bench -- [options]

Benchmarks shardgate against direct Redis, HAProxy and twemproxy, interleaved.

Options:
  --quick            ${QUICK_ROUNDS} rounds with small request counts (under a minute)
  --rounds N         rounds (default ${DEFAULT_ROUNDS}, or ${QUICK_ROUNDS} with --quick)
  --targets LIST     comma-separated subset of: ${ALL_TARGETS.join(",")}
  --cells LIST       comma-separated subset of: ${ALL_CELL_IDS.join(",")}
  --out FILE         markdown report path (default ${FULL_REPORT_PATH},
                     or ${QUICK_REPORT_PATH} with --quick)
  -h, --help         this help
`;

/** Parsed options. */
export interface BenchOptions {
  readonly quick: boolean;
  readonly rounds: number;
  readonly targets: readonly Target[];
  readonly cells: readonly CellId[];
  /** Report path, relative to the repo root or absolute. */
  readonly out: string;
  readonly help: boolean;
}

/** A command line mistake; the message is meant for the user. */
export class UsageError extends Error {
  /** Creates a usage error with a message for the user. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

function parseList<T extends string>(
  text: string,
  allowed: readonly T[],
  what: string,
): T[] {
  const items = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (items.length === 0) throw new UsageError(`--${what} needs at least one item`);
  const out: T[] = [];
  for (const item of items) {
    const found = allowed.find((a) => a === item);
    if (found === undefined) {
      throw new UsageError(`--${what}: unknown "${item}" (allowed: ${allowed.join(",")})`);
    }
    if (!out.includes(found)) out.push(found);
  }
  // Keep the canonical order so report columns are stable.
  return allowed.filter((a) => out.includes(a));
}

/** Parses the benchmark's arguments; throws {@link UsageError} on a mistake. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        quick: { type: "boolean", default: false },
        rounds: { type: "string" },
        targets: { type: "string" },
        cells: { type: "string" },
        out: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  const quick = values.quick === true;
  let rounds = quick ? QUICK_ROUNDS : DEFAULT_ROUNDS;
  if (values.rounds !== undefined) {
    rounds = Number(values.rounds);
    if (!Number.isInteger(rounds) || rounds < 1) {
      throw new UsageError(`--rounds must be a positive integer, got "${values.rounds}"`);
    }
  }
  const targets = values.targets === undefined
    ? [...ALL_TARGETS]
    : parseList(values.targets, ALL_TARGETS, "targets");
  const cells = values.cells === undefined
    ? [...ALL_CELL_IDS]
    : parseList(values.cells, ALL_CELL_IDS, "cells");
  const out = values.out ?? (quick ? QUICK_REPORT_PATH : FULL_REPORT_PATH);
  return { quick, rounds, targets, cells, out, help: values.help === true };
}
