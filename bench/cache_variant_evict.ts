/**
 * What one change to a hash costs the near cache when many of its fields
 * are cached (`HGET h f0` … `HGET h fN-1`, each an entry of its own): the
 * time `CacheStore.invalidate("h")` takes to evict them all, in process.
 * Each entry used to be taken out of its key's list by a linear search, so
 * the whole cost grew with the square of the fields; a set makes it linear.
 *
 * ```sh
 * node_modules/.bin/deno run -A bench/cache_variant_evict.ts [--fields 10000,30000,100000] [--checkout DIR]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { encodeCommand, RequestParser } from "../resp/mod.ts";

const { values } = parseArgs({
  options: {
    fields: { type: "string", default: "10000,30000,100000" },
    checkout: { type: "string" },
  },
});
const root = values.checkout === undefined
  ? new URL("../", import.meta.url).href
  : pathToFileURL(resolve(values.checkout) + "/").href;
const { CacheStore, Evict } = await import(`${root}cache/store.ts`);
const { variantKey, variantOf } = await import(`${root}cache/variants.ts`);

const reply = new TextEncoder().encode("$1\r\nv\r\n");
const parser = new RequestParser();
/** The cache key of `HGET h <field>`, as the near cache makes it. */
function hgetKey(field: string): string {
  const frame = encodeCommand(["HGET", "h", field]);
  parser.parse(frame, 0, frame.length);
  return variantKey(variantOf(parser, frame)!, parser, frame);
}

for (const n of values.fields.split(",").map(Number)) {
  const store = new CacheStore(10 * n, 1 << 30);
  for (let i = 0; i < n; i++) {
    const ck = hgetKey(`f${i}`);
    store.completeFill(ck, store.beginFill(ck), reply, Number.MAX_SAFE_INTEGER);
  }
  const t0 = performance.now();
  store.invalidate("h", Evict.invalidated);
  const ms = performance.now() - t0;
  console.log(
    JSON.stringify({ fields: n, held: store.size, invalidateMs: Math.round(ms * 10) / 10 }),
  );
}
