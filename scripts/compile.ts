/**
 * `npm run compile`: builds shardgate into one executable, `dist/shardgate`,
 * with `deno compile`, then runs the result once as a smoke test.
 *
 * - Permissions are baked into the binary ({@link PERMISSION_FLAGS}): net
 *   (listeners, nodes, name resolution), read (the config file, its
 *   directory for the watcher, `tls.ca_file`) and env (`${VAR}` in the
 *   config). Nothing else: no writes, no subprocesses. `scripts/compile_test.ts`
 *   runs shardgate under exactly these flags against real Redis servers, so
 *   a change that needs more fails there, not in production.
 * - npm packages that only the tests, the benchmark or the toolchain use
 *   (the dev-only entries of package-lock.json: deno itself, redis,
 *   @types/node…) are excluded; otherwise `deno compile` embeds the whole
 *   local node_modules, the 90 MB deno binary included.
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
export const PERMISSION_FLAGS: readonly string[] = ["--allow-net", "--allow-read", "--allow-env"];

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
  const args = ["compile", ...PERMISSION_FLAGS, `--v8-flags=${V8_FLAGS}`];
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

/** Runs `deno compile`, copying its stderr through while keeping the text. */
async function runCompile(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: REPO_ROOT,
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

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
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

  const lock = JSON.parse(
    await Deno.readTextFile(join(REPO_ROOT, "package-lock.json")),
  ) as PackageLock;
  const excludes: string[] = [];
  for (const path of ["node_modules/.bin", ...devOnlyPaths(lock)]) {
    if (await exists(join(REPO_ROOT, path))) excludes.push(path);
  }
  await Deno.mkdir(dirname(output), { recursive: true });

  const result = await runCompile(compileArgs({ output, excludes, target }), env);
  if (result.code !== 0) {
    for (const path of await removeBroken(output)) console.error(`compile: removed ${path}`);
    if (isDenortDownloadFailure(result.stderr)) {
      console.error(denortHint(Deno.version.deno, target ?? Deno.build.target));
    }
    return 1;
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
