/**
 * A GET load generator with skewed key popularity, for the near cache's
 * hot-set cells (redis-benchmark's `-r` is uniform). Each client is one
 * connection sending one GET at a time (no pipelining), like
 * redis-benchmark `-P 1`; keys are `key:<12 digits>` (the names
 * redis-benchmark `-r` makes), picked with a Zipf law of exponent `--zipf`
 * over `--keys` keys (0: uniform).
 *
 * ```sh
 * deno run -A bench/zipf_get.ts --port 6379 --clients 50 --seconds 5 --keys 100000 --zipf 0.99
 * ```
 *
 * Prints one JSON line: `{"clients","seconds","ops","opsPerSec","p50Ms","p99Ms","errors","warmupOps"}`.
 *
 * @module
 */

import { parseArgs } from "node:util";

const te = new TextEncoder();

/**
 * Builds `zipf_get.c`, this generator in C, into `dir` with `cc` (warnings
 * are errors); resolves to the executable's path.
 */
export async function buildZipfGetC(dir: string): Promise<string> {
  const exe = `${dir}/zipf_get`;
  const src = new URL("./zipf_get.c", import.meta.url).pathname;
  const cc = await new Deno.Command("cc", {
    args: ["-O2", "-Wall", "-Werror", "-o", exe, src, "-lm"],
    stderr: "inherit",
  }).output();
  if (!cc.success) throw new Error("cc could not build bench/zipf_get.c");
  return exe;
}

/** Cumulative Zipf weights of ranks 1..n with exponent `s` (uniform when 0), normalised to 1. */
export function zipfCdf(n: number, s: number): Float64Array {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) cdf[i] = sum += s === 0 ? 1 : 1 / Math.pow(i + 1, s);
  for (let i = 0; i < n; i++) cdf[i] /= sum;
  return cdf;
}

/** The rank (0-based) whose cumulative weight first reaches `u` in [0, 1). */
export function pick(cdf: Float64Array, u: number): number {
  let lo = 0, hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cdf[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The GET frame of key `i` (`key:<12 digits>`). */
export function getFrame(i: number): Uint8Array {
  const key = `key:${String(i).padStart(12, "0")}`;
  return te.encode(`*2\r\n$3\r\nGET\r\n$${key.length}\r\n${key}\r\n`);
}

/** Length of the complete bulk/nil/error reply at the start of `buf[0, end)`, or -1. */
export function replyLength(buf: Uint8Array, end: number): number {
  let i = 1;
  while (i < end && buf[i] !== 13) i++;
  if (i + 1 >= end) return -1;
  if (buf[0] !== 36) return i + 2; // an error or another one-line reply
  let n = 0, neg = false;
  for (let j = 1; j < i; j++) {
    if (buf[j] === 45) neg = true;
    else n = n * 10 + buf[j] - 48;
  }
  if (neg) return i + 2;
  const total = i + 2 + n + 2;
  return total <= end ? total : -1;
}

async function client(
  port: number,
  frames: Uint8Array[],
  cdf: Float64Array,
  until: number,
  lat: number[],
): Promise<{ ops: number; errors: number }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const buf = new Uint8Array(64 * 1024);
  let ops = 0, errors = 0;
  try {
    while (performance.now() < until) {
      const frame = frames[pick(cdf, Math.random())];
      const t0 = performance.now();
      await conn.write(frame);
      let have = 0, len = -1;
      while (len < 0) {
        const n = await conn.read(buf.subarray(have));
        if (n === null) throw new Error("connection closed");
        have += n;
        len = replyLength(buf, have);
      }
      if (buf[0] === 45) errors++;
      if ((ops & 7) === 0) lat.push(performance.now() - t0);
      ops++;
    }
  } finally {
    conn.close();
  }
  return { ops, errors };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      port: { type: "string" },
      clients: { type: "string", default: "50" },
      seconds: { type: "string", default: "5" },
      keys: { type: "string", default: "100000" },
      zipf: { type: "string", default: "0.99" },
      warmup: { type: "string", default: "1" },
    },
  });
  const port = Number(values.port);
  const clients = Number(values.clients);
  const seconds = Number(values.seconds);
  const keys = Number(values.keys);
  const cdf = zipfCdf(keys, Number(values.zipf));
  const frames = Array.from({ length: keys }, (_, i) => getFrame(i));
  // Warm-up (fills the cache, opens the pools), not counted.
  const warm = performance.now() + Number(values.warmup) * 1000;
  const warmed = await Promise.all(
    Array.from({ length: clients }, () => client(port, frames, cdf, warm, [])),
  );
  const lat: number[] = [];
  const start = performance.now();
  const until = start + seconds * 1000;
  const res = await Promise.all(
    Array.from({ length: clients }, () => client(port, frames, cdf, until, lat)),
  );
  const elapsed = (performance.now() - start) / 1000;
  const ops = res.reduce((a, r) => a + r.ops, 0);
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat.length === 0 ? 0 : lat[Math.floor(p * (lat.length - 1))];
  console.log(JSON.stringify({
    clients,
    seconds: +elapsed.toFixed(3),
    ops,
    opsPerSec: Math.round(ops / elapsed),
    p50Ms: +q(0.5).toFixed(4),
    p99Ms: +q(0.99).toFixed(4),
    errors: res.reduce((a, r) => a + r.errors, 0),
    warmupOps: warmed.reduce((a, r) => a + r.ops, 0),
  }));
}
