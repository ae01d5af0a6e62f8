import { equal, ok } from "node:assert/strict";
import { getFrame, pick, replyLength, zipfCdf } from "./zipf_get.ts";

const te = new TextEncoder();

Deno.test("zipfCdf() with exponent 0.99 puts most reads on few keys; 0 is uniform", () => {
  const cdf = zipfCdf(100_000, 0.99);
  ok(cdf[99] > 0.35, `top 100 keys: ${cdf[99]}`);
  equal(Math.round(cdf[cdf.length - 1] * 1e9), 1e9);
  const uni = zipfCdf(100, 0);
  ok(Math.abs(uni[49] - 0.5) < 1e-9);
});

Deno.test("pick() maps [0, 1) onto ranks by the cdf", () => {
  const cdf = zipfCdf(4, 0);
  equal(pick(cdf, 0), 0);
  equal(pick(cdf, 0.3), 1);
  equal(pick(cdf, 0.99), 3);
});

Deno.test("replyLength() frames bulk, nil and error replies", () => {
  const b = te.encode("$3\r\nabc\r\n");
  equal(replyLength(b, b.length), 9);
  equal(replyLength(b, 6), -1);
  equal(replyLength(te.encode("$-1\r\n"), 5), 5);
  equal(replyLength(te.encode("-ERR x\r\n"), 8), 8);
  equal(new TextDecoder().decode(getFrame(7)), "*2\r\n$3\r\nGET\r\n$16\r\nkey:000000000007\r\n");
});
