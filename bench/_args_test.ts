import assert from "node:assert/strict";
import { ALL_CELL_IDS, ALL_TARGETS } from "./_cells.ts";
import {
  DEFAULT_ROUNDS,
  FULL_REPORT_PATH,
  parseBenchArgs,
  QUICK_REPORT_PATH,
  QUICK_ROUNDS,
  UsageError,
} from "./_args.ts";

Deno.test("parseBenchArgs() defaults to every target and cell, full rounds", () => {
  const o = parseBenchArgs([]);
  assert.equal(o.quick, false);
  assert.equal(o.rounds, DEFAULT_ROUNDS);
  assert.deepEqual(o.targets, ALL_TARGETS);
  assert.deepEqual(o.cells, ALL_CELL_IDS);
  assert.equal(o.out, FULL_REPORT_PATH);
});

Deno.test("parseBenchArgs() --quick uses quick rounds and keeps RESULTS.md untouched", () => {
  const o = parseBenchArgs(["--quick"]);
  assert.equal(o.rounds, QUICK_ROUNDS);
  assert.equal(o.out, QUICK_REPORT_PATH);
  assert.equal(parseBenchArgs(["--quick", "--rounds", "7"]).rounds, 7);
});

Deno.test("parseBenchArgs() --targets and --cells keep canonical order without duplicates", () => {
  const o = parseBenchArgs(["--targets", "twemproxy,direct,direct", "--cells", "set_50c,get_1c"]);
  assert.deepEqual(o.targets, ["direct", "twemproxy"]);
  assert.deepEqual(o.cells, ["get_1c", "set_50c"]);
});

Deno.test("parseBenchArgs() rejects unknown names, bad rounds and unknown flags", () => {
  assert.throws(() => parseBenchArgs(["--targets", "envoy"]), UsageError);
  assert.throws(() => parseBenchArgs(["--cells", ""]), UsageError);
  assert.throws(() => parseBenchArgs(["--rounds", "0"]), UsageError);
  assert.throws(() => parseBenchArgs(["--rounds", "2.5"]), UsageError);
  assert.throws(() => parseBenchArgs(["--fast"]), UsageError);
});
