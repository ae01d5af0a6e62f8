import assert from "node:assert/strict";
import { startRedis } from "../tests/helpers/mod.ts";
import { integer, pipeline } from "../tests/_raw_resp.ts";
import { clusterCrc16, keySlot } from "./slots.ts";

const utf8 = new TextEncoder();

Deno.test("clusterCrc16() is CRC-16/XMODEM (the Redis Cluster spec's check value)", () => {
  const key = utf8.encode("123456789");
  assert.equal(clusterCrc16(key, 0, key.length), 0x31c3);
});

Deno.test("keySlot() hashes the first non-empty {tag} like Redis Cluster", () => {
  const slot = (k: string) => keySlot(utf8.encode(k));
  assert.equal(slot("{user1000}.following"), slot("user1000"));
  assert.equal(slot("foo{bar}{zap}"), slot("bar"));
  assert.equal(slot("foo{}{bar}"), slot("foo{}{bar}"));
  assert.notEqual(slot("foo{}{bar}"), slot("bar"));
  assert.equal(slot("foo{{bar}}zap"), slot("{bar"));
  assert.equal(slot("foo{bar"), slot("foo{bar"));
  const padded = utf8.encode("xx{user1000}.followingyy");
  assert.equal(keySlot(padded, 2, padded.length - 2), slot("user1000"));
});

Deno.test("keySlot() agrees with CLUSTER KEYSLOT of a real redis-server", async () => {
  await using redis = await startRedis({ args: ["--cluster-enabled", "yes"] });
  const keys: Uint8Array[] = [
    utf8.encode(""),
    utf8.encode("{}"),
    utf8.encode("{}x"),
    utf8.encode("a{b}c{d}"),
    utf8.encode("{{a}}"),
    utf8.encode("ключ:{1}"),
    utf8.encode("鍵:2"),
    utf8.encode("🔑{🔑}"),
    Uint8Array.of(0x80, 0xff, 0x7b, 0xfe, 0x7d, 0x00),
  ];
  for (let i = 0; i < 2000; i++) keys.push(utf8.encode(`key:${i}`), utf8.encode(`{u${i}}:s`));
  const replies = await pipeline(redis.port, keys.map((k) => ["CLUSTER", "KEYSLOT", k]));
  for (const [i, key] of keys.entries()) {
    assert.equal(keySlot(key), integer(replies[i]), `key ${JSON.stringify([...key])}`);
  }
});
