/**
 * Tests of `scripts/compile.ts` that need no network: the command line it
 * builds, how it reads package-lock.json, how it recognises the failed
 * `denort` download, and — the part a compiled binary depends on — that
 * shardgate runs with exactly the permissions baked into the binary,
 * against real redis-server processes.
 */

import { deepStrictEqual as assertEquals, match, ok as assert } from "node:assert/strict";
import {
  closeClient,
  delay,
  type LogRecord,
  parseLogLine,
  portOf,
  redisClient,
  startReplicaSet,
  waitFor,
} from "../tests/helpers/mod.ts";
import {
  compileArgs,
  denortHint,
  devOnlyPaths,
  ENTRY,
  isDenortDownloadFailure,
  isRuntimeFile,
  localModules,
  NOT_RUNTIME_DIRS,
  type PackageLock,
  PERMISSION_FLAGS,
  REPO_ROOT,
  runCompile,
  runtimePackagePaths,
  stageProject,
} from "./compile.ts";

const SCRIPT = new URL("./compile.ts", import.meta.url).pathname;
const E2E = { sanitizeOps: false, sanitizeResources: false };

/** Deno 2.9.6's error when the denort download fails (host name left out). */
const DOWNLOAD_ERROR = `Compile main.ts to dist/shardgate
Download https://…/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip
error: Writing deno compile executable to temporary file '/work/main/dist/shardgate.tmp-0431948225918ac4'

Caused by:
    0: Setting up base binary.
    1: error sending request for url (https://…/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip): client error (Connect): dns error: failed to lookup address information: Name or service not known
`;

Deno.test("devOnlyPaths() excludes every dev-only package of the lock and keeps the runtime ones", async () => {
  const pkg = JSON.parse(await Deno.readTextFile(`${REPO_ROOT}/package.json`)) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  const lock = JSON.parse(
    await Deno.readTextFile(`${REPO_ROOT}/package-lock.json`),
  ) as PackageLock;
  const paths = devOnlyPaths(lock);
  for (const name of Object.keys(pkg.devDependencies)) {
    assert(paths.includes(`node_modules/${name}`), `${name} is a dev dependency: ${paths}`);
  }
  for (const name of Object.keys(pkg.dependencies)) {
    assert(!paths.includes(`node_modules/${name}`), `${name} is needed at run time: ${paths}`);
  }
  assertEquals(
    devOnlyPaths({
      packages: {
        "": {},
        "node_modules/a": { dev: true },
        "node_modules/b": {},
        "node_modules/@s/c": { dev: true },
      },
    }),
    ["node_modules/@s/c", "node_modules/a"],
  );
  assertEquals(devOnlyPaths({}), []);
});

Deno.test("compileArgs() bakes in net, read, env, run and ffi, the V8 flags, and excludes the given paths", () => {
  const args = compileArgs({
    output: "dist/shardgate",
    excludes: ["node_modules/.bin", "node_modules/deno"],
    target: null,
  });
  assertEquals(args, [
    "compile",
    "--no-check",
    "--allow-net",
    "--allow-read",
    "--allow-env",
    "--allow-run",
    "--allow-ffi",
    "--v8-flags=--max-semi-space-size=2",
    "--exclude",
    "node_modules/.bin",
    "--exclude",
    "node_modules/deno",
    "--output",
    "dist/shardgate",
    ENTRY,
  ]);
  const cross = compileArgs({ output: "x", excludes: [], target: "aarch64-unknown-linux-gnu" });
  assertEquals(cross.slice(-5), ["--target", "aarch64-unknown-linux-gnu", "--output", "x", ENTRY]);
});

Deno.test("isDenortDownloadFailure() tells a failed denort download from other errors", () => {
  assert(isDenortDownloadFailure(DOWNLOAD_ERROR));
  assert(!isDenortDownloadFailure("error: TS2322 [ERROR]: Type 'string' is not assignable"));
  assert(!isDenortDownloadFailure(""));
});

