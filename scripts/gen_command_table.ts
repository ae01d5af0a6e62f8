/**
 * Regenerates resp/command_table.ts from a real redis-server's `COMMAND`
 * reply: starts `redis-server` on a free loopback port (no persistence, in
 * a temporary directory), reads `COMMAND` and `INFO server` through
 * `redis-cli --json`, writes the table, and stops the server on every exit
 * path (success, failure, Ctrl-C). Besides the command rows it writes the
 * Redis 7 key specifications (`begin_search`, `find_keys`, flags) of every
 * command and subcommand that has them, read by resp/keys.ts.
 *
 * Usage: `npm run gen:commands` (or `deno run --allow-all scripts/gen_command_table.ts
 * [--out PATH]`).
 * Environment: REDIS_SERVER / REDIS_CLI override the binaries.
 *
 * @module
 */

const REDIS_SERVER = Deno.env.get("REDIS_SERVER") ?? "redis-server";
const REDIS_CLI = Deno.env.get("REDIS_CLI") ?? "redis-cli";
/** Where the table goes; `--out PATH` overrides it (the freshness test writes elsewhere). */
const DEFAULT_OUTPUT = new URL("../resp/command_table.ts", import.meta.url);
/** How long redis-server may take to say it accepts connections. */
const STARTUP_TIMEOUT_MS = 10_000;

/** One command as written to the table. */
interface Row {
  name: string;
  arity: number;
  flags: string[];
  firstKey: number;
  lastKey: number;
  step: number;
  subcommands: Row[];
  /** Key specs in the compact form of KEY_SPECS (see render()). */
  keySpecs: KeySpec[];
}

/** [begin_search, find_keys, flags]; see the KeySpecRow type written by render(). */
type KeySpec = [begin: (string | number)[], find: (string | number)[], flags: string[]];

/** A RESP2 map as redis-cli prints it (alternating keys and values) as an object. */
function pairs(value: unknown, what: string): Record<string, unknown> {
  if (!Array.isArray(value) || value.length % 2 !== 0) {
    throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
  }
  const out: Record<string, unknown> = {};
  for (let i = 0; i < value.length; i += 2) out[String(value[i])] = value[i + 1];
  return out;
}

/** The numbers (or keyword) of a begin_search / find_keys spec, in a fixed order per type. */
function specPart(value: unknown, fields: Record<string, readonly string[]>, what: string) {
  const part = pairs(value, what);
  const type = String(part.type);
  const order = fields[type];
  if (order === undefined) throw new Error(`unknown ${what} type: ${JSON.stringify(value)}`);
  const spec = pairs(part.spec ?? [], `${what} spec`);
  return [
    type,
    ...order.map((f) => {
      const v = spec[f];
      if (typeof v !== "number" && typeof v !== "string") {
        throw new Error(`${what} ${type} lacks ${f}: ${JSON.stringify(value)}`);
      }
      return v;
    }),
  ];
}

const BEGIN_FIELDS: Record<string, readonly string[]> = {
  index: ["index"],
  keyword: ["keyword", "startfrom"],
  unknown: [],
};
const FIND_FIELDS: Record<string, readonly string[]> = {
  range: ["lastkey", "keystep", "limit"],
  keynum: ["keynumidx", "firstkey", "keystep"],
  unknown: [],
};

/** Converts one key spec of a `COMMAND` entry. */
function toKeySpec(value: unknown): KeySpec {
  const spec = pairs(value, "key spec");
  const flags = Array.isArray(spec.flags) ? spec.flags.map((f) => String(f).toLowerCase()) : [];
  return [
    specPart(spec.begin_search, BEGIN_FIELDS, "begin_search"),
    specPart(spec.find_keys, FIND_FIELDS, "find_keys"),
    flags,
  ];
}

/** Binds port 0 on loopback to learn a free port, then releases it. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Resolves once `child`'s stdout prints Redis's readiness line; the rest of stdout is drained. */
async function waitReady(child: Deno.ChildProcess): Promise<void> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`redis-server not ready after ${STARTUP_TIMEOUT_MS} ms:\n${seen}`)),
      STARTUP_TIMEOUT_MS,
    );
  });
  try {
    await Promise.race([
      (async () => {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`redis-server exited before it was ready:\n${seen}`);
          seen += value;
          if (seen.includes("Ready to accept connections")) return;
        }
      })(),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
  // Keep draining so the server never blocks on a full pipe.
  (async () => {
    try {
      while (!(await reader.read()).done) { /* discard */ }
    } catch { /* the server is gone */ }
  })();
}

