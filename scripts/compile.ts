/**
 * `npm run compile`: builds shardgate into one executable, `dist/shardgate`,
 * with `deno compile`, then runs the result once as a smoke test.
 *
 * - Permissions are baked into the binary ({@link PERMISSION_FLAGS}): net
 *   (listeners, nodes, name resolution), read (the config file, its
 *   directory for the watcher, `tls.ca_file`, the executable's path), env
 *   (`${VAR}` in the config), and for the upgrade (SIGUSR2) run (to start
 *   the new binary) and ffi (libc's getsockname and fcntl on the listening
 *   sockets, see `upgrade/_libc.ts`). No writes. run and ffi are not a
 *   sandbox: a process that may start programs may do anything they can.
 *   `scripts/compile_test.ts` runs shardgate under exactly these flags
 *   against real Redis servers, so a change that needs more fails there,
 *   not in production.
 * - What goes into the binary is staged first in a temporary directory
 *   ({@link stageProject}), and `deno compile` runs there, so it embeds
 *   only that: our modules that `main.ts` imports (from `deno info`),
 *   `deno.json`, `package.json` without its devDependencies, and the
 *   production npm packages of package-lock.json without their test data,
 *   examples and docs ({@link isRuntimeFile}). Run in the checkout,
 *   `deno compile` embeds the whole local node_modules and every file of
 *   the project it can see; one of them (bintrees' `test/perf/100k`, 2 MB of
 *   numbers) overflowed its stack, and so would any such stray file.
 * - With `DENORT_BIN` pointing at the `deno` CLI itself (CI, where denort
 *   cannot be downloaded) the whole packaging runs, but the output is the
 *   deno CLI with our payload, not a working shardgate: it is built into a
 *   temporary directory, reported and removed, and no smoke test runs
 *   ({@link isDenoCli}). `scripts/compile_test.ts` does this on every test run.
 * - `deno compile` needs Deno's `denort` runtime of the same version and
 *   target, which it downloads on first use and keeps in its cache. Where
 *   that download cannot happen, set `DENORT_BIN` to a `denort` binary:
 *   Deno reads that variable itself. An empty `DENORT_BIN` counts as unset.
 *
 * - A failed build or smoke test removes what it left at the output path
 *   (the binary, or an aborted compile's `<output>.tmp-*` file).
 *
 * Usage: `npm run compile [-- --output FILE] [--target TRIPLE]`
 * (or `deno run --allow-all scripts/compile.ts …`). Exit 0 when the binary
 * is built and answers `--version` and `check`; 1 otherwise; 2 for bad
 * arguments.
 *
 * @module
 */

import { V8_FLAGS } from "../config/defaults.ts";
import { parseArgs } from "node:util";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";

/** Permission flags baked into the binary (and used by the permission test). */
export const PERMISSION_FLAGS: readonly string[] = [
  "--allow-net",
  "--allow-read",
  "--allow-env",
  "--allow-run",
  "--allow-ffi",
];

/** Where the binary goes, relative to the repo root. */
export const DEFAULT_OUTPUT = "dist/shardgate";

/** The program's entry point, relative to the repo root. */
export const ENTRY = "main.ts";

/** The repo root (one level up from this file). */
export const REPO_ROOT: string = decodeURIComponent(new URL("../", import.meta.url).pathname)
  .replace(/\/$/, "");

/** The parts of an npm package-lock.json (v2/v3) this script reads. */
export interface PackageLock {
  readonly packages?: Readonly<Record<string, { readonly dev?: boolean }>>;
}

/**
 * The `node_modules/…` paths of packages only development needs (`"dev":
 * true` in the lock), sorted. `node_modules/.bin` is not among them: it
 * holds links, see {@link compileArgs}.
 */
export function devOnlyPaths(lock: PackageLock): string[] {
  return Object.entries(lock.packages ?? {})
    .filter(([path, entry]) => path.startsWith("node_modules/") && entry.dev === true)
    .map(([path]) => path)
    .sort();
}

/**
 * Folder names inside an npm package that hold no code the package runs:
 * tests and their data, examples, benchmarks, docs.
 */
export const NOT_RUNTIME_DIRS: ReadonlySet<string> = new Set([
  "test",
  "tests",
  "__tests__",
  "spec",
  "specs",
  "example",
  "examples",
  "bench",
  "benchmark",
  "benchmarks",
  "doc",
  "docs",
  "coverage",
  ".github",
]);

