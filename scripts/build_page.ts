/**
 * `npm run build:page`: bundles the status page (`admin/page/main.ts`,
 * `style.css`, `index.html`) with esbuild into one HTML string and writes it
 * to `admin/_page.ts`, so the binary serves the page with nothing to fetch.
 * The generated module is checked in (a fresh clone and `deno compile` need
 * no build step); `scripts/build_page_test.ts` fails when it is stale.
 *
 * Usage: `npm run build:page`.
 *
 * @module
 */

import * as esbuild from "esbuild";

/** The repo root (one level up from this file). */
export const REPO_ROOT: string = decodeURIComponent(new URL("../", import.meta.url).pathname)
  .replace(/\/$/, "");
/** The generated module, relative to the repo root. */
export const PAGE_MODULE = "admin/_page.ts";
const PAGE_DIR = `${REPO_ROOT}/admin/page`;

/** Bundles and minifies the page script (browsers from 2020 on). */
async function bundleScript(): Promise<string> {
  try {
    const out = await esbuild.build({
      entryPoints: [`${PAGE_DIR}/main.ts`],
      bundle: true,
      minify: true,
      format: "iife",
      target: ["es2020"],
      platform: "browser",
      write: false,
      legalComments: "none",
      logLevel: "silent",
    });
    return out.outputFiles[0].text.trim();
  } finally {
    await esbuild.stop();
  }
}

/** The text of `admin/_page.ts` built from the page sources. */
export async function buildPageModule(): Promise<string> {
  const [html, css, script] = await Promise.all([
    Deno.readTextFile(`${PAGE_DIR}/index.html`),
    Deno.readTextFile(`${PAGE_DIR}/style.css`),
    bundleScript(),
  ]);
  // A literal "</script" inside the script would end the element early.
  const safeScript = script.replaceAll("</script", "<\\/script");
  const page = html.replace("/*STYLE*/", () => css.trim()).replace(
    "/*SCRIPT*/",
    () => safeScript,
  );
  return [
    "// GENERATED FILE - do not edit by hand.",
    "// Built by scripts/build_page.ts (npm run build:page) from admin/page/.",
    "",
    "/**",
    " * The status page: HTML with its styles and bundled script inlined.",
    " *",
    " * @module",
    " */",
    "",
    "/** The whole status page, served at `/`. */",
    `export const STATUS_PAGE_HTML: string = ${JSON.stringify(page)};`,
    "",
  ].join("\n");
}

async function main(): Promise<number> {
  const text = await buildPageModule();
  const path = `${REPO_ROOT}/${PAGE_MODULE}`;
  await Deno.writeTextFile(path, text);
  console.log(`wrote ${PAGE_MODULE} (${text.length} bytes)`);
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main());
}
