import { deepEqual, equal } from "node:assert/strict";
import { frameName, inclusive } from "./perf_inclusive.ts";

const DUMP = `deno 100 1.0: 500 cpu-clock:ppp:
\t    7f00 JS:*'#get file:///work/main/cache/near_cache.ts:173:11+0x1f (/tmp/perf-100.map)
\t    7f01 JS:*'routed file:///work/main/proxy/session/mux.ts:135:20+0x8 (/tmp/perf-100.map)
\t    7f02 JS:*'routed file:///work/main/proxy/session/mux.ts:135:20+0x40 (/tmp/perf-100.map)

deno 100 1.1: 500 cpu-clock:ppp:
\t    ffff do_syscall_64+0x3 ([kernel.kallsyms])
\t    7f01 JS:~'routed file:///work/main/proxy/session/mux.ts:135:20+0x8 (/tmp/perf-100.map)

`;

Deno.test("perf_inclusive: frame names drop offsets, map file, tier mark and checkout path", () => {
  equal(
    frameName("JS:*'#get file:///tmp/base/cache/near_cache.ts:173:11+0x1f (/tmp/perf-9.map)"),
    "JS:'#get cache/near_cache.ts:173:11",
  );
});

Deno.test("perf_inclusive: a function counts once per sample whose stack holds it", () => {
  const r = inclusive(DUMP);
  equal(r.samples, 2);
  deepEqual(r.byFunction.get("JS:'routed proxy/session/mux.ts:135:20"), 2, "recursion counts once");
  deepEqual(r.byFunction.get("JS:'#get cache/near_cache.ts:173:11"), 1);
  deepEqual(r.byFunction.get("do_syscall_64 ([kernel.kallsyms])"), 1);
});