/** File names inside an npm package that are not run: docs, source maps, build files, examples. */
const NOT_RUNTIME_FILE =
  /(\.(md|markdown|map)|^(Makefile|[Gg]runtfile\.js|\.npmignore|\.travis\.yml|example\.\w+))$/;

/**
 * True when `path`, relative to its package's folder, is a file the
 * package may need at run time (not under a {@link NOT_RUNTIME_DIRS}
 * folder, not a doc, map or build file).
 */
export function isRuntimeFile(path: string): boolean {
  const parts = path.split("/");
  const name = parts.pop()!;
  if (parts.some((p) => NOT_RUNTIME_DIRS.has(p))) return false;
  return !NOT_RUNTIME_FILE.test(name);
}

/** The `node_modules/…` paths of the packages the program needs at run time, sorted. */
export function runtimePackagePaths(lock: PackageLock): string[] {
  return Object.entries(lock.packages ?? {})
    .filter(([path, entry]) => path.startsWith("node_modules/") && entry.dev !== true)
    .map(([path]) => path)
    .sort();
}

/** One staged file: its path relative to the stage, and its size. */
export interface StagedFile {
  readonly path: string;
  readonly bytes: number;
}

/** The repo's own modules that `entry` imports (as `deno info --json` lists them), repo-relative. */
export async function localModules(root: string, entry: string = ENTRY): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`deno info ${entry} failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string }[];
  };
  const prefix = new URL(`file://${root}/`).href;
  return info.modules
    .map((m) => m.specifier)
    .filter((s) => s.startsWith(prefix))
    .map((s) => decodeURIComponent(s.slice(prefix.length)))
    .filter((p) => !p.startsWith("node_modules/"))
    .sort();
}

/**
 * Copies into `stage` what the binary embeds, and returns the staged files:
 * the local modules of {@link ENTRY}, `deno.json`, `package.json` without
 * devDependencies, and of each runtime npm package the files that
 * {@link isRuntimeFile} keeps (a package's own nested node_modules are
 * packages of the lock in their own right).
 */
export async function stageProject(root: string, stage: string): Promise<StagedFile[]> {
  const staged: StagedFile[] = [];
  const copy = async (rel: string) => {
    await Deno.mkdir(dirname(join(stage, rel)), { recursive: true });
    await Deno.copyFile(join(root, rel), join(stage, rel));
    staged.push({ path: rel, bytes: (await Deno.stat(join(stage, rel))).size });
  };
  for (const rel of await localModules(root)) await copy(rel);
  await copy("deno.json");
  const pkg = JSON.parse(await Deno.readTextFile(join(root, "package.json")));
  delete pkg.devDependencies;
  delete pkg.scripts;
  const pkgText = JSON.stringify(pkg, null, 2) + "\n";
  await Deno.writeTextFile(join(stage, "package.json"), pkgText);
  staged.push({ path: "package.json", bytes: new TextEncoder().encode(pkgText).length });
  const lock = JSON.parse(await Deno.readTextFile(join(root, "package-lock.json"))) as PackageLock;
  for (const pkgPath of runtimePackagePaths(lock)) {
    const walk = async (rel: string): Promise<void> => {
      for await (const e of Deno.readDir(join(root, pkgPath, rel))) {
        const sub = rel === "" ? e.name : `${rel}/${e.name}`;
        if (e.isDirectory) {
          if (e.name !== "node_modules" && !NOT_RUNTIME_DIRS.has(e.name)) await walk(sub);
        } else if (e.isFile && isRuntimeFile(sub)) await copy(`${pkgPath}/${sub}`);
      }
    };
    await walk("");
  }
  return staged;
}

/**
 * What is in the binary, by part: our modules, each npm package, config;
 * one line each with file count and size.
 */
export function describeStage(files: readonly StagedFile[]): string[] {
  const parts = new Map<string, { files: number; bytes: number }>();
  for (const f of files) {
    const m = /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f.path);
    const key = m !== null
      ? `npm ${m[1]}`
      : f.path.includes("/") || f.path === ENTRY
      ? "shardgate modules"
      : f.path;
    const p = parts.get(key) ?? { files: 0, bytes: 0 };
    p.files++;
    p.bytes += f.bytes;
    parts.set(key, p);
  }
  return [...parts].map(([k, p]) =>
    `${k}: ${p.files} file${p.files === 1 ? "" : "s"}, ${(p.bytes / 1024).toFixed(0)} KiB`
  );
}

