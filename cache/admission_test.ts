import { equal, ok } from "node:assert/strict";
import { Admission, hashBytes, hashKey } from "./admission.ts";
import { CacheStore } from "./store.ts";

Deno.test("Admission.read() admits a burst of 4 x minReads - 1 reads within its two-second period", () => {
  const a = new Admission(3);
  for (let i = 0; i < 10; i++) equal(a.read("k", i * 150), false, `read ${i + 1}`);
  equal(a.read("k", 1600), true);
  equal(a.read("k", 1700), true);
});

Deno.test("Admission.read() halves counts every two seconds", () => {
  const a = new Admission(2); // threshold 7
  for (let i = 0; i < 6; i++) a.read("k", i); // count 6
  equal(a.read("k", 2500), false); // halved to 3, then 4
  equal(a.read("k", 2600), false); // 5
  equal(a.read("k", 2700), false); // 6
  equal(a.read("k", 2800), true); // 7
  const b = new Admission(3);
  for (let i = 0; i < 10; i++) b.read("k", i);
  equal(b.read("k", 8100), false, "four halvings leave one of ten reads");
});

Deno.test("Admission.read() admits a key read minReads times a second within seconds", () => {
  const a = new Admission(3);
  let at = -1;
  for (let s = 0; s < 12 && at < 0; s++) {
    for (let i = 0; i < 3; i++) if (a.read("k", s * 1000 + i * 300) && at < 0) at = s;
  }
  ok(at >= 3 && at <= 10, `admitted in second ${at}`);
  const b = new Admission(3);
  let hot = -1;
  for (let i = 0; i < 100 && hot < 0; i++) if (b.read("k", i * 50)) hot = i * 50;
  ok(hot >= 0 && hot < 1000, `a key read 20 times a second is in within a second (${hot} ms)`);
});

Deno.test("Admission.read() lets no cold key in among many read once", () => {
  const a = new Admission(3);
  let admitted = 0;
  // 50,000 reads within one second, each key read once (a cold uniform scan at 50k ops/s).
  for (let i = 0; i < 50_000; i++) if (a.read(`cold:${i}`, 1)) admitted++;
  equal(admitted, 0);
});

/** Keys of a uniform keyspace of `keys` read `perSecond` times a second for `seconds` that get in (min_reads 3). */
function uniformAdmitted(keys: number, perSecond: number, seconds: number, seed: number): number {
  const a = new Admission(3);
  const admitted = new Set<number>();
  let x = seed;
  for (let s = 0; s < seconds; s++) {
    for (let i = 0; i < perSecond; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const k = x % keys;
      if (a.read(`key:${k}`, s * 1000 + (i * 1000) / perSecond)) admitted.add(k);
    }
  }
  console.log(`${admitted.size} of ${keys} keys admitted`);
  return admitted.size;
}

Deno.test("Admission.read() keeps a uniform keyspace read at half the threshold rate out", () => {
  // 100,000 keys read 1.5 times a second each for 5 s (MGET of 10 keys at 15,000/s), min_reads 3.
  const n = uniformAdmitted(100_000, 150_000, 5, 12345);
  ok(n < 100_000 * 0.05, `${n} admitted`);
});

Deno.test("Admission.read() keeps cold keys out at 400,000 reads a second over 200,000 keys", () => {
  // MGET of 10 keys at 40,000/s over a keyspace twice the size: each key read 2 times a second.
  const n = uniformAdmitted(200_000, 400_000, 5, 777);
  ok(n < 200_000 * 0.05, `${n} admitted`);
});

Deno.test("Admission.read() with minReads 1 admits at once", () => {
  equal(new Admission(1).read("x", 0), true);
});

Deno.test("hashBytes() of a key's bytes equals hashKey() of it as latin1", () => {
  const bytes = new Uint8Array([0, 107, 101, 121, 58, 255, 128, 13, 10]);
  const latin1 = String.fromCharCode(...bytes);
  equal(hashBytes(bytes, 0, bytes.length), hashKey(latin1));
  equal(hashBytes(bytes, 1, 4), hashKey("key"));
});

Deno.test("Admission.read() admits at minReads reads while the cache has room", () => {
  const a = new Admission(3);
  equal(a.read("k", 0, true), false);
  equal(a.read("k", 10, true), false);
  equal(a.read("k", 20, true), true, "third read, room to spare");
  equal(a.read("j", 0, false), false);
  equal(a.read("j", 10, false), false);
  equal(a.read("j", 20, false), false, "a full cache wants a sustained rate");
});

