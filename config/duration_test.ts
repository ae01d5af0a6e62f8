import assert from "node:assert/strict";
import { formatDuration, parseDuration } from "./duration.ts";
import { MAX_DURATION_MS } from "./defaults.ts";

Deno.test("parseDuration() reads every unit, decimals and compound durations", () => {
  const cases: [string, number][] = [
    ["0", 0],
    ["0s", 0],
    ["500ms", 500],
    ["2s", 2_000],
    ["1m", 60_000],
    ["1h", 3_600_000],
    ["1m30s", 90_000],
    ["1h2m3s4ms", 3_723_004],
    ["1.5s", 1_500],
    ["0.25m", 15_000],
    ["1.000s", 1_000],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
});

Deno.test("parseDuration() refuses malformed, negative, sub-millisecond and huge durations", () => {
  const cases: [string, RegExp][] = [
    ["", /empty/],
    ["5", /no unit/],
    ["10d", /unknown unit/],
    ["2 s", /unknown unit|not a duration/],
    ["s", /not a duration/],
    ["-1s", /negative/],
    ["1.5ms", /finer than a millisecond/],
    ["0.00000001h", /finer than a millisecond/],
    ["1000h", /too long/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseDuration(text), message, JSON.stringify(text));
  }
  assert.equal(parseDuration(formatDuration(MAX_DURATION_MS)), MAX_DURATION_MS);
});

Deno.test("formatDuration() gives the shortest text parseDuration() reads back", () => {
  const cases: [number, string][] = [
    [0, "0s"],
    [250, "250ms"],
    [2_000, "2s"],
    [90_000, "1m30s"],
    [3_600_000, "1h"],
    [3_723_004, "1h2m3s4ms"],
  ];
  for (const [ms, text] of cases) {
    assert.equal(formatDuration(ms), text);
    assert.equal(parseDuration(text), ms);
  }
});