/** True when `path` is the deno CLI this script runs under (a packaging check, not a build). */
export async function isDenoCli(path: string): Promise<boolean> {
  try {
    return (await Deno.realPath(path)) === (await Deno.realPath(Deno.execPath()));
  } catch {
    return false;
  }
}

/** What {@link compileArgs} builds a command line from. */
export interface CompileOptions {
  /** Output file. */
  readonly output: string;
  /** Paths to leave out of the binary. */
  readonly excludes: readonly string[];
  /** Target triple for a cross-compile, or null for this machine. */
  readonly target: string | null;
}

/** The arguments of `deno compile` (without the deno executable). */
export function compileArgs(opts: CompileOptions): string[] {
  // Type-checked in the checkout first (the stage has no @types/node).
  const args = ["compile", "--no-check", ...PERMISSION_FLAGS, `--v8-flags=${V8_FLAGS}`];
  for (const path of opts.excludes) args.push("--exclude", path);
  if (opts.target !== null) args.push("--target", opts.target);
  args.push("--output", opts.output, ENTRY);
  return args;
}

/** True when `deno compile` failed because it could not fetch its `denort` runtime. */
export function isDenortDownloadFailure(stderr: string): boolean {
  return /Setting up base binary|denort-[\w-]+\.zip/.test(stderr);
}

/** What to tell the user when the denort download failed. */
export function denortHint(denoVersion: string, target: string): string {
  return [
    "",
    `compile: deno compile could not download its runtime (denort ${denoVersion}, ${target}).`,
    "  denort is the Deno runtime without the CLI tools; each Deno release ships it as",
    `  denort-${target}.zip among its release assets on GitHub:`,
    `    https://github.com/denoland/deno/releases/tag/v${denoVersion}`,
    "  Either build where that download works (Deno keeps it in its cache afterwards), or",
    "  download that zip elsewhere, unzip it here and point DENORT_BIN at the denort file:",
    "    DENORT_BIN=/path/to/denort npm run compile",
  ].join("\n");
}

/**
 * Removes a binary that failed to build or to run, and the
 * `<output>.tmp-<hex>` file an aborted `deno compile` leaves, so dist/ holds
 * no broken file. Returns the paths removed.
 */
