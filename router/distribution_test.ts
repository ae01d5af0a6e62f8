import assert from "node:assert/strict";
import { parseConfig } from "../config/load.ts";
import type { RouterConfig } from "../config/types.ts";
import {
  createDistribution,
  KetamaDistribution,
  type KeyDistribution,
  ringMoves,
  sampleKeys,
  SlotsDistribution,
} from "./distribution.ts";
import { fnv1a_64, md5 } from "./hash.ts";
import { KetamaContinuum } from "./ketama.ts";
import { keySlot } from "./slots.ts";

const utf8 = new TextEncoder();
const SERVERS = [
  { shard: "a", name: "10.0.0.1:6379", weight: 1 },
  { shard: "b", name: "10.0.0.2:6379", weight: 1 },
  { shard: "c", name: "10.0.0.3:6379", weight: 1 },
];

function shardOf(d: KeyDistribution, key: string): string {
  return d.shards[d.shardOf(utf8.encode(key))];
}

/** A router parsed from `routerLines` over shards a, b, c, d. */
function router(...routerLines: string[]): RouterConfig {
  const text = [
    "shards:",
    ...["a", "b", "c", "d"].map((s, i) =>
      `  ${s}: { readers: 127.0.0.1:${7001 + i}, nodes: [10.0.0.${i + 1}:6379] }`
    ),
    "routers:",
    "  r:",
    "    listen: 127.0.0.1:6400",
    ...routerLines.map((l) => `    ${l}`),
  ].join("\n");
  const result = parseConfig(text, "t.yaml", {});
  if (result.config === null) throw new Error(JSON.stringify(result.issues));
  return result.config.routers[0];
}

Deno.test("KetamaDistribution hashes with the router's hash over the continuum", () => {
  const d = new KetamaDistribution(SERVERS, fnv1a_64, null);
  const ring = new KetamaContinuum(SERVERS);
  for (const key of ["apple", "user:1", "ключ", "🔑"]) {
    const bytes = utf8.encode(key);
    assert.equal(d.shardOf(bytes), ring.dispatch(fnv1a_64(bytes, 0, bytes.length)), key);
  }
  const padded = utf8.encode("..user:1..");
  assert.equal(d.shardOf(padded, 2, padded.length - 2), d.shardOf(utf8.encode("user:1")));
});

Deno.test("KetamaDistribution applies hash_tag as twemproxy does, {} hashing the whole key", () => {
  const tagged = new KetamaDistribution(SERVERS, md5, "{}");
  const plain = new KetamaDistribution(SERVERS, md5, null);
  assert.equal(shardOf(tagged, "{user42}.cart"), shardOf(plain, "user42"));
  assert.equal(shardOf(tagged, "x{user42}y{z}"), shardOf(plain, "user42"));
  // An empty tag, or a left char with no right one after it: the whole key.
  assert.equal(shardOf(tagged, "{}user42"), shardOf(plain, "{}user42"));
  assert.equal(shardOf(tagged, "}user{42"), shardOf(plain, "}user{42"));
  // The same character on both sides works too (e.g. "::").
  const colons = new KetamaDistribution(SERVERS, md5, "::");
  assert.equal(shardOf(colons, "app:user42:cart"), shardOf(plain, "user42"));
  assert.throws(() => new KetamaDistribution(SERVERS, md5, "{"), RangeError);
});

Deno.test("KetamaDistribution sends the empty key where hash 0 goes, as nutcracker does", () => {
  const d = new KetamaDistribution(SERVERS, fnv1a_64, null);
  const ring = new KetamaContinuum(SERVERS);
  assert.equal(d.shardOf(new Uint8Array(0)), ring.dispatch(0));
});

Deno.test("createDistribution() builds ketama and slots routers from their config", () => {
  const ketama = createDistribution(router("hash: md5", `hash_tag: "{}"`, "shards: [a, b, c]"));
  assert.ok(ketama instanceof KetamaDistribution);
  assert.deepEqual(ketama.shards, ["a", "b", "c"]);
  const direct = new KetamaDistribution(SERVERS, md5, "{}");
  for (const key of sampleKeys(500)) assert.equal(ketama.shardOf(key), direct.shardOf(key));

  const slots = createDistribution(router(
    "distribution: slots",
    "shards:",
    `  - { shard: b, slots: "0-99,8000-16383" }`,
    `  - { shard: a, slots: "100-7999" }`,
  ));
  assert.ok(slots instanceof SlotsDistribution);
  assert.deepEqual(slots.shards, ["b", "a"]);
  for (const key of sampleKeys(2000)) {
    const slot = keySlot(key);
    assert.equal(slots.shards[slots.shardOf(key)], slot >= 100 && slot < 8000 ? "a" : "b");
  }
  assert.equal(shardOf(slots, "{user1000}.following"), shardOf(slots, "user1000"));
});

Deno.test("ringMoves() counts sample keys that change shard", () => {
  const three = createDistribution(router("shards: [a, b, c]"));
  const reordered = createDistribution(router("shards: [c, a, b]"));
  const four = createDistribution(router("shards: [a, b, c, d]"));
  assert.equal(sampleKeys().length, 10_000);
  assert.equal(ringMoves(three, three), 0);
  assert.equal(ringMoves(three, reordered), 0);
  // Consistent hashing: adding a fourth shard moves about a quarter of the keys, all to it.
  const moved = ringMoves(three, four);
  assert.ok(moved > 1500 && moved < 3500, `moved ${moved}`);
  let toNew = 0;
  for (const key of sampleKeys()) if (four.shards[four.shardOf(key)] === "d") toNew++;
  assert.equal(moved, toNew);
  const heavier = createDistribution(router("shards: [a, b, { shard: c, weight: 2 }]"));
  assert.ok(ringMoves(three, heavier) > 0);
});
