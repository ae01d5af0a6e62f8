import { deepEqual, equal } from "node:assert/strict";
import { CacheStore, Evict } from "./store.ts";
import { hashBytes, hashKey } from "./admission.ts";

const te = new TextEncoder();
const bulk = (s: string) => te.encode(`$${s.length}\r\n${s}\r\n`);

Deno.test("CacheStore.completeFill() keeps a fill no invalidation voided", () => {
  const s = new CacheStore(10, 1 << 20);
  const t = s.beginFill("k");
  equal(s.completeFill("k", t, bulk("v"), 1000), true);
  deepEqual(s.get("k", 0)?.reply, bulk("v"));
  equal(s.fills, 1);
});

Deno.test("CacheStore.completeFill() drops a fill whose key was invalidated in flight", () => {
  const s = new CacheStore(10, 1 << 20);
  const t = s.beginFill("k");
  s.invalidate("k", Evict.invalidated);
  equal(s.completeFill("k", t, bulk("old"), 1000), false);
  equal(s.get("k", 0), undefined);
  equal(s.raced, 1);
  // A later fill is kept.
  const t2 = s.beginFill("k");
  equal(s.completeFill("k", t2, bulk("new"), 1000), true);
});

Deno.test("CacheStore.clear() voids every fill in flight (a flush)", () => {
  const s = new CacheStore(10, 1 << 20);
  const t = s.beginFill("k");
  s.completeFill("a", s.beginFill("a"), null, 1000);
  equal(s.clear(Evict.flush), 1);
  equal(s.completeFill("k", t, bulk("v"), 1000), false);
  equal(s.evictions[Evict.flush], 1);
});

Deno.test("CacheStore.beginFill() allows one fill per key at a time", () => {
  const s = new CacheStore(10, 1 << 20);
  equal(s.beginFill("k") > 0, true);
  equal(s.beginFill("k"), 0);
});

Deno.test("CacheStore.get() never serves an entry at or past its deadline", () => {
  const s = new CacheStore(10, 1 << 20);
  s.completeFill("k", s.beginFill("k"), bulk("v"), 100);
  equal(s.get("k", 99)?.key, "k");
  equal(s.get("k", 100), undefined);
  equal(s.evictions[Evict.expired], 1);
  equal(s.size, 0);
});

Deno.test("CacheStore keeps within its key bound, sparing recently hit entries", () => {
  const s = new CacheStore(3, 1 << 20);
  for (const k of ["a", "b", "c"]) s.completeFill(k, s.beginFill(k), bulk(k), 1e9);
  s.get("a", 0);
  s.completeFill("d", s.beginFill("d"), bulk("d"), 1e9);
  equal(s.size, 3);
  equal(s.get("b", 0), undefined);
  equal(s.get("a", 0)?.key, "a");
  equal(s.evictions[Evict.size], 1);
});

Deno.test("CacheStore keeps within its byte bound", () => {
  const s = new CacheStore(1_000_000, 10_000);
  const big = "x".repeat(500);
  for (let i = 0; i < 100; i++) s.completeFill(`k${i}`, s.beginFill(`k${i}`), bulk(big), 1e9);
  equal(s.bytes <= 10_000, true);
  equal(s.size > 0, true);
  s.resize(1_000_000, 2_000);
  equal(s.bytes <= 2_000, true);
});

Deno.test("CacheStore.find() finds held keys by their bytes, also two keys of one hash", () => {
  const s = new CacheStore(100, 1 << 20);
  // FNV-1a gives these two the same 32 bits: one place in the index, two entries chained.
  equal(hashKey("k32728"), hashKey("k261234"));
  const frame = te.encode("..k32728..k261234..kx..");
  const at = (k: string) => {
    const i = new TextDecoder().decode(frame).indexOf(`.${k}.`) + 1;
    return s.find(frame, i, i + k.length, hashBytes(frame, i, i + k.length), 0);
  };
  for (const k of ["k32728", "k261234", "a"]) s.completeFill(k, s.beginFill(k), bulk(k), 1000);
  deepEqual(at("k32728")?.reply, bulk("k32728"));
  deepEqual(at("k261234")?.reply, bulk("k261234"));
  equal(at("kx"), undefined);
  s.invalidate("k261234", Evict.invalidated); // the later one: the head of its chain
  equal(at("k261234"), undefined);
  deepEqual(at("k32728")?.reply, bulk("k32728"));
  s.completeFill("k261234", s.beginFill("k261234"), bulk("again"), 1000);
  s.invalidate("k32728", Evict.write); // now the tail of its chain
  equal(at("k32728"), undefined);
  deepEqual(at("k261234")?.reply, bulk("again"));
  equal(s.get("k261234", 0)?.key, "k261234");
  equal(s.get("k32728", 0), undefined);
  s.clear(Evict.flush);
  equal(at("k261234"), undefined);
  s.completeFill("k32728", s.beginFill("k32728"), bulk("v"), 1000);
  deepEqual(at("k32728")?.reply, bulk("v"), "the index starts empty after a flush");
  equal(at("k261234"), undefined);
});