/** Runs redis-cli with `args` against `port` and parses its JSON output. */
async function cliJson(port: number, args: string[]): Promise<unknown> {
  const out = await new Deno.Command(REDIS_CLI, {
    args: ["-h", "127.0.0.1", "-p", String(port), "-2", "--json", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`redis-cli ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** Converts one `COMMAND` entry (RESP2 shape) into a Row. */
function toRow(entry: unknown): Row {
  if (!Array.isArray(entry) || entry.length < 6) {
    throw new Error(`unexpected COMMAND entry: ${JSON.stringify(entry)}`);
  }
  const [name, arity, flags, firstKey, lastKey, step] = entry;
  const specs: unknown = entry[8];
  const subs: unknown = entry[9];
  if (
    typeof name !== "string" || typeof arity !== "number" || !Array.isArray(flags) ||
    typeof firstKey !== "number" || typeof lastKey !== "number" || typeof step !== "number"
  ) {
    throw new Error(`unexpected COMMAND entry: ${JSON.stringify(entry)}`);
  }
  return {
    name: name.toLowerCase(),
    arity,
    flags: flags.map((f) => String(f).toLowerCase()),
    firstKey,
    lastKey,
    step,
    subcommands: Array.isArray(subs) ? subs.map(toRow).sort(byName) : [],
    keySpecs: Array.isArray(specs) ? specs.map(toKeySpec) : [],
  };
}

function byName(a: Row, b: Row): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** One compact line (or block, with subcommands) per command. */
function renderRow(row: Row, indent: string): string {
  const head = `${indent}[${JSON.stringify(row.name)}, ${row.arity}, ${
    JSON.stringify(row.flags)
  }, ${row.firstKey}, ${row.lastKey}, ${row.step}`;
  if (row.subcommands.length === 0) return `${head}],`;
  const subs = row.subcommands.map((s) => renderRow(s, indent + "  ")).join("\n");
  return `${head}, [\n${subs}\n${indent}]],`;
}

/** `"name": [[begin], [find], [flags]], ...` lines for every (sub)command with key specs. */
function renderKeySpecs(rows: Row[]): string {
  const all = rows.flatMap((r) => [r, ...r.subcommands]).filter((r) => r.keySpecs.length > 0);
  all.sort(byName);
  return all.map((r) => {
    const specs = r.keySpecs.map(([b, f, flags]) =>
      `[${JSON.stringify(b)}, ${JSON.stringify(f)}, ${JSON.stringify(flags)}]`
    );
    return `  ${JSON.stringify(r.name)}: [${specs.join(", ")}],`;
  }).join("\n");
}

function render(rows: Row[], version: string): string {
  return `// GENERATED FILE - do not edit by hand.
// Generated by scripts/gen_command_table.ts (npm run gen:commands)
// from the COMMAND reply of redis-server ${version}.

/**
 * Redis command metadata from \`COMMAND\`: one row per command, subcommands
 * nested under their container (named \`container|sub\`). Read it through
 * resp/commands.ts.
 *
 * @module
 */

/** [name, arity, flags, firstKey, lastKey, step, subcommands?] */
export type CommandRow = readonly [
  name: string,
  arity: number,
  flags: readonly string[],
  firstKey: number,
  lastKey: number,
  step: number,
  subcommands?: readonly CommandRow[],
];

/** Version of the redis-server the table was generated from. */
export const COMMAND_TABLE_VERSION = ${JSON.stringify(version)};

/** Every command ${JSON.stringify(version)} reports, sorted by name. */
export const COMMAND_TABLE: readonly CommandRow[] = [
${rows.map((r) => renderRow(r, "  ")).join("\n")}
];

/** Where a key spec starts looking: at an argument index, or after a keyword. */
export type KeySearch =
  | readonly ["index", index: number]
  | readonly ["keyword", keyword: string, startfrom: number]
  | readonly ["unknown"];

/** How a key spec finds its keys from there: a range, or a count argument. */
export type KeyFind =
  | readonly ["range", lastkey: number, keystep: number, limit: number]
  | readonly ["keynum", keynumidx: number, firstkey: number, keystep: number]
  | readonly ["unknown"];

/** One key specification: begin_search, find_keys, flags (lowercase, e.g. "rw", "not_key"). */
export type KeySpecRow = readonly [begin: KeySearch, find: KeyFind, flags: readonly string[]];

/**
 * Redis 7 key specifications of every command and subcommand ("container|sub")
 * that has any, as ${JSON.stringify(version)} reports them. Read it through resp/keys.ts.
 */
export const KEY_SPECS: Readonly<Record<string, readonly KeySpecRow[]>> = {
${renderKeySpecs(rows)}
};
`;
}

function outputPath(args: readonly string[]): string | URL {
  const i = args.indexOf("--out");
  if (i < 0) return DEFAULT_OUTPUT;
  const path = args[i + 1];
  if (path === undefined) throw new Error("--out needs a path");
  return path;
}

async function main(): Promise<void> {
  const output = outputPath(Deno.args);
  const dir = await Deno.makeTempDir({ prefix: "shardgate-gen-" });
  const port = freePort();
  const child = new Deno.Command(REDIS_SERVER, {
    args: [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    try {
      child.kill("SIGTERM");
    } catch { /* already exited */ }
    await child.status;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const onSignal = (): void => {
    stop().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  let summary: string;
  try {
    await waitReady(child);
    const info = await new Deno.Command(REDIS_CLI, {
      args: ["-h", "127.0.0.1", "-p", String(port), "INFO", "server"],
      stdout: "piped",
    }).output();
    const version = /redis_version:(\S+)/.exec(new TextDecoder().decode(info.stdout))?.[1];
    if (version === undefined) throw new Error("INFO server did not report redis_version");
    const reply = await cliJson(port, ["COMMAND"]);
    if (!Array.isArray(reply) || reply.length === 0) {
      throw new Error("COMMAND returned no commands");
    }
    const rows = reply.map(toRow).sort(byName);
    await Deno.writeTextFile(output, render(rows, version));
    summary = `wrote ${output instanceof URL ? output.pathname : output}: ${rows.length} commands` +
      ` from redis ${version}`;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await stop();
  }
  console.log(`${summary} (redis-server pid ${child.pid} stopped)`);
}

if (import.meta.main) {
  await main();
}
