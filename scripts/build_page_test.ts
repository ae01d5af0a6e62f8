/**
 * The checked-in status page module matches a fresh esbuild bundle of
 * `admin/page/`, so the binary never serves a stale page.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { buildPageModule, PAGE_MODULE, REPO_ROOT } from "./build_page.ts";

Deno.test("admin/_page.ts is up to date with admin/page/ (run npm run build:page)", async () => {
  const fresh = await buildPageModule();
  const current = await Deno.readTextFile(`${REPO_ROOT}/${PAGE_MODULE}`);
  assert(current === fresh, `${PAGE_MODULE} is stale: run npm run build:page`);
});

Deno.test("the bundled page holds its script and styles and fetches nothing but /status and /history", async () => {
  const { STATUS_PAGE_HTML } = await import("../admin/_page.ts");
  assert(/<style>\s*:root \{/.test(STATUS_PAGE_HTML), "styles inlined");
  assert(/<script>\s*\(\(\)=>\{/.test(STATUS_PAGE_HTML), "script inlined");
  assert(!STATUS_PAGE_HTML.includes("/*SCRIPT*/") && !STATUS_PAGE_HTML.includes("/*STYLE*/"));
  assertEquals(/<script[^>]*\bsrc=/.test(STATUS_PAGE_HTML), false, "no external script");
  assertEquals(/<link[^>]*\bhref=/.test(STATUS_PAGE_HTML), false, "no external stylesheet");
  // The SVG namespace is a name, never fetched.
  const urls = STATUS_PAGE_HTML.replaceAll("http://www.w3.org/2000/svg", "");
  assertEquals(/https?:\/\//.test(urls), false, "no absolute URL: works offline");
  assertEquals(
    [...STATUS_PAGE_HTML.matchAll(/\bfetch\(/g)].length,
    1,
    "one fetch (of status or history)",
  );
});