Deno.test("compile.ts refuses a DENORT_BIN that is not a file, before compiling", async () => {
  const dir = await Deno.makeTempDir({ prefix: "shardgate-compile-test-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", SCRIPT, "--output", `${dir}/shardgate`],
      env: { DENORT_BIN: `${dir}/no-such-denort`, NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 1, stderr);
    match(stderr, /DENORT_BIN=.*no-such-denort is not a file/);
    assert(!stderr.includes("Compile"), stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A shardgate child process run with the binary's permission flags only. */
class RestrictedShardgate {
  readonly logs: LogRecord[] = [];
  readonly raw: string[] = [];
  #child: Deno.ChildProcess;
  #done: Promise<void>;
  exitCode: number | null = null;

  constructor(config: string, env: Record<string, string>) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...PERMISSION_FLAGS,
        `${REPO_ROOT}/${ENTRY}`,
        "run",
        "--config",
        config,
        "--log-format",
        "json",
        "--log-level",
        "debug",
      ],
      cwd: REPO_ROOT,
      env: { NO_COLOR: "1", ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const read = async (stream: ReadableStream<Uint8Array>) => {
      let rest = "";
      for await (const text of stream.pipeThrough(new TextDecoderStream())) {
        rest += text;
        const lines = rest.split("\n");
        rest = lines.pop()!;
        for (const line of lines) this.#line(line);
      }
      if (rest !== "") this.#line(rest);
    };
    this.#done = Promise.all([read(this.#child.stdout), read(this.#child.stderr)]).then(
      async () => {
        this.exitCode = (await this.#child.status).code;
      },
    );
  }

  #line(line: string): void {
    this.raw.push(line);
    this.logs.push(parseLogLine(line));
  }

  /** Waits for `count` log lines with message `msg`; fails at once if the process exits. */
  async waitFor(msg: string, count = 1, timeoutMs = 20_000): Promise<LogRecord> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.logs.filter((l) => l.msg === msg);
      if (found.length >= count) return found[count - 1];
      const why = this.exitCode !== null
        ? `shardgate exited (code ${this.exitCode})`
        : Date.now() > deadline
        ? `timed out after ${timeoutMs} ms`
        : null;
      if (why !== null) {
        throw new Error(`${why} before ${count} × "${msg}":\n${this.raw.join("\n")}`);
      }
      await delay(25);
    }
  }

  /** The bound port of `role` from the `listening` lines. */
  port(role: string): number {
    const line = this.logs.find((l) => l.msg === "listening" && l.role === role);
    const port = portOf(String(line?.address ?? ""));
    assert(port !== null, `no listening line for ${role}:\n${this.raw.join("\n")}`);
    return port;
  }

  signal(sig: Deno.Signal): void {
    this.#child.kill(sig);
  }

  /** Waits for the exit; SIGKILLs it after `timeoutMs`. */
  async exited(timeoutMs = 10_000): Promise<number> {
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // gone
      }
    }, timeoutMs);
    try {
      await this.#done;
      return this.exitCode!;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops it if still running. */
  async kill(): Promise<void> {
    if (this.exitCode === null) {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // gone
      }
    }
    await this.#done;
  }
}

function shardConfig(primary: number, replica: number, weight: number): string {
  return [
    "defaults:",
    "  check: { interval: 200ms }",
    "  dns_refresh: 200ms",
    "  timeouts:",
    '    server: "${SG_SERVER_TIMEOUT:-2s}"',
    "shards:",
    "  perm:",
    "    readers: 127.0.0.1:0",
    "    writer: 127.0.0.1:0",
    "    nodes:",
    `      - \${SG_NODE_HOST}:${primary}`,
    `      - { address: "\${SG_NODE_HOST}:${replica}", weight: ${weight} }`,
    "",
  ].join("\n");
}

