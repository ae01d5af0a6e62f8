import { equal, ok } from "node:assert/strict";
import { Admission, hashBytes, hashKey } from "./admission.ts";

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
