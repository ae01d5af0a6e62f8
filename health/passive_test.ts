import assert from "node:assert/strict";
import { ejectionCooldownMs, ErrorWindow } from "./passive.ts";

Deno.test("ErrorWindow.record() reports the limit reached within the window", () => {
  const w = new ErrorWindow(3, 1000);
  assert.equal(w.record(0), false);
  assert.equal(w.record(100), false);
  assert.equal(w.record(1000), true);
  assert.equal(w.count(1000), 3);
});

Deno.test("ErrorWindow.record() forgets errors older than the window", () => {
  const w = new ErrorWindow(3, 1000);
  w.record(0);
  w.record(500);
  assert.equal(w.record(1001), false); // the error at 0 slid out
  assert.equal(w.count(1001), 2);
  assert.equal(w.record(1400), true); // 500, 1001, 1400
});

Deno.test("ErrorWindow.clear() starts over", () => {
  const w = new ErrorWindow(2, 1000);
  w.record(0);
  w.clear();
  assert.equal(w.count(0), 0);
  assert.equal(w.record(1), false);
  assert.equal(w.record(2), true);
});

Deno.test("ErrorWindow with limit 1 trips on every error", () => {
  const w = new ErrorWindow(1, 1000);
  assert.equal(w.record(5), true);
});

Deno.test("ejectionCooldownMs() doubles per streak and caps", () => {
  assert.equal(ejectionCooldownMs(10_000, 300_000, 0), 10_000);
  assert.equal(ejectionCooldownMs(10_000, 300_000, 1), 20_000);
  assert.equal(ejectionCooldownMs(10_000, 300_000, 4), 160_000);
  assert.equal(ejectionCooldownMs(10_000, 300_000, 5), 300_000);
  assert.equal(ejectionCooldownMs(10_000, 300_000, 1000), 300_000);
  // A cap below the base never shortens the base.
  assert.equal(ejectionCooldownMs(10_000, 5_000, 3), 10_000);
});
