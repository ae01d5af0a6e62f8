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

Deno.test("the bundled page holds its script and styles and fetches nothing but /status", async () => {
  const { STATUS_PAGE_HTML } = await import("../admin/_page.ts");
  assert(/<style>\s*:root \{/.test(STATUS_PAGE_HTML), "styles inlined");
  assert(/<script>\s*\(\(\)=>\{/.test(STATUS_PAGE_HTML), "script inlined");
  assert(!STATUS_PAGE_HTML.includes("/*SCRIPT*/") && !STATUS_PAGE_HTML.includes("/*STYLE*/"));
  assertEquals(/<script[^>]*\bsrc=/.test(STATUS_PAGE_HTML), false, "no external script");
  assertEquals(/<link[^>]*\bhref=/.test(STATUS_PAGE_HTML), false, "no external stylesheet");
  assertEquals(/https?:\/\//.test(STATUS_PAGE_HTML), false, "no absolute URL: works offline");
});