Deno.test(
  "shardgate serves, re-resolves names, reloads and stops with only the binary's permissions",
  E2E,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "shardgate-perm-test-" });
    const set = await startReplicaSet({ replicas: 1 });
    let sg: RestrictedShardgate | null = null;
    try {
      const config = `${dir}/shardgate.yaml`;
      const [primary, replica] = [set.primary.port, set.replicas[0].port];
      await Deno.writeTextFile(config, shardConfig(primary, replica, 1));
      // A host name, so node addresses go through the resolver (dns_refresh).
      sg = new RestrictedShardgate(config, { SG_NODE_HOST: "localhost" });
      await sg.waitFor("ready");
      await sg.waitFor("node serves reads");

      const writer = await redisClient(sg.port("writer"));
      const reader = await redisClient(sg.port("readers"));
      try {
        assertEquals(await writer.set("perm:k", "v"), "OK");
        await waitFor(async () => (await reader.get("perm:k")) === "v", {
          message: "the read of perm:k through the readers port",
        });
      } finally {
        closeClient(writer);
        closeClient(reader);
      }

      // The watcher (read permission on the directory) sees an edit ...
      await Deno.writeTextFile(config, shardConfig(primary, replica, 2));
      await sg.waitFor("config reloaded", 1);
      // ... and SIGHUP reloads too.
      sg.signal("SIGHUP");
      await sg.waitFor("config reloaded", 2);

      sg.signal("SIGTERM");
      assertEquals(await sg.exited(), 0, sg.raw.join("\n"));
      const bad = sg.raw.filter((l) =>
        /NotCapable|Requires \w+ access|"level":"(warn|error)"|did not resolve/.test(l)
      );
      assertEquals(bad, [], sg.raw.join("\n"));
    } finally {
      await sg?.kill();
      await set.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("denortHint() says where denort comes from and how to use it", () => {
  const hint = denortHint("2.9.6", "x86_64-unknown-linux-gnu");
  match(hint, /denort-x86_64-unknown-linux-gnu\.zip/);
  match(hint, /github\.com\/denoland\/deno\/releases\/tag\/v2\.9\.6/);
  match(hint, /DENORT_BIN=\/path\/to\/denort npm run compile/);
});

Deno.test("compile.ts removes what a failed build leaves at the output path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "shardgate-compile-test-" });
  try {
    // Not a denort: deno compile fails (or builds something that does not run).
    await Deno.copyFile("/bin/true", `${dir}/not-denort`);
    await Deno.writeTextFile(`${dir}/shardgate`, "an older broken build");
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", SCRIPT, "--output", `${dir}/shardgate`],
      env: { DENORT_BIN: `${dir}/not-denort`, NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 1, stderr);
    const left = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
    assertEquals(left, ["not-denort"], stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("isRuntimeFile() leaves out packages' tests, examples, docs and maps", () => {
  assert(isRuntimeFile("index.js"));
  assert(isRuntimeFile("lib/rbtree.js"));
  assert(isRuntimeFile("dist/index.d.ts"));
  assert(isRuntimeFile("package.json"));
  assert(isRuntimeFile("LICENSE"));
  assert(!isRuntimeFile("test/perf/100k"));
  assert(!isRuntimeFile("specs/tdigest.spec.js"));
  assert(!isRuntimeFile("examples/a.js"));
  assert(!isRuntimeFile("README.md"));
  assert(!isRuntimeFile("dist/index.js.map"));
  assert(!isRuntimeFile("Makefile"));
  assert(!isRuntimeFile("example.html"));
});

Deno.test("stageProject() stages our imported modules and the runtime packages, without test data", async () => {
  const stage = await Deno.makeTempDir({ prefix: "shardgate-stage-test-" });
  try {
    const files = (await stageProject(REPO_ROOT, stage)).map((f) => f.path);
    const lock = JSON.parse(
      await Deno.readTextFile(`${REPO_ROOT}/package-lock.json`),
    ) as PackageLock;
    // Every module main.ts imports, and nothing of ours it does not (tests, scripts, bench).
    const modules = await localModules(REPO_ROOT);
    assert(modules.includes(ENTRY) && modules.includes("app.ts"), String(modules));
    for (const m of modules) assert(files.includes(m), `${m} is not staged`);
    const ours = files.filter((f) => !f.startsWith("node_modules/"));
    assertEquals(ours.sort(), [...modules, "deno.json", "package.json"].sort());
    assert(!ours.some((f) => /(^|\/)(tests|bench|scripts)\/|_test\.ts$/.test(f)), String(ours));
    // npm: the runtime packages only, each with its package.json, no test data.
    const packages = runtimePackagePaths(lock);
    for (const p of packages) assert(files.includes(`${p}/package.json`), `${p} is not staged`);
    for (const dev of devOnlyPaths(lock)) {
      assert(!files.some((f) => f.startsWith(`${dev}/`)), `${dev} is dev-only but staged`);
    }
    for (const f of files.filter((f) => f.startsWith("node_modules/"))) {
      const inPkg = f.split("/").slice(1);
      assert(!inPkg.some((seg) => NOT_RUNTIME_DIRS.has(seg)), `${f} is not run`);
    }
    assert(!files.includes("node_modules/bintrees/test/perf/100k"));
    const pkg = JSON.parse(await Deno.readTextFile(`${stage}/package.json`));
    assertEquals(pkg.devDependencies, undefined);
  } finally {
    await Deno.remove(stage, { recursive: true });
  }
});

/**
 * The packaging step of `npm run compile`, as CI runs it: the real script,
 * with DENORT_BIN pointing at the deno CLI (denort cannot be downloaded here).
 * A packaging regression (a stray file deno compile chokes on, a dependency
 * that does not resolve in the stage) fails this test.
 */
Deno.test("npm run compile packages the binary with DENORT_BIN=deno (the CI packaging check)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "shardgate-compile-test-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", SCRIPT, "--output", `${dir}/shardgate`],
      env: { DENORT_BIN: Deno.execPath(), NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 0, text);
    match(text, /compile: packaging ok: deno compile built [\d.]+ MB/);
    match(text, /npm yaml: \d+ files/);
    assert(!text.includes("overflowed its stack"), text);
    // The deno-CLI output is not a shardgate: it is not left behind.
    assertEquals((await Array.fromAsync(Deno.readDir(dir))).length, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno compile fails on a stray file of numbers, so the packaging check catches one", async () => {
  const stage = await Deno.makeTempDir({ prefix: "shardgate-stage-test-" });
  const scratch = await Deno.makeTempDir({ prefix: "shardgate-compile-test-" });
  try {
    await stageProject(REPO_ROOT, stage);
    // The file that broke the build: bintrees' 2 MB test/perf/100k.
    const stray = "node_modules/bintrees/test/perf/100k";
    await Deno.mkdir(`${stage}/node_modules/bintrees/test/perf`, { recursive: true });
    await Deno.copyFile(`${REPO_ROOT}/${stray}`, `${stage}/${stray}`);
    const r = await runCompile(
      compileArgs({ output: `${scratch}/shardgate`, excludes: [], target: null }),
      { DENORT_BIN: Deno.execPath(), NO_COLOR: "1" },
      stage,
    );
    assert(r.code !== 0, "deno compile built a payload with the stray file in it");
  } finally {
    await Deno.remove(stage, { recursive: true });
    await Deno.remove(scratch, { recursive: true });
  }
});