export async function removeBroken(output: string): Promise<string[]> {
  const dir = dirname(output);
  const name = basename(output);
  const removed: string[] = [];
  let entries: Deno.DirEntry[] = [];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch {
    return removed;
  }
  for (const e of entries) {
    if (e.name !== name && !e.name.startsWith(`${name}.tmp-`)) continue;
    try {
      await Deno.remove(join(dir, e.name));
      removed.push(join(dir, e.name));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return removed;
}

/** Runs a command and returns its exit code and output. */
async function capture(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd, {
    args,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const td = new TextDecoder();
  return { code: out.code, stdout: td.decode(out.stdout), stderr: td.decode(out.stderr) };
}

/** Runs `deno compile` in `cwd`, copying its stderr through while keeping the text. */
export async function runCompile(
  args: string[],
  env: Record<string, string>,
  cwd: string,
): Promise<{ code: number; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "inherit",
    stderr: "piped",
  }).spawn();
  const td = new TextDecoder();
  let text = "";
  for await (const chunk of child.stderr) {
    await Deno.stderr.write(chunk);
    text += td.decode(chunk, { stream: true });
  }
  const status = await child.status;
  return { code: status.code, stderr: text };
}

/**
 * Runs the new binary: `--version`, then `check` on a small config that
 * uses `${VAR}` (so the embedded `yaml` package, read and env permissions
 * are exercised). Returns an error message, or null when it works.
 */
async function smokeTest(binary: string): Promise<string | null> {
  const version = await capture(binary, ["--version"]);
  if (version.code !== 0 || !version.stdout.startsWith("shardgate ")) {
    return `${binary} --version printed ${JSON.stringify(version.stdout.trim().slice(0, 200))}` +
      ` (exit ${version.code}): the binary does not run as shardgate. DENORT_BIN must be the` +
      ` denort binary of Deno ${Deno.version.deno}, not the deno command.`;
  }
  const dir = await Deno.makeTempDir({ prefix: "shardgate-compile-" });
  try {
    const config = join(dir, "smoke.yaml");
    await Deno.writeTextFile(
      config,
      'shards:\n  smoke:\n    readers: 127.0.0.1:0\n    nodes: ["${SHARDGATE_SMOKE_NODE}"]\n',
    );
    const check = await capture(binary, ["check", "--config", config], {
      SHARDGATE_SMOKE_NODE: "127.0.0.1:6379",
    });
    if (check.code !== 0) {
      return `${binary} check failed (exit ${check.code}): ${check.stderr.trim().slice(0, 500)}`;
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  console.log(`compile: ${version.stdout.trim()}`);
  return null;
}

/** Builds the binary; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        output: { type: "string", short: "o", default: DEFAULT_OUTPUT },
        target: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    console.error(`compile: ${(err as Error).message}`);
    return 2;
  }
  if (values.help) {
    console.log("Usage: npm run compile [-- --output FILE] [--target TRIPLE]");
    return 0;
  }
  const output = isAbsolute(values.output) ? values.output : resolve(REPO_ROOT, values.output);
  const target = values.target ?? null;

  const env = Deno.env.toObject();
  if (env.DENORT_BIN === "") delete env.DENORT_BIN;
  const denort = env.DENORT_BIN;
  if (denort !== undefined) {
    let isFile = false;
    try {
      isFile = (await Deno.stat(denort)).isFile;
    } catch {
      // reported below
    }
    if (!isFile) {
      console.error(`compile: DENORT_BIN=${denort} is not a file`);
      return 1;
    }
    console.log(`compile: using denort from DENORT_BIN=${denort}`);
  }

  // DENORT_BIN=<the deno CLI>: the packaging runs in full, into a scratch
  // directory, and its output (not a shardgate) is removed afterwards.
  const packagingOnly = denort !== undefined && await isDenoCli(denort);
  const stage = await Deno.makeTempDir({ prefix: "shardgate-stage-" });
  const scratch = packagingOnly ? await Deno.makeTempDir({ prefix: "shardgate-pkg-" }) : null;
  const built = scratch === null ? output : join(scratch, basename(output));
  try {
    const checked = await runCompile(["check", ENTRY], env, REPO_ROOT);
    if (checked.code !== 0) {
      console.error(`compile: deno check ${ENTRY} failed (exit ${checked.code})`);
      return 1;
    }
    const files = await stageProject(REPO_ROOT, stage);
    const total = files.reduce((n, f) => n + f.bytes, 0);
    console.log(`compile: staged ${files.length} files (${(total / 1024).toFixed(0)} KiB):`);
    for (const line of describeStage(files)) console.log(`  ${line}`);
    await Deno.mkdir(dirname(built), { recursive: true });
    const result = await runCompile(
      compileArgs({ output: built, excludes: [], target }),
      env,
      stage,
    );
    if (result.code !== 0) {
      for (const path of await removeBroken(built)) console.error(`compile: removed ${path}`);
      if (isDenortDownloadFailure(result.stderr)) {
        console.error(denortHint(Deno.version.deno, target ?? Deno.build.target));
      }
      console.error(`compile: deno compile failed (exit ${result.code})`);
      return 1;
    }
    if (packagingOnly) {
      const size = (await Deno.stat(built)).size;
      const payload = size - (await Deno.stat(denort!)).size;
      console.log(
        `compile: packaging ok: deno compile built ${(size / 1024 / 1024).toFixed(1)} MB, ` +
          `${(payload / 1024 / 1024).toFixed(1)} MB of it shardgate's payload. DENORT_BIN is ` +
          `the deno CLI, so that file is not a working shardgate: removed, no smoke test.`,
      );
      return 0;
    }
  } finally {
    await Deno.remove(stage, { recursive: true });
    if (scratch !== null) await Deno.remove(scratch, { recursive: true });
  }
  if (target !== null && target !== Deno.build.target) {
    console.log(`compile: built ${output} for ${target} (not run: this machine is another target)`);
    return 0;
  }
  const problem = await smokeTest(output);
  if (problem !== null) {
    console.error(`compile: ${problem}`);
    for (const path of await removeBroken(output)) console.error(`compile: removed ${path}`);
    return 1;
  }
  const mb = ((await Deno.stat(output)).size / 1024 / 1024).toFixed(1);
  console.log(`compile: built ${output} (${mb} MB)`);
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
