import * as assert from "node:assert/strict";
import { parseConfig } from "./load.ts";
import {
  DEFAULT_CACHE_MAX_AGE_MS,
  DEFAULT_CACHE_MAX_BYTES,
  DEFAULT_CACHE_MAX_KEYS,
  DEFAULT_CACHE_MIN_READS,
} from "./defaults.ts";
import type { ShardConfig } from "./types.ts";

const NODES = "    readers: 127.0.0.1:7001\n    nodes: [127.0.0.1:6379]\n";

function shard(extra = "", defaults = ""): string {
  return (defaults === "" ? "" : `defaults:\n  ${defaults}\n`) +
    `shards:\n  s:\n${NODES}${extra === "" ? "" : `    ${extra}\n`}`;
}

function only(text: string): ShardConfig {
  const r = parseConfig(text, "c.yaml");
  assert.deepEqual(r.issues, []);
  return r.config!.shards[0];
}

function bad(text: string): string[] {
  return parseConfig(text, "c.yaml").issues.map((i) =>
    `${i.line}:${i.col}: ${i.path}: ${i.message}`
  );
}

Deno.test("parseConfig() reads cache: off by default, true turns it on with the defaults", () => {
  assert.equal(only(shard()).cache.enabled, false);
  assert.deepEqual(only(shard("cache: true")).cache, {
    enabled: true,
    maxKeys: DEFAULT_CACHE_MAX_KEYS,
    maxBytes: DEFAULT_CACHE_MAX_BYTES,
    minReads: DEFAULT_CACHE_MIN_READS,
    maxAgeMs: DEFAULT_CACHE_MAX_AGE_MS,
  });
});

Deno.test("parseConfig() reads a cache map, and a shard's cache over the defaults'", () => {
  assert.deepEqual(
    only(shard("cache: { max_keys: 100, max_bytes: 65536, min_reads: 5, max_age: 2s }")).cache,
    { enabled: true, maxKeys: 100, maxBytes: 65536, minReads: 5, maxAgeMs: 2000 },
  );
  const c = only(shard("cache: { min_reads: 1 }", "cache: { max_keys: 7 }")).cache;
  assert.equal(c.maxKeys, 7);
  assert.equal(c.minReads, 1);
  assert.equal(only(shard("cache: false", "cache: true")).cache.enabled, false);
});

Deno.test("parseConfig() refuses bad cache settings with their positions", () => {
  assert.deepEqual(bad(shard("cache: { max_keys: 0, maxage: 1s }")), [
    "5:24: shards.s.cache.max_keys: 0 is out of range (expected an integer >= 1)",
    `5:27: shards.s.cache.maxage: unknown key "maxage" (did you mean "max_age"?)`,
  ]);
  assert.equal(bad(shard("cache: maybe")).length, 1);
});