Deno.test("CacheStore.find() keeps finding every held key as its index grows and entries go", () => {
  const s = new CacheStore(20_000, 1 << 30);
  const n = 5000; // the index starts with 1,024 buckets: it doubles three times on the way
  const keys = Array.from({ length: n }, (_, i) => `key:${i}`);
  for (const k of keys) s.completeFill(k, s.beginFill(k), bulk(k), 1000);
  const find = (k: string) => {
    const b = te.encode(k);
    return s.find(b, 0, b.length, hashBytes(b, 0, b.length), 0);
  };
  for (const k of keys) deepEqual(find(k)?.reply, bulk(k), k);
  for (let i = 0; i < n; i += 2) s.invalidate(keys[i], Evict.invalidated);
  for (let i = 0; i < n; i++) equal(find(keys[i]) !== undefined, i % 2 === 1, keys[i]);
  equal(find("key:absent"), undefined);
  s.clear(Evict.flush);
  for (const k of keys) equal(find(k), undefined, k);
  s.completeFill("key:1", s.beginFill("key:1"), bulk("again"), 1000);
  deepEqual(find("key:1")?.reply, bulk("again"));
});

Deno.test("CacheStore.roomy says whether another entry fits without an eviction", () => {
  const s = new CacheStore(2, 1 << 20);
  equal(s.roomy, true);
  const t = s.beginFill("a");
  equal(s.roomy, true, "one fill in flight, one place left");
  s.beginFill("b");
  equal(s.roomy, false, "fills in flight count");
  s.completeFill("a", t, bulk("a"), 1000);
  equal(s.roomy, false);
  s.invalidate("a", Evict.invalidated);
  s.invalidate("b", Evict.invalidated);
  equal(s.roomy, true);
});

Deno.test("CacheStore.victim() names the entry at the CLOCK hand, without moving it", () => {
  const s = new CacheStore(3, 1 << 20);
  equal(s.victim(), undefined);
  for (const k of ["a", "b", "c"]) s.completeFill(k, s.beginFill(k), bulk(k), 1e9);
  equal(s.victim()?.key, "a");
  equal(s.victim()?.hash, hashKey("a"));
  s.get("a", 0);
  equal(s.victim()?.key, "a", "a hit gives it its second chance only when something is evicted");
  s.completeFill("d", s.beginFill("d"), bulk("d"), 1e9);
  equal(s.get("b", 0), undefined, "b went; a was spared");
  equal(s.victim()?.key, "c");
});

Deno.test("CacheStore.takeRenewal() says once that an expired entry had answered reads", () => {
  const s = new CacheStore(10, 1 << 20);
  s.completeFill("used", s.beginFill("used"), bulk("u"), 100);
  s.completeFill("idle", s.beginFill("idle"), bulk("i"), 100);
  equal(s.get("used", 50)?.key, "used");
  equal(s.takeRenewal(), false, "a hit is no renewal");
  equal(s.get("used", 100), undefined);
  equal(s.takeRenewal(), true);
  equal(s.takeRenewal(), false, "said once");
  equal(s.get("idle", 100), undefined);
  equal(s.takeRenewal(), false, "never read: it earns its place again");
  equal(s.evictions[Evict.expired], 2);
});

Deno.test("CacheStore.completeFill() of a held key with the same bytes moves its deadline and keeps it live", () => {
  const s = new CacheStore(10, 1 << 20);
  s.completeFill("k", s.beginFill("k"), bulk("v"), 1000);
  const e = s.get("k", 0)!;
  equal(s.completeFill("k", s.beginFill("k"), bulk("v"), 5000, true), true);
  equal(s.get("k", 4000), e, "the same entry, still held");
  equal(e.live, true, "hits already taken from it stand");
  equal(e.capped, true);
  equal(s.refreshes, 1);
  equal(s.fills, 1, "no admission");
  equal(s.evictions[Evict.invalidated], 0);
});

Deno.test("CacheStore.completeFill() of a held key with other bytes replaces it", () => {
  const s = new CacheStore(10, 1 << 20);
  s.completeFill("k", s.beginFill("k"), bulk("v"), 1000);
  const e = s.get("k", 0)!;
  equal(s.completeFill("k", s.beginFill("k"), bulk("w"), 5000), true);
  equal(e.live, false, "hits taken from the old entry are retracted");
  deepEqual(s.get("k", 4000)?.reply, bulk("w"));
  equal(s.refreshes, 0);
  equal(s.size, 1);
});