/** What one simulated run of reads through an admission rule and a store left. */
interface Run {
  /** Fills once the store had first filled up (churn). */
  fillsWhenFull: number;
  /** Hits among the last second's reads. */
  lastSecondHitRate: number;
  /** How many of the `top` most read keys are cached at the end. */
  topCached: number;
}

/**
 * Reads keys `k:<rank>` (rank from `pick`) `perSecond` times a second for
 * `seconds` through a store of `maxKeys` keys; a miss the admission wants is
 * filled at once. `rule`: `wants` (default, a GET's), `wantsHot` (an MGET
 * key's), or `threshold` (the hot threshold alone, even once full: the rule
 * before displacement).
 */
function simulate(
  pick: () => number,
  o: {
    maxKeys: number;
    perSecond: number;
    seconds: number;
    top: number;
    rule?: "wants" | "wantsHot" | "threshold";
    /** Start full of keys never read again (what a scan left). */
    polluted?: boolean;
  },
): Run {
  const a = new Admission(3);
  const store = new CacheStore(o.maxKeys, 1 << 30);
  for (let i = 0; o.polluted && i < o.maxKeys; i++) {
    store.completeFill(`scan:${i}`, store.beginFill(`scan:${i}`), null, Infinity);
  }
  let full = store.size >= o.maxKeys, fillsWhenFull = 0, hits = 0;
  const reads = o.perSecond * o.seconds;
  for (let i = 0; i < reads; i++) {
    const now = (i * 1000) / o.perSecond;
    const key = `k:${pick()}`;
    const hit = store.get(key, now) !== undefined;
    if (hit && i >= reads - o.perSecond) hits++;
    if (hit) continue;
    const h = hashKey(key);
    const fetch = o.rule === "threshold"
      ? a.readHash(h, now, store.roomy)
      : o.rule === "wantsHot"
      ? a.wantsHot(h, now, store)
      : a.wants(h, now, store);
    if (!fetch) continue;
    if (full) fillsWhenFull++;
    store.completeFill(key, store.beginFill(key), null, Infinity);
    if (store.size >= o.maxKeys) full = true;
  }
  let topCached = 0;
  for (let r = 0; r < o.top; r++) if (store.get(`k:${r}`, 0) !== undefined) topCached++;
  return { fillsWhenFull, lastSecondHitRate: hits / o.perSecond, topCached };
}

/** A seeded pick of ranks 0..n-1: Zipf of exponent `s` (uniform when 0). */
function picker(n: number, s: number, seed: number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) cdf[i] = sum += s === 0 ? 1 : 1 / Math.pow(i + 1, s);
  let x = seed;
  return () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const u = (x / 2 ** 32) * sum;
    let lo = 0, hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

Deno.test("Admission.wants(): a cache a scan filled converges on the most read keys of a skewed keyspace", () => {
  // Zipf 0.99 over 100,000 keys at 55,000 reads a second (the benchmark's hot set through
  // shardgate) for 5 s, into a cache of 10,000 keys that a scan over other keys had filled.
  const o = { maxKeys: 10_000, perSecond: 55_000, seconds: 5, top: 10_000, polluted: true };
  const now = simulate(picker(100_000, 0.99, 42), o);
  const before = simulate(picker(100_000, 0.99, 42), { ...o, rule: "threshold" });
  console.log("displacement:", now, "hot threshold only:", before);
  ok(now.topCached > 0.3 * o.top, `${now.topCached} of the top ${o.top} cached`);
  ok(
    now.topCached > before.topCached + 0.2 * o.top,
    "more of the top keys than the hot rule alone",
  );
  ok(
    now.lastSecondHitRate > before.lastSecondHitRate + 0.05,
    `hit rate ${now.lastSecondHitRate} vs ${before.lastSecondHitRate}`,
  );
});

Deno.test("Admission.wants(): a uniform keyspace larger than a full cache does not churn it", () => {
  // 100,000 keys read uniformly at 50,000 reads a second, a cache of 10,000 keys, 20 s: once
  // full, under 0.5% of reads fetch a key in place of another read as often.
  const o = { maxKeys: 10_000, perSecond: 50_000, seconds: 20, top: 0 };
  const run = simulate(picker(100_000, 0, 7), o);
  console.log(run);
  ok(run.fillsWhenFull < 0.005 * o.perSecond * o.seconds, `${run.fillsWhenFull} fills once full`);
});

