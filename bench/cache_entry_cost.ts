/**
 * What one near cache entry costs the heap, against what its byte bound
 * counts for it (`CACHE_ENTRY_OVERHEAD` besides key and reply): fills
 * 100,000 entries into a `CacheStore` the way the tracker does (a key made
 * by `keyString()`, the reply a fresh copy of the node's bytes), three
 * times over, and prints the heap growth per entry after a full GC.
 *
 * ```sh
 * node_modules/.bin/deno run --v8-flags=--expose-gc bench/cache_entry_cost.ts [--value-bytes 3]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { CacheStore, Evict } from "../cache/store.ts";
import { keyString } from "../cache/tracker.ts";
import { encodeCommand } from "../resp/mod.ts";

const { values } = parseArgs({ options: { "value-bytes": { type: "string", default: "3" } } });
const VALUE = Number(values["value-bytes"]);
const N = 100_000;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");

const store = new CacheStore(N, 1 << 30);
const node = new TextEncoder().encode(`$${VALUE}\r\n${"v".repeat(VALUE)}\r\n`);
const runs = [];
for (let r = 0; r < 3; r++) {
  store.clear(Evict.flush);
  gc();
  gc();
  const before = Deno.memoryUsage();
  for (let i = 0; i < N; i++) {
    const frame = encodeCommand(["GET", `key:${String(r * N + i).padStart(12, "0")}`]);
    const key = keyString(frame, frame.length - 18, frame.length - 2);
    store.completeFill(key, store.beginFill(key), node.slice(), 1e12);
  }
  gc();
  gc();
  const after = Deno.memoryUsage();
  runs.push({
    heapBytesPerEntry: Math.round(
      (after.heapUsed - before.heapUsed + after.external - before.external) / N,
    ),
    countedBytesPerEntry: Math.round(store.bytes / N),
  });
}
console.log(JSON.stringify({ entries: N, keyBytes: 16, replyBytes: node.length, runs }));