Deno.test("CacheStore evicts in CLOCK order through fills, hits, invalidations and a flush (against a model)", () => {
  // The model: CLOCK over a Map in insertion order, a passed-over entry moved to the back.
  const model = new Map<string, boolean>(); // key -> hit since passed
  const modelFill = (k: string, max: number) => {
    model.delete(k);
    model.set(k, false);
    while (model.size > max) {
      const [first, ref] = model.entries().next().value as [string, boolean];
      model.delete(first);
      if (ref) model.set(first, false);
    }
  };
  let seed = 12345;
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const max = 16;
  const s = new CacheStore(max, 1 << 30);
  for (let step = 0; step < 20_000; step++) {
    const k = `k${rand(48)}`;
    const op = rand(100);
    if (op < 45) {
      // A fill of another value (a held key's entry is replaced: it joins at the back).
      s.completeFill(k, s.beginFill(k), bulk(`${k}:${step}`), 1e9);
      modelFill(k, max);
    } else if (op < 90) {
      const hit = s.get(k, 0) !== undefined;
      equal(hit, model.has(k), `step ${step}: ${k} held`);
      if (hit) model.set(k, true);
    } else if (op < 99) {
      equal(s.invalidate(k, Evict.invalidated), model.delete(k), `step ${step}: invalidate ${k}`);
    } else {
      s.clear(Evict.flush);
      model.clear();
    }
    equal(s.size, model.size);
    equal(s.victim()?.key, model.keys().next().value, `step ${step}: the hand`);
  }
});

Deno.test("CacheStore: a key's change ends every read's entry of it and voids their fills", () => {
  const s = new CacheStore(10, 1 << 20);
  const all = "\u0102h", field = "\u0101h\u0100f", other = "\u0102hh";
  const map = te.encode("%1\r\n$1\r\nf\r\n$1\r\nv\r\n");
  const arr = te.encode("*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
  equal(s.completeFill(all, s.beginFill(all), map, 1000, false, arr), true);
  equal(s.completeFill(other, s.beginFill(other), map, 1000), true);
  const inflight = s.beginFill(field);
  deepEqual(s.resp2(s.get(all, 0)!), arr);
  equal(s.resp2(s.get(other, 0)!), undefined);
  // h changes: its HGETALL goes, its HGET's fill is void; hh's entry stays.
  equal(s.invalidate("h", Evict.invalidated), true);
  equal(s.get(all, 0), undefined);
  equal(s.completeFill(field, inflight, bulk("v"), 1000), false);
  equal(s.get(other, 0)?.key, other);
  equal(s.invalidate("h", Evict.invalidated), false);
  // An entry that left by its own deadline is no longer one of h's.
  equal(s.completeFill(all, s.beginFill(all), map, 10, false, arr), true);
  equal(s.get(all, 20), undefined);
  equal(s.invalidate("h", Evict.invalidated), false);
  equal(s.evictions[Evict.expired], 1);
  equal(s.evictions[Evict.invalidated], 1);
});

Deno.test("CacheStore: a fill of another read that ended unkept leaves nothing to void", () => {
  const s = new CacheStore(10, 1 << 20);
  const ck = "\u0103k";
  s.abandonFill(ck, s.beginFill(ck));
  const t = s.beginFill(ck);
  equal(t > 0, true);
  equal(s.completeFill(ck, t, te.encode(":1\r\n"), 1000), true);
  equal(s.size, 1);
});

Deno.test("CacheStore: a key with thousands of reads' entries loses them all at its change, and each one evicted alone leaves its set", () => {
  const s = new CacheStore(5_000, 1 << 30);
  const field = (i: number) => `\u0101h\u0100f${i}`;
  const map = te.encode("%1\r\n$1\r\nf\r\n$1\r\nv\r\n");
  const arr = te.encode("*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
  for (let i = 0; i < 4_000; i++) s.completeFill(field(i), s.beginFill(field(i)), bulk("v"), 1000);
  equal(s.completeFill("\u0102h", s.beginFill("\u0102h"), map, 1000, false, arr), true);
  equal(s.size, 4_001);
  // Past the key bound by 1,001 entries: the oldest of h's HGET entries go one by one.
  s.maxKeys = 3_000;
  s.completeFill("other", s.beginFill("other"), bulk("o"), 1000);
  equal(s.evictions[Evict.size], 1_002);
  equal(s.size, 3_000);
  // h changes: every entry of it left goes at once; "other" stays; its RESP2 form is gone too.
  equal(s.invalidate("h", Evict.invalidated), true);
  equal(s.size, 1);
  equal(s.evictions[Evict.invalidated], 2_999);
  equal(s.get("\u0102h", 0), undefined);
  equal(s.get("other", 0)?.key, "other");
  equal(s.invalidate("h", Evict.invalidated), false);
  // Filled again afterwards, h's entries are h's once more.
  equal(s.completeFill("\u0102h", s.beginFill("\u0102h"), map, 1000, false, arr), true);
  deepEqual(s.resp2(s.get("\u0102h", 0)!), arr);
  equal(s.invalidate("h", Evict.invalidated), true);
  equal(s.size, 1);
});
