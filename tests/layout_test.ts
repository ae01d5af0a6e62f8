/**
 * The folder layout DESIGN.md and README.md promise, checked on the files
 * themselves: dependencies between our folders point one way, and
 * test-support files that live among production files are named
 * `_test_*.ts`.
 *
 * Import specifiers are read with a regular expression after comments are
 * stripped (static `import … from`, `export … from`, bare `import "…"` and
 * `import("…")`); only relative specifiers are ours.
 *
 * @module
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

/**
 * What each folder's production files may import of ours, besides files of
 * their own folder. `config`, `resp` and `telemetry` import nothing of ours;
 * everyone else may use `config` (its types and defaults).
 */
export const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  config: [],
  resp: [],
  telemetry: [],
  net: ["config", "resp"],
  upgrade: ["config"],
  cache: ["config", "resp"],
  health: ["config", "resp", "net", "telemetry"],
  proxy: ["config", "resp", "net", "telemetry", "upgrade", "cache"],
  router: ["config", "resp", "telemetry", "proxy"],
  admin: ["config", "telemetry", "health", "proxy", "upgrade", "cache"],
};

/** Folders whose test code may import only the shared harness under `tests/`. */
const LEAVES = new Set(["config", "resp", "telemetry"]);

/**
 * Test-support files still named under an old scheme, pending a rename by
 * whoever owns them (the session core is being rewritten).
 */
const PENDING_RENAME = new Set<string>();

/** `*_test.ts` (a test) or `_test_*.ts` (test support among production files). */
function isTestCode(path: string): boolean {
  const name = path.slice(path.lastIndexOf("/") + 1);
  return name.endsWith("_test.ts") || name.startsWith("_test_") || PENDING_RENAME.has(path);
}

/** Every `.ts` file under `dir` (relative to the repo root), sorted. */
async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(new URL(dir + "/", ROOT))) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...await tsFiles(path));
    else if (e.isFile && e.name.endsWith(".ts")) out.push(path);
  }
  return out.sort();
}

/** Source without comments (string contents that look like comments are rare in import lines). */
function stripComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
}

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["']([^"']+)["']/gm;

/** The relative import specifiers of `src`. */
export function relativeImports(src: string): string[] {
  const out: string[] = [];
  for (const m of stripComments(src).matchAll(SPECIFIER)) {
    if (m[1].startsWith(".")) out.push(m[1]);
  }
  return out;
}

/** `spec` imported from `file`, as a repo-relative path. */
function resolve(file: string, spec: string): string {
  return new URL(spec, new URL(file, ROOT)).pathname.slice(ROOT.pathname.length);
}

/** The top folder of a repo-relative path ("" for files at the root). */
function folderOf(path: string): string {
  const i = path.indexOf("/");
  return i < 0 ? "" : path.slice(0, i);
}

interface Edge {
  readonly from: string;
  readonly to: string;
}

/** The imports of ours in `files`, as edges. */
async function edgesOf(files: readonly string[]): Promise<Edge[]> {
  const out: Edge[] = [];
  for (const file of files) {
    const src = await Deno.readTextFile(new URL(file, ROOT));
    for (const spec of relativeImports(src)) out.push({ from: file, to: resolve(file, spec) });
  }
  return out;
}

/** The imports of every file in the folders of {@link ALLOWED}. */
async function edges(): Promise<Edge[]> {
  const files: string[] = [];
  for (const dir of Object.keys(ALLOWED)) files.push(...await tsFiles(dir));
  return await edgesOf(files);
}

/** The broken rules among `edges`, as readable lines. */
export function violations(list: readonly Edge[]): string[] {
  const bad: string[] = [];
  for (const { from, to } of list) {
    const mine = folderOf(from);
    const theirs = folderOf(to);
    if (theirs === mine) continue;
    if (isTestCode(from)) {
      if (LEAVES.has(mine) && theirs !== "tests") bad.push(`${from} (test code) imports ${to}`);
      continue;
    }
    if (isTestCode(to)) {
      bad.push(`${from} imports test support ${to}`);
      continue;
    }
    if (!(ALLOWED[mine] ?? []).includes(theirs)) bad.push(`${from} imports ${to}`);
  }
  return bad;
}

Deno.test("layout: each folder imports only what the dependency table allows (resp, config, telemetry nothing)", async () => {
  const list = await edges();
  assert(list.length > 100, `only ${list.length} imports found: the scanner is broken`);
  assertEquals(violations(list), []);
});

Deno.test("layout: files only tests import are named _test_*.ts (or end in _test.ts)", async () => {
  // Importers outside the checked folders (tests/, bench/, scripts/, app.ts) count too.
  const outside = ["app.ts", "main.ts"];
  for (const dir of ["tests", "bench", "scripts"]) outside.push(...await tsFiles(dir));
  const importers = new Map<string, string[]>();
  for (const { from, to } of [...await edges(), ...await edgesOf(outside)]) {
    importers.set(to, [...importers.get(to) ?? [], from]);
  }
  const misnamed: string[] = [];
  for (const dir of Object.keys(ALLOWED)) {
    for (const file of await tsFiles(dir)) {
      if (isTestCode(file)) continue;
      const by = importers.get(file) ?? [];
      const testOnly = by.length > 0 &&
        by.every((f) => isTestCode(f) || ["tests", "bench", "scripts"].includes(folderOf(f)));
      if (testOnly && by.some((f) => isTestCode(f) || folderOf(f) === "tests")) {
        misnamed.push(`${file} (imported only by ${by.join(", ")})`);
      }
    }
  }
  assertEquals(misnamed, []);
});

Deno.test("layout: the checker catches a leaf folder importing ours, and test support in production", () => {
  assertEquals(relativeImports('import { a } from "../config/defaults.ts";\n// from "../x.ts"'), [
    "../config/defaults.ts",
  ]);
  assertEquals(
    relativeImports('export {\n  b,\n} from "./b.ts";\nconst m = await import("../proxy/mod.ts");'),
    ["./b.ts", "../proxy/mod.ts"],
  );
  assertEquals(violations([{ from: "resp/bytes.ts", to: "config/defaults.ts" }]), [
    "resp/bytes.ts imports config/defaults.ts",
  ]);
  assertEquals(violations([{ from: "telemetry/x.ts", to: "resp/command_table.ts" }]).length, 1);
  assertEquals(violations([{ from: "health/x.ts", to: "proxy/mod.ts" }]).length, 1);
  assertEquals(violations([{ from: "proxy/x.ts", to: "proxy/_test_fake_node.ts" }]), []);
  assertEquals(violations([{ from: "admin/x.ts", to: "health/_test_helpers.ts" }]), [
    "admin/x.ts imports test support health/_test_helpers.ts",
  ]);
  assertEquals(violations([{ from: "resp/keys_test.ts", to: "tests/helpers/mod.ts" }]), []);
  assertEquals(violations([{ from: "resp/x_test.ts", to: "proxy/mod.ts" }]).length, 1);
  assertEquals(violations([{ from: "router/port.ts", to: "proxy/mod.ts" }]), []);
});