Deno.test("Admission.wants() and wantsHot(): a full cache is not churned by a uniform keyspace read above the threshold", () => {
  // 100,000 keys read uniformly at 500,000 reads a second (an MGET of 10 keys at 50,000 a second):
  // 5 reads a second each, every key hot by the threshold (minReads 3), and a cache of 10,000.
  // Replacing one such key by another answers nothing more and costs a fill: once full, under
  // 0.5% of reads fetch a key. (The hot threshold alone, once full, fetched at over a fifth of them.)
  const o = { maxKeys: 10_000, perSecond: 500_000, seconds: 4, top: 0 };
  const reads = o.perSecond * o.seconds;
  const get = simulate(picker(100_000, 0, 11), o);
  const mget = simulate(picker(100_000, 0, 11), { ...o, rule: "wantsHot" });
  const before = simulate(picker(100_000, 0, 11), { ...o, rule: "threshold" });
  console.log("wants:", get, "wantsHot:", mget, "threshold alone:", before);
  ok(get.fillsWhenFull < 0.005 * reads, `wants: ${get.fillsWhenFull} fills once full`);
  ok(mget.fillsWhenFull < 0.005 * reads, `wantsHot: ${mget.fillsWhenFull} fills once full`);
  ok(before.fillsWhenFull > 0.1 * reads, `the threshold alone churns: ${before.fillsWhenFull}`);
});

Deno.test("Admission.wantsHot(): the threshold (lower with room), and once full also above the victim", () => {
  const a = new Admission(3); // full threshold 11, room 3, displacement above 4
  const roomy = { roomy: true, victim: () => undefined };
  equal(a.wantsHot(hashKey("k"), 0, roomy), false);
  equal(a.wantsHot(hashKey("k"), 1, roomy), false);
  equal(a.wantsHot(hashKey("k"), 2, roomy), true, "room: minReads reads");
  const cold = { roomy: false, victim: () => ({ hash: hashKey("cold") }) };
  for (let i = 0; i < 7; i++) {
    equal(a.wantsHot(hashKey("w"), i, cold), false, "no displacement below the threshold");
  }
  for (let i = 0; i < 10; i++) a.read("h", i);
  equal(a.wantsHot(hashKey("h"), 10, cold), true, "hot, above a cold victim");
  for (let i = 0; i < 20; i++) a.read("warm", i);
  const warm = { roomy: false, victim: () => ({ hash: hashKey("warm") }) };
  for (let i = 0; i < 10; i++) a.read("h2", i);
  equal(
    a.wantsHot(hashKey("h2"), 10, warm),
    false,
    "hot, but not above twice a victim read as often",
  );
  equal(a.wants(hashKey("h2"), 10, warm), false, "a GET's key neither");
});

Deno.test("Admission.estimate() reads a count without counting", () => {
  const a = new Admission(3);
  const h = hashKey("k");
  equal(a.count(h, 0), 1);
  equal(a.count(h, 1), 2);
  equal(a.estimate(h, 2), 2);
  equal(a.estimate(h, 3), 2);
  equal(a.estimate(h, 2001), 1, "halved with its period");
  equal(a.displaces(5, 0), true);
  equal(a.displaces(4, 0), false, "not above minReads + 1");
  equal(a.displaces(6, 2), false, "not above twice the victim's plus two");
  equal(a.displaces(7, 2), true);
});

Deno.test("Admission while lean: the full threshold only, no lower bar for room, no displacement", () => {
  const a = new Admission(3); // full threshold 11, room 3, displacement above 4
  a.lean = true;
  for (let i = 0; i < 3; i++) equal(a.read("k", i, true), false, `read ${i + 1}, room to spare`);
  const full = { roomy: false, victim: () => ({ hash: hashKey("cold") }) };
  for (let i = 0; i < 7; i++) equal(a.wants(hashKey("w"), i, full), false, "would displace");
  for (let i = 0; i < 10; i++) a.read("h", i);
  equal(a.wants(hashKey("h"), 10, full), true, "hot by the full threshold");
  a.lean = false;
  equal(a.wants(hashKey("w"), 11, full), true, "not lean: count 8 displaces a victim of 0");
  equal(a.read("k", 12, true), true, "not lean: room lets count 4 in");
});
