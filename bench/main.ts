/**
 * Side-by-side benchmark of shardgate against direct Redis, HAProxy and
 * twemproxy (`npm run bench`, `npm run bench -- --quick`).
 *
 * It starts a primary and a replica, populates keys, starts each proxy in
 * front of them on free loopback ports, runs the redis-benchmark matrix of
 * `_cells.ts` interleaved over several rounds, measures memory and backend
 * connections, and writes a markdown report (stdout and `--out`) plus the
 * raw numbers as JSON under `bench/out/`. The router cells get their own
 * three servers, nutcracker pool and shardgate router port, started only when
 * one is selected. Every process it starts is stopped
 * on exit, on error and on Ctrl-C. It installs nothing: a missing tool is
 * reported with the apt-get line that installs it (exit 2).
 *
 * @module
 */

import { V8_FLAGS } from "../config/defaults.ts";
import { DEFAULT_CONNECTIONS_PER_NODE } from "../config/defaults.ts";
import { Logger } from "../telemetry/logger.ts";
import { type BenchOptions, parseBenchArgs, USAGE, UsageError } from "./_args.ts";
import {
  benchmarkArgs,
  cellById,
  cellRunsOn,
  KEY_SPACES,
  keyName,
  type KeySpace,
  needsRouter,
  rotatedOrder,
  ROUTER_SHARDS,
  ROUTER_TARGETS,
  runOrder,
  SCRAPE_INTERVAL_MS,
  SMALL_KEYS,
  type Target,
  TRACED_SAMPLE_RATIO,
  valueFor,
} from "./_cells.ts";
import {
  type Backends,
  HAPROXY_MAXCONN,
  haproxyConfig,
  type HostPort,
  hostPort,
  parseStartupLine,
  ROUTER_NAME,
  ROUTER_RING,
  type ShardgateListener,
  shardgateRouterConfig,
  shardgateSetup,
  type ShardgateTelemetry,
  twemproxyConfig,
  twemproxyRouterConfig,
} from "./_configs.ts";
import {
  connectionsTo,
  findBinary,
  freePort,
  type Managed,
  rssKb,
  Supervisor,
  waitFor,
} from "./_procs.ts";
import { MiniRedis, parseClientList, parseInfo, redisServerArgs, type Reply } from "./_redis.ts";
import {
  type BenchReport,
  evaluateTargets,
  fmtRps,
  type MachineInfo,
  parseBenchmarkCsv,
  type ProxyResources,
  renderMarkdown,
  type ResourceReport,
  type RunRecord,
  summarise,
} from "./_report.ts";

/** Exit code for a missing tool or a bad command line. */
export const EXIT_USAGE = 2;
/** The line that installs every tool the benchmark needs. */
export const INSTALL_HINT = "apt-get install redis-server redis-tools haproxy nutcracker";

/** Idle client sessions opened against each proxy for the RSS measurement. */
export const IDLE_CLIENTS = 1_000;
/** Client sessions opened against each proxy for the backend connection count. */
export const LOAD_CLIENTS = 200;
/** Connections opened concurrently while building those sessions. */
const CONNECT_BATCH = 100;
/** Commands per populate pipeline. */
const POPULATE_BATCH = 5_000;
/** How long a backend or proxy may take to start answering. */
const START_TIMEOUT_MS = 15_000;
/**
 * shardgate's log level. Its `listening` and `ready` lines are info lines, so
 * a higher level would hide them; nothing is logged per command at info.
 */
const SHARDGATE_LOG_LEVEL = "info";
/** How long shardgate may take to log `ready` (includes Deno's first compile). */
const SHARDGATE_READY_TIMEOUT_MS = 60_000;
/** How long the replica may take to finish its initial sync. */
const SYNC_TIMEOUT_MS = 60_000;
/** Longest one redis-benchmark run may take before it is killed. */
const RUN_TIMEOUT_MS = { full: 180_000, quick: 60_000 };
/** Short tool invocations (versions). */
const TOOL_TIMEOUT_MS = 10_000;

/** Where every run's raw JSON and report are written (committed). */
const RESULTS_DIR = "bench/results";
const REPO_ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname).replace(/\/$/, "");
const HOST = "127.0.0.1";
const log = new Logger("info", "text");
/** Set by SIGINT/SIGTERM: the matrix stops starting runs. */
let interrupted = false;

/** Paths of the tools the benchmark runs. */
interface Tools {
  readonly redisServer: string;
  readonly redisBenchmark: string;
  readonly haproxy: string | null;
  readonly nutcracker: string | null;
}

/** How a target is reached. */
interface Endpoint {
  readonly read: HostPort;
  readonly write: HostPort;
  /** The proxy process, null for direct. */
  readonly proc: Managed | null;
}

/** Finds the tools, or returns the names of those missing. */
function findTools(targets: readonly Target[]): Tools | string[] {
  const need = ["redis-server", "redis-benchmark"];
  if (targets.includes("haproxy")) need.push("haproxy");
  if (targets.includes("twemproxy")) need.push("nutcracker");
  const found = new Map(need.map((n) => [n, findBinary(n)]));
  const missing = need.filter((n) => found.get(n) === null);
  if (missing.length > 0) return missing;
  return {
    redisServer: found.get("redis-server")!,
    redisBenchmark: found.get("redis-benchmark")!,
    haproxy: found.get("haproxy") ?? null,
    nutcracker: found.get("nutcracker") ?? null,
  };
}

async function withClient<T>(addr: HostPort, fn: (c: MiniRedis) => Promise<T>): Promise<T> {
  const c = await MiniRedis.connect(addr.host, addr.port);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

async function info(addr: HostPort, section: string): Promise<Map<string, string>> {
  const r = await withClient(addr, (c) => c.command("INFO", section));
  if (typeof r !== "string") throw new Error(`INFO ${section} on ${hostPort(addr)}: ${r}`);
  return parseInfo(r);
}

function assertAlive(m: Managed | null): void {
  if (m !== null && m.exited()) {
    throw new Error(`${m.name} exited unexpectedly; its output ends with:\n${m.tail()}`);
  }
}

/** Starts redis-server and waits for it to answer PING. */
async function startRedis(
  sup: Supervisor,
  tools: Tools,
  workDir: string,
  name: string,
  port: number,
  extra: readonly string[],
): Promise<Managed> {
  const m = sup.spawn(name, tools.redisServer, redisServerArgs(name, HOST, port, workDir, extra));
  await waitFor(`${name} on ${HOST}:${port}`, START_TIMEOUT_MS, async () => {
    assertAlive(m);
    const r = await withClient({ host: HOST, port }, (c) => c.command("PING"));
    return r === "PONG" ? true : undefined;
  });
  return m;
}

/** Writes every key of `space` with its value, in pipelined batches. */
async function populate(addr: HostPort, space: KeySpace): Promise<void> {
  const value = valueFor(space);
  await withClient(addr, async (c) => {
    for (let from = 0; from < space.count; from += POPULATE_BATCH) {
      const batch: string[][] = [];
      for (let i = from; i < Math.min(space.count, from + POPULATE_BATCH); i++) {
        batch.push(["SET", keyName(space, i), value]);
      }
      const replies = await c.pipeline(batch);
      const bad = replies.find((r) => r !== "OK");
      if (bad !== undefined) throw new Error(`populate ${space.prefix}: SET replied ${bad}`);
    }
  });
}

/** Starts the primary and the replica, populates and waits for the replica to hold every key. */
async function startBackends(
  sup: Supervisor,
  tools: Tools,
  workDir: string,
): Promise<Backends> {
  const primary = { host: HOST, port: freePort() };
  await startRedis(sup, tools, workDir, "primary", primary.port, []);
  for (const space of KEY_SPACES) {
    log.info("populating", { prefix: space.prefix, keys: space.count, bytes: space.valueBytes });
    await populate(primary, space);
  }
  const replica = { host: HOST, port: freePort() };
  await startRedis(sup, tools, workDir, "replica", replica.port, [
    "--replicaof",
    HOST,
    String(primary.port),
  ]);
  const want = await withClient(primary, (c) => c.command("DBSIZE"));
  await waitFor("the replica to sync", SYNC_TIMEOUT_MS, async () => {
    const repl = await info(replica, "replication");
    if (repl.get("master_link_status") !== "up") return undefined;
    const have = await withClient(replica, (c) => c.command("DBSIZE"));
    return have === want ? true : undefined;
  });
  log.info("replica synced", { keys: String(want) });
  return { primary, replica };
}

/** Waits until a GET of a populated key through `addr` returns its value. */
async function waitServing(name: string, addr: HostPort, proc: Managed | null): Promise<void> {
  const want = valueFor(SMALL_KEYS);
  await waitFor(`${name} to serve on ${hostPort(addr)}`, START_TIMEOUT_MS, async () => {
    assertAlive(proc);
    const r = await withClient(addr, (c) => c.command("GET", keyName(SMALL_KEYS, 1)));
    return r === want ? true : undefined;
  });
}

async function startHaproxy(
  sup: Supervisor,
  tools: Tools,
  workDir: string,
  backends: Backends,
): Promise<Endpoint> {
  const read = { host: HOST, port: freePort() };
  const write = { host: HOST, port: freePort() };
  const cfg = `${workDir}/haproxy.cfg`;
  await Deno.writeTextFile(cfg, haproxyConfig(backends, read, write));
  const proc = sup.spawn("haproxy", tools.haproxy!, ["-db", "-f", cfg]);
  await waitServing("haproxy readers", read, proc);
  await waitServing("haproxy writer", write, proc);
  return { read, write, proc };
}

async function startTwemproxy(
  sup: Supervisor,
  tools: Tools,
  workDir: string,
  backends: Backends,
): Promise<Endpoint> {
  const read = { host: HOST, port: freePort() };
  const write = { host: HOST, port: freePort() };
  const cfg = `${workDir}/nutcracker.yml`;
  await Deno.writeTextFile(cfg, twemproxyConfig(backends, read, write));
  const proc = sup.spawn("nutcracker", tools.nutcracker!, [
    "-c",
    cfg,
    "-s",
    String(freePort()),
    "-a",
    HOST,
    "-o",
    `${workDir}/nutcracker.log`,
    "-p",
    `${workDir}/nutcracker.pid`,
  ]);
  await waitServing("twemproxy readers", read, proc);
  await waitServing("twemproxy writer", write, proc);
  return { read, write, proc };
}

/** shardgate's process, endpoints and the number of nodes behind its read listener. */
interface ShardgateRun extends Endpoint {
  readonly readNodes: number;
  /** Its admin port, when it has one. */
  readonly admin: HostPort | null;
}

/** How one benchmark shardgate is started. */
interface ShardgateVariant {
  /** Process and config file name. */
  readonly name: string;
  /** Admin port and sample ratio. */
  readonly telemetry: ShardgateTelemetry;
  /** Extra environment (OpenTelemetry). */
  readonly env?: Record<string, string>;
}

/** A started shardgate process and the listeners it logged before `ready`. */
interface ShardgateProcess {
  readonly proc: Managed;
  /** The address of its listener for `shard` (a shard or router name) and `role`. */
  pick(want: { shard: string; role: string }): HostPort;
}

/**
 * Starts `main.ts run` on config `yaml` (as shipped: with {@link V8_FLAGS})
 * and waits for its `ready` line.
 */
async function spawnShardgate(
  sup: Supervisor,
  workDir: string,
  name: string,
  yaml: string,
  env?: Record<string, string>,
): Promise<ShardgateProcess> {
  const mainTs = `${REPO_ROOT}/main.ts`;
  try {
    await Deno.stat(mainTs);
  } catch {
    throw new Error(
      `shardgate: ${mainTs} does not exist yet; run with --targets direct,haproxy,twemproxy`,
    );
  }
  const cfg = `${workDir}/${name}.yaml`;
  await Deno.writeTextFile(cfg, yaml);
  const listeners: ShardgateListener[] = [];
  let onReady = () => {};
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  const proc = sup.spawn(name, Deno.execPath(), [
    "run",
    "--allow-all",
    // As shipped: the compiled binary carries these flags.
    `--v8-flags=${V8_FLAGS}`,
    mainTs,
    "run",
    "--config",
    cfg,
    "--log-format",
    "json",
    "--log-level",
    SHARDGATE_LOG_LEVEL,
  ], {
    cwd: REPO_ROOT,
    env,
    onStderrLine: (line) => {
      const ev = parseStartupLine(line);
      if (ev.kind === "listening") listeners.push(ev.listener);
      else if (ev.kind === "ready") onReady();
    },
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    ready.then(() => "ready" as const),
    proc.status.then(() => "exited" as const),
    new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), SHARDGATE_READY_TIMEOUT_MS);
    }),
  ]);
  clearTimeout(timer);
  if (outcome === "exited") {
    await proc.status;
    throw new Error(`${name} exited before "ready"; its output ends with:\n${proc.tail()}`);
  }
  if (outcome === "timeout") {
    throw new Error(
      `${name} logged no {"msg":"ready"} line within ${SHARDGATE_READY_TIMEOUT_MS} ms` +
        ` (at --log-format json --log-level ${SHARDGATE_LOG_LEVEL}); its output ends with:\n` +
        proc.tail(),
    );
  }
  const pick = (want: { shard: string; role: string }): HostPort => {
    const l = listeners.find((x) => x.shard === want.shard && x.role === want.role);
    if (l === undefined) {
      throw new Error(
        `${name} logged no "listening" line for shard ${want.shard} role ${want.role}` +
          ` (got: ${listeners.map((x) => `${x.shard}/${x.role}`).join(", ") || "none"})`,
      );
    }
    return l.address;
  };
  return { proc, pick };
}

async function startShardgate(
  sup: Supervisor,
  workDir: string,
  backends: Backends,
  variant: ShardgateVariant = { name: "shardgate", telemetry: {} },
): Promise<ShardgateRun> {
  const setup = shardgateSetup(
    backends,
    {
      readers: freePort(),
      writer: freePort(),
    },
    HOST,
    variant.telemetry,
  );
  const { proc, pick } = await spawnShardgate(sup, workDir, variant.name, setup.yaml, variant.env);
  const read = pick(setup.endpoints.read);
  const write = pick(setup.endpoints.write);
  await waitServing(`${variant.name} readers`, read, proc);
  await waitServing(`${variant.name} writer`, write, proc);
  const adminPort = variant.telemetry.adminPort;
  const admin = adminPort === undefined ? null : { host: HOST, port: adminPort };
  return { read, write, proc, readNodes: setup.readNodes, admin };
}

// ---- the router cells: their own servers, twemproxy pool and shardgate router port ----

/** Keys read back through every router endpoint before the router cells run. */
const ROUTER_VERIFY_KEYS = 1_000;
/** Keys per MGET of that check. */
const ROUTER_VERIFY_MGET = 10;

/** The router cells' servers and each router target's endpoint (reads = writes). */
interface RouterSetup {
  readonly servers: readonly HostPort[];
  readonly endpoints: ReadonlyMap<Target, Endpoint>;
  /** Keys per server after populating, in server order. */
  readonly keysPerServer: readonly number[];
}

/** Waits until `addr` answers PING (the router endpoints, before any key exists). */
async function waitPong(name: string, addr: HostPort, proc: Managed): Promise<void> {
  await waitFor(`${name} to answer PING on ${hostPort(addr)}`, START_TIMEOUT_MS, async () => {
    assertAlive(proc);
    const r = await withClient(addr, (c) => c.command("PING"));
    return r === "PONG" ? true : undefined;
  });
}

async function startTwemproxyRouter(
  sup: Supervisor,
  tools: Tools,
  workDir: string,
  servers: readonly HostPort[],
): Promise<Endpoint> {
  const listen = { host: HOST, port: freePort() };
  const cfg = `${workDir}/nutcracker-router.yml`;
  await Deno.writeTextFile(cfg, twemproxyRouterConfig(servers, listen));
  const proc = sup.spawn("nutcracker-router", tools.nutcracker!, [
    "-c",
    cfg,
    "-s",
    String(freePort()),
    "-a",
    HOST,
    "-o",
    `${workDir}/nutcracker-router.log`,
    "-p",
    `${workDir}/nutcracker-router.pid`,
  ]);
  await waitPong("twemproxy router pool", listen, proc);
  return { read: listen, write: listen, proc };
}

async function startShardgateRouter(
  sup: Supervisor,
  workDir: string,
  servers: readonly HostPort[],
): Promise<Endpoint> {
  const name = "shardgate-router";
  const { proc, pick } = await spawnShardgate(
    sup,
    workDir,
    name,
    shardgateRouterConfig(servers, HOST),
  );
  const listen = pick({ shard: ROUTER_NAME, role: "router" });
  await waitPong(`${name} router port`, listen, proc);
  return { read: listen, write: listen, proc };
}

/**
 * Reads about {@link ROUTER_VERIFY_KEYS} keys spread over `space` back
 * through `ep`, with pipelined GETs and with MGETs of
 * {@link ROUTER_VERIFY_MGET} keys. Each key
 * exists on one server only, so a proxy that hashed it elsewhere would answer
 * nil.
 */
async function verifyRouter(name: string, ep: Endpoint, space: KeySpace): Promise<void> {
  const want = valueFor(space);
  const step = Math.max(1, Math.floor(space.count / ROUTER_VERIFY_KEYS));
  const keys: string[] = [];
  for (let i = 0; i < space.count && keys.length < ROUTER_VERIFY_KEYS; i += step) {
    keys.push(keyName(space, i));
  }
  keys.push(keyName(space, space.count - 1));
  await withClient(ep.read, async (c) => {
    const gets = await c.pipeline(keys.map((k) => ["GET", k]));
    const bad = gets.findIndex((r) => r !== want);
    if (bad >= 0) {
      throw new Error(`${name}: GET ${keys[bad]} replied ${gets[bad]}, want "${want}"`);
    }
    // One MGET at a time, as the cells send them (no pipelining).
    for (let i = 0; i < keys.length; i += ROUTER_VERIFY_MGET) {
      const part = keys.slice(i, i + ROUTER_VERIFY_MGET);
      const r = await c.command("MGET", ...part);
      if (!Array.isArray(r) || r.length !== part.length || r.some((v) => v !== want)) {
        throw new Error(`${name}: MGET ${part[0]} … (${part.length} keys) replied ${r}`);
      }
    }
  });
  log.info("router verified", { target: name, keys: keys.length });
}

/**
 * Starts {@link ROUTER_SHARDS} empty redis-servers, the router targets among
 * `targets` over them (a second nutcracker, a second shardgate), writes the
 * key space through one of them and reads a sample back through each.
 */
async function startRouterSetup(
  sup: Supervisor,
  tools: Tools,
  workDir: string,
  targets: readonly Target[],
): Promise<RouterSetup> {
  const servers: HostPort[] = [];
  for (let i = 0; i < ROUTER_SHARDS; i++) {
    const addr = { host: HOST, port: freePort() };
    await startRedis(sup, tools, workDir, `router-redis${i}`, addr.port, []);
    servers.push(addr);
  }
  const endpoints = new Map<Target, Endpoint>();
  for (const t of ROUTER_TARGETS.filter((t) => targets.includes(t))) {
    log.info("starting router target", { target: t });
    endpoints.set(
      t,
      t === "twemproxy"
        ? await startTwemproxyRouter(sup, tools, workDir, servers)
        : await startShardgateRouter(sup, workDir, servers),
    );
  }
  // Written through twemproxy's pool when it runs (the router port must then
  // find every key where nutcracker put it), else through the router port.
  const writer = endpoints.has("twemproxy") ? "twemproxy" : "shardgate";
  const writeVia = endpoints.get(writer)!;
  log.info("populating router servers", {
    via: writer,
    prefix: SMALL_KEYS.prefix,
    keys: SMALL_KEYS.count,
  });
  await populate(writeVia.write, SMALL_KEYS);
  const keysPerServer: number[] = [];
  for (const s of servers) {
    const n = await withClient(s, (c) => c.command("DBSIZE"));
    if (typeof n !== "number" || n === 0) {
      throw new Error(`router server ${hostPort(s)} holds ${n} keys after populating`);
    }
    keysPerServer.push(n);
  }
  const total = keysPerServer.reduce((a, b) => a + b, 0);
  if (total !== SMALL_KEYS.count) {
    throw new Error(`router servers hold ${total} keys, want ${SMALL_KEYS.count}`);
  }
  for (const [t, ep] of endpoints) await verifyRouter(t, ep, SMALL_KEYS);
  for (const s of servers) await withClient(s, (c) => c.command("CONFIG", "RESETSTAT"));
  log.info("router servers populated", { keys_per_server: keysPerServer.join(",") });
  return { servers, endpoints, keysPerServer };
}

/** Keyspace hits and misses summed over the router servers. */
async function routerHits(servers: readonly HostPort[]): Promise<{ hits: number; misses: number }> {
  let hits = 0;
  let misses = 0;
  for (const s of servers) {
    const stats = await info(s, "stats");
    hits += Number(stats.get("keyspace_hits") ?? "0");
    misses += Number(stats.get("keyspace_misses") ?? "0");
  }
  return { hits, misses };
}

/**
 * A local OTLP/HTTP endpoint for the traced cell: it reads and counts each
 * export and answers with an empty protobuf response, as a collector on the
 * same host would (its cost is part of the measurement).
 */
function startOtlpSink(): { url: string; requests: () => number; close: () => Promise<void> } {
  let requests = 0;
  const server = Deno.serve({ hostname: HOST, port: 0, onListen: () => {} }, async (req) => {
    await req.arrayBuffer();
    requests++;
    return new Response(new Uint8Array(0), {
      headers: { "content-type": "application/x-protobuf" },
    });
  });
  return {
    url: `http://${HOST}:${server.addr.port}`,
    requests: () => requests,
    close: () => server.shutdown(),
  };
}

/** Fetches `/metrics` every `everyMs` until stopped; resolves to the number of scrapes. */
function scrapeEvery(admin: HostPort, everyMs: number): { stop: () => Promise<number> } {
  let stopped = false;
  let scrapes = 0;
  let wake: () => void = () => {};
  const loop = (async () => {
    while (!stopped) {
      const res = await fetch(`http://${hostPort(admin)}/metrics`);
      if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
      await res.text();
      scrapes++;
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, everyMs);
      });
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      wake();
      await loop;
      return scrapes;
    },
  };
}

/**
 * `git rev-parse --short HEAD` of the checkout, `-dirty` when tracked files
 * other than markdown (docs do not change what is measured) and earlier
 * results changed; `unknown` without git.
 */
async function checkoutCommit(sup: Supervisor): Promise<string> {
  try {
    const git = ["-C", REPO_ROOT];
    const head = await sup.run(
      "git",
      "git",
      [...git, "rev-parse", "--short=12", "HEAD"],
      TOOL_TIMEOUT_MS,
    );
    const sha = head.stdout.trim();
    if (head.code !== 0 || sha === "") return "unknown";
    const st = await sup.run(
      "git",
      "git",
      [
        ...git,
        "status",
        "--porcelain",
        "--untracked-files=no",
        "--",
        ".",
        `:!${RESULTS_DIR}`,
        ":!*.md",
      ],
      TOOL_TIMEOUT_MS,
    );
    return st.stdout.trim() === "" ? sha : `${sha}-dirty`;
  } catch {
    return "unknown";
  }
}

async function toolVersion(sup: Supervisor, bin: string, args: string[]): Promise<string> {
  try {
    const r = await sup.run("version", bin, args, TOOL_TIMEOUT_MS);
    return r.tail.split("\n").find((l) => l.trim() !== "")?.trim() ?? "?";
  } catch {
    return "?";
  }
}

async function machineInfo(sup: Supervisor, tools: Tools): Promise<MachineInfo> {
  const read = (p: string) => Deno.readTextFile(p).catch(() => "");
  const cpuinfo = await read("/proc/cpuinfo");
  const meminfo = await read("/proc/meminfo");
  const cpu = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown CPU";
  const memKb = Number(/^MemTotal:\s+(\d+)/m.exec(meminfo)?.[1] ?? "0");
  const loadAverage = (await read("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
  const versions: Record<string, string> = {};
  const redis = await toolVersion(sup, tools.redisServer, ["--version"]);
  versions["redis-server"] = /v=(\S+)/.exec(redis)?.[1] ?? redis;
  const rb = await toolVersion(sup, tools.redisBenchmark, ["--version"]);
  versions["redis-benchmark"] = /(\d+\.\d+\.\d+)/.exec(rb)?.[1] ?? rb;
  if (tools.haproxy !== null) {
    const v = await toolVersion(sup, tools.haproxy, ["-v"]);
    versions.HAProxy = /version (\S+)/.exec(v)?.[1] ?? v;
  }
  if (tools.nutcracker !== null) {
    const v = await toolVersion(sup, tools.nutcracker, ["--version"]);
    versions["twemproxy (nutcracker)"] = /nutcracker-(\S+)/.exec(v)?.[1] ?? v;
  }
  versions.Deno = Deno.version.deno;
  return {
    cpu,
    cores: navigator.hardwareConcurrency,
    memoryGiB: memKb / 1024 / 1024,
    kernel: Deno.osRelease(),
    loadAverage,
    versions,
    setup: [],
  };
}

/** Opens `n` sessions to `addr`, each running `first` once; closes them all on failure. */
async function openSessions(
  addr: HostPort,
  n: number,
  first: (c: MiniRedis, i: number) => Promise<Reply>,
  expect: Reply,
): Promise<MiniRedis[]> {
  const open: MiniRedis[] = [];
  try {
    for (let from = 0; from < n; from += CONNECT_BATCH) {
      const batch = await Promise.allSettled(
        Array.from({ length: Math.min(CONNECT_BATCH, n - from) }, async (_, k) => {
          const c = await MiniRedis.connect(addr.host, addr.port);
          open.push(c);
          const r = await first(c, from + k);
          if (r !== expect) throw new Error(`session ${from + k}: unexpected reply ${r}`);
        }),
      );
      const failed = batch.find((b) => b.status === "rejected");
      if (failed !== undefined) throw failed.reason;
    }
    return open;
  } catch (e) {
    for (const c of open) c.close();
    throw e;
  }
}

const HEALTH_CHECK_COMMANDS = new Set(["ping", "info"]);

/** RSS and backend connection counts of one proxy. */
async function measureProxy(
  name: string,
  ep: Endpoint,
  backends: Backends,
  rssStartKb: number | null,
): Promise<ProxyResources> {
  const pid = ep.proc!.pid;
  let rssIdleKb: number | null = null;
  let rssClientsKb: number | null = null;
  let backendConns: number | null = null;
  let backendConnsResp3: number | null = null;
  let checkConns: number | null = null;
  const errors: string[] = [];
  try {
    rssIdleKb = rssKb(pid);
  } catch (e) {
    errors.push(`RSS: ${e instanceof Error ? e.message : e}`);
  }
  // Backend connections with LOAD_CLIENTS clients, each having sent one GET.
  try {
    const value = valueFor(SMALL_KEYS);
    const sessions = await openSessions(
      ep.read,
      LOAD_CLIENTS,
      (c, i) => c.command("GET", keyName(SMALL_KEYS, i)),
      value,
    );
    try {
      const ports = await connectionsTo(pid, backends.replica.port);
      const list = await withClient(backends.replica, (c) => c.command("CLIENT", "LIST"));
      if (typeof list !== "string") throw new Error(`CLIENT LIST replied ${list}`);
      const entries = new Map(parseClientList(list).map((e) => [e.get("addr"), e]));
      const checks = ports.filter((p) => {
        const cmd = entries.get(`${HOST}:${p}`)?.get("cmd") ?? "";
        return HEALTH_CHECK_COMMANDS.has(cmd);
      });
      checkConns = checks.length;
      // Per protocol: shardgate pools RESP2 and RESP3 connections apart, and a
      // RESP3 cell earlier in the matrix leaves its pool open (CLIENT LIST's resp=).
      backendConns = ports.filter((p) =>
        !checks.includes(p)
      ).filter((p) => (entries.get(`${HOST}:${p}`)?.get("resp") ?? "2") === "2").length;
    } finally {
      for (const c of sessions) c.close();
    }
  } catch (e) {
    errors.push(`backend connections: ${e instanceof Error ? e.message : e}`);
  }
  // The same over RESP3: each session says HELLO 3 first (shardgate pools by protocol;
  // twemproxy refuses HELLO).
  if (name !== "twemproxy") {
    try {
      const value = valueFor(SMALL_KEYS);
      const sessions = await openSessions(
        ep.read,
        LOAD_CLIENTS,
        async (c, i) => {
          const hello = await c.command("HELLO", "3");
          if (!Array.isArray(hello)) throw new Error(`HELLO 3 replied ${hello}`);
          return c.command("GET", keyName(SMALL_KEYS, i));
        },
        value,
      );
      try {
        const ports = await connectionsTo(pid, backends.replica.port);
        const list = await withClient(backends.replica, (c) => c.command("CLIENT", "LIST"));
        if (typeof list !== "string") throw new Error(`CLIENT LIST replied ${list}`);
        const resp = new Map(parseClientList(list).map((e) => [e.get("addr"), e.get("resp")]));
        backendConnsResp3 = ports.filter((p) => resp.get(`${HOST}:${p}`) === "3").length;
      } finally {
        for (const c of sessions) c.close();
      }
    } catch (e) {
      errors.push(`backend connections over RESP3: ${e instanceof Error ? e.message : e}`);
    }
  }
  // RSS with IDLE_CLIENTS idle sessions (each answered one PING).
  try {
    const sessions = await openSessions(ep.read, IDLE_CLIENTS, (c) => c.command("PING"), "PONG");
    try {
      rssClientsKb = rssKb(pid);
    } finally {
      for (const c of sessions) c.close();
    }
  } catch (e) {
    errors.push(`${IDLE_CLIENTS} idle clients: ${e instanceof Error ? e.message : e}`);
  }
  log.info("measured", {
    proxy: name,
    rss_idle_kb: rssIdleKb,
    rss_clients_kb: rssClientsKb,
    backend_conns: backendConns,
    backend_conns_resp3: backendConnsResp3,
    check_conns: checkConns,
  });
  return {
    rssStartKb,
    rssIdleKb,
    rssClientsKb,
    backendConns,
    backendConnsResp3,
    checkConns,
    error: errors.length > 0 ? errors.join("; ") : null,
  };
}

function safeRss(m: Managed | null): number | null {
  if (m === null) return null;
  try {
    return rssKb(m.pid);
  } catch {
    return null;
  }
}

/**
 * Runs `deno fmt` on the written report so the repo stays `deno fmt --check`
 * clean; returns the formatted text, or null when the file is outside fmt's
 * scope (bench/out) or fmt failed.
 */
async function formatMarkdown(sup: Supervisor, path: string): Promise<string | null> {
  try {
    const r = await sup.run("deno fmt", Deno.execPath(), ["fmt", "--quiet", path], TOOL_TIMEOUT_MS);
    if (r.code !== 0) return null;
    return await Deno.readTextFile(path);
  } catch {
    return null;
  }
}

/** The whole run; returns the process exit code. */
async function runBench(
  opts: BenchOptions,
  tools: Tools,
  sup: Supervisor,
  workDir: string,
): Promise<number> {
  const started = performance.now();
  const machine = await machineInfo(sup, tools);
  // The primary/replica stack serves every cell but the router cells, which
  // have their own servers and proxies (started below only when selected).
  const mainStack = opts.cells.some((c) => cellById(c).router !== true);
  const backends = mainStack ? await startBackends(sup, tools, workDir) : null;

  const endpoints = new Map<Target, Endpoint>();
  let shardgateReadNodes = 1;
  let traced: ShardgateRun | null = null;
  let nohedge: ShardgateRun | null = null;
  let faulted: ShardgateRun | null = null;
  let hostGated: ShardgateRun | null = null;
  let otlpSink: ReturnType<typeof startOtlpSink> | null = null;
  let scrapes = 0;
  const setup: string[] = [];
  if (backends !== null) {
    setup.push(
      `Backends: one primary and one replica (redis-server, no persistence); reads go to the` +
        ` replica, \`set_50c\` to the primary (direct: the primary's port; proxies: their` +
        ` writer endpoint). Keys: ${
          KEY_SPACES.map((k) =>
            `${fmtRps(k.count)} × ${k.valueBytes} B` +
            ` (\`${k.prefix}\`)`
          ).join(", ")
        }; \`-r\` ranges over the same keys.`,
    );
  }
  for (const target of opts.targets) {
    if (backends === null) break;
    log.info("starting target", { target });
    if (target === "direct") {
      endpoints.set(target, { read: backends.replica, write: backends.primary, proc: null });
    } else if (target === "haproxy") {
      endpoints.set(target, await startHaproxy(sup, tools, workDir, backends));
      setup.push(
        "HAProxy: `mode tcp`, `option redis-check`, `balance leastconn`, one `listen` per" +
          ` endpoint, default thread count (one per CPU), \`maxconn\` ${HAPROXY_MAXCONN}.`,
      );
    } else if (target === "twemproxy") {
      endpoints.set(target, await startTwemproxy(sup, tools, workDir, backends));
      setup.push(
        "twemproxy: one pool per endpoint, `redis: true`, default `server_connections`" +
          " (1).",
      );
    } else {
      const sg = await startShardgate(sup, workDir, backends, {
        name: "shardgate",
        telemetry: { adminPort: freePort() },
      });
      shardgateReadNodes = sg.readNodes;
      endpoints.set(target, sg);
      setup.push(
        `shardgate: defaults (connections_per_node ${DEFAULT_CONNECTIONS_PER_NODE}); shard` +
          " `bench` = replica (readers), shard `benchw` = primary (writer); see" +
          " `shardgateSetup()` in `bench/_configs.ts`. Its admin port is on;" +
          ` \`get_50c_scraped\` fetches its /metrics every ${SCRAPE_INTERVAL_MS} ms while it runs.`,
      );
      if (opts.cells.some((c) => cellById(c).telemetry === "nohedge")) {
        nohedge = await startShardgate(sup, workDir, backends, {
          name: "shardgate-nohedge",
          telemetry: { hedgeOff: true },
        });
        setup.push(
          "`get_50c_nohedge` runs against a second shardgate with the same config plus" +
            " `hedge: false`: hedging's steady-state cost is `get_50c` ÷ `get_50c_nohedge`.",
        );
      }
      if (opts.cells.some((c) => cellById(c).telemetry === "host")) {
        hostGated = await startShardgate(sup, workDir, backends, {
          name: "shardgate-host",
          telemetry: { consistencyHost: true },
        });
        setup.push(
          "`get_50c_host` runs against a second shardgate with the same config plus" +
            " `consistency: host` and no writes: read-your-writes' cost on reads is" +
            " `get_50c_host` ÷ `get_50c` (paired runs).",
        );
      }
      if (opts.cells.some((c) => cellById(c).telemetry === "faults")) {
        faulted = await startShardgate(sup, workDir, backends, {
          name: "shardgate-faults",
          telemetry: { faultsOff: true },
        });
        setup.push(
          "`get_50c_faults` runs against a second shardgate with the same config plus a" +
            " `faults:` rule on its shard for a command the benchmark never sends" +
            " (`commands: [flushall]`): fault injection configured but hitting nothing.",
        );
      }
      if (opts.cells.some((c) => cellById(c).telemetry === "traced")) {
        otlpSink = startOtlpSink();
        traced = await startShardgate(sup, workDir, backends, {
          name: "shardgate-traced",
          telemetry: { sampleRatio: TRACED_SAMPLE_RATIO },
          env: {
            OTEL_DENO: "true",
            OTEL_SERVICE_NAME: "shardgate-bench",
            OTEL_EXPORTER_OTLP_ENDPOINT: otlpSink.url,
          },
        });
        setup.push(
          "`get_50c_traced` runs against a second shardgate with the same config plus" +
            ` \`telemetry.sample_ratio: ${TRACED_SAMPLE_RATIO}\` and \`OTEL_DENO=true\`,` +
            " exporting OTLP/HTTP (protobuf, Deno's defaults) to a local sink in the benchmark" +
            " process.",
        );
      }
    }
  }
  const rssStart = new Map<Target, number | null>();
  for (const [t, ep] of endpoints) rssStart.set(t, safeRss(ep.proc));

  let router: RouterSetup | null = null;
  if (needsRouter(opts.cells) && ROUTER_TARGETS.some((t) => opts.targets.includes(t))) {
    router = await startRouterSetup(sup, tools, workDir, opts.targets);
    setup.push(
      `Router cells (\`router_*\`): ${ROUTER_SHARDS} more redis-servers, empty but for` +
        ` ${fmtRps(SMALL_KEYS.count)} × ${SMALL_KEYS.valueBytes} B (\`${SMALL_KEYS.prefix}\`,` +
        ` ${router.keysPerServer.map(fmtRps).join(" / ")} per server), written through` +
        ` ${router.endpoints.has("twemproxy") ? "twemproxy's pool" : "the router port"} and a` +
        ` sample read back through each router target. twemproxy: a second nutcracker, one pool` +
        ` over the ${ROUTER_SHARDS} servers (\`${ROUTER_RING.distribution}\`,` +
        ` \`${ROUTER_RING.hash}\`, \`redis: true\`, servers \`127.0.0.1:port:1\` without names,` +
        " default `server_connections` (1)). shardgate: a second shardgate with one" +
        " single-node shard per server (defaults) and one `routers:` entry over them (same" +
        " ring, default ring names = the nodes' `host:port`); see `shardgateRouterConfig()` in" +
        " `bench/_configs.ts`. Only these two targets run the router cells.",
    );
  } else if (needsRouter(opts.cells)) {
    log.warn("router cells selected but neither twemproxy nor shardgate is a target; skipped");
  }

  if (backends !== null) {
    await withClient(backends.replica, (c) => c.command("CONFIG", "RESETSTAT"));
  }

  // ---- the matrix, interleaved ----
  const runs: RunRecord[] = [];
  const timeout = opts.quick ? RUN_TIMEOUT_MS.quick : RUN_TIMEOUT_MS.full;
  for (let round = 0; round < opts.rounds; round++) {
    // Cells rotate too: a cell's place in the round biases it (seen: the cell
    // after get_50c ran ~8% slower every round), so each takes every place.
    for (const cellId of rotatedOrder(opts.cells, round, 0)) {
      const ci = opts.cells.indexOf(cellId);
      const cell = cellById(cellId);
      const requests = opts.quick ? cell.quickRequests : cell.requests;
      for (const [position, target] of runOrder(cell, opts.targets, round, ci).entries()) {
        if (interrupted) throw new Error("interrupted");
        if (!cellRunsOn(cell, target)) continue;
        const ep = cell.router === true
          ? router?.endpoints.get(target)
          : cell.telemetry === "traced"
          ? traced!
          : cell.telemetry === "nohedge"
          ? nohedge!
          : cell.telemetry === "faults"
          ? faulted!
          : cell.telemetry === "host"
          ? hostGated!
          : endpoints.get(target);
        if (ep === undefined) continue;
        const addr = cell.write ? ep.write : ep.read;
        // A variant cell is bracketed by plain get_50c runs on the main shardgate,
        // one right before and one right after it, so drift and the place of a
        // run in the sequence cancel out of the ratio (their mean is the baseline).
        const main = cell.telemetry === undefined ? undefined : endpoints.get("shardgate");
        const plainRun = async (): Promise<number | null> => {
          if (main === undefined) return null;
          const r = await sup.run(
            "redis-benchmark",
            tools.redisBenchmark,
            benchmarkArgs(cell, main.read.host, main.read.port, requests),
            timeout,
          );
          return r.code === 0 ? parseBenchmarkCsv(r.stdout).rps : null;
        };
        const before = await plainRun();
        // Scraping starts after the "before" run, which must not be scraped.
        const scraper = cell.telemetry === "scraped"
          ? scrapeEvery((ep as ShardgateRun).admin!, SCRAPE_INTERVAL_MS)
          : null;
        const t0 = performance.now();
        let sample = null;
        let error: string | null = null;
        try {
          assertAlive(ep.proc);
          const r = await sup.run(
            "redis-benchmark",
            tools.redisBenchmark,
            benchmarkArgs(cell, addr.host, addr.port, requests),
            timeout,
          );
          if (r.code !== 0) throw new Error(`redis-benchmark exited ${r.code}: ${r.tail}`);
          sample = parseBenchmarkCsv(r.stdout);
        } catch (e) {
          error = e instanceof Error ? e.message : String(e);
        }
        try {
          if (scraper !== null) scrapes += await scraper.stop();
        } catch (e) {
          error ??= `scraping /metrics: ${e instanceof Error ? e.message : String(e)}`;
        }
        const elapsedMs = performance.now() - t0;
        const after = await plainRun();
        const baselineRps = before === null || after === null ? null : (before + after) / 2;
        runs.push({
          round,
          cell: cellId,
          target,
          position,
          requests,
          elapsedMs,
          sample,
          error,
          baselineRps,
        });
        if (error !== null) {
          log.warn("run failed", { round: round + 1, cell: cellId, target, error });
        } else {
          log.info("run", {
            round: `${round + 1}/${opts.rounds}`,
            cell: cellId,
            target,
            rps: Math.round(sample!.rps),
            p50_ms: sample!.p50Ms,
            s: (elapsedMs / 1000).toFixed(1),
          });
        }
      }
    }
  }

  if (otlpSink !== null) {
    setup.push(`The traced shardgate made ${otlpSink.requests()} OTLP export requests.`);
    await otlpSink.close();
  }
  if (scrapes > 0) setup.push(`/metrics was scraped ${scrapes} times during \`get_50c_scraped\`.`);

  let replicaHits = null;
  if (backends !== null) {
    const stats = await info(backends.replica, "stats");
    replicaHits = {
      hits: Number(stats.get("keyspace_hits") ?? "0"),
      misses: Number(stats.get("keyspace_misses") ?? "0"),
    };
  }
  if (router !== null) {
    const h = await routerHits(router.servers);
    setup.push(
      `Router servers' keyspace over the run: ${fmtRps(h.hits)} hits, ${fmtRps(h.misses)}` +
        " misses (misses mean a key read from the wrong server).",
    );
  }

  // ---- memory and backend connections ----
  // Only the main stack's proxies: the router cells' processes are apart.
  const proxies: Partial<Record<Target, ProxyResources>> = {};
  for (const [t, ep] of endpoints) {
    if (ep.proc === null || backends === null) continue;
    proxies[t] = await measureProxy(t, ep, backends, rssStart.get(t) ?? null);
  }
  const resources: ResourceReport | null = backends === null ? null : {
    idleClients: IDLE_CLIENTS,
    loadClients: LOAD_CLIENTS,
    shardgateReadNodes,
    connectionsPerNode: DEFAULT_CONNECTIONS_PER_NODE,
    proxies,
  };

  // ---- report ----
  const summaries = summarise(runs, opts.cells, opts.targets);
  const elapsedS = (performance.now() - started) / 1000;
  const date = new Date().toISOString();
  const commit = await checkoutCommit(sup);
  // Every run's raw numbers and report are kept under bench/results/ (committed),
  // so each figure quoted from RESULTS.md traces to the run and commit it came from.
  const stem = `${RESULTS_DIR}/${date.replace(/[:.]/g, "-")}-${commit}${
    opts.quick ? "-quick" : ""
  }`;
  const rawPath = `${stem}.json`;
  const report: BenchReport = {
    date,
    quick: opts.quick,
    rounds: opts.rounds,
    targets: opts.targets,
    cells: opts.cells,
    machine: { ...machine, setup },
    summaries,
    resources,
    checks: evaluateTargets(summaries, resources),
    elapsedS,
    replicaHits,
    rawPath,
    commit,
  };
  const markdown = renderMarkdown(report);
  await Deno.mkdir(`${REPO_ROOT}/${RESULTS_DIR}`, { recursive: true });
  await Deno.writeTextFile(
    `${REPO_ROOT}/${rawPath}`,
    JSON.stringify(
      { commit, options: opts, machine: report.machine, runs, resources, replicaHits, summaries },
      null,
      2,
    ) +
      "\n",
  );
  await formatMarkdown(sup, `${REPO_ROOT}/${rawPath}`);
  await Deno.writeTextFile(`${REPO_ROOT}/${stem}.md`, markdown);
  await formatMarkdown(sup, `${REPO_ROOT}/${stem}.md`);
  const outPath = opts.out.startsWith("/") ? opts.out : `${REPO_ROOT}/${opts.out}`;
  await Deno.writeTextFile(outPath, markdown);
  console.log(await formatMarkdown(sup, outPath) ?? markdown);
  log.info("done", { elapsed_s: elapsedS.toFixed(1), report: opts.out, raw: rawPath });
  return 0;
}

/** Runs the benchmark with `argv`; returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let opts: BenchOptions;
  try {
    opts = parseBenchArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`${e.message}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  const tools = findTools(opts.targets);
  if (Array.isArray(tools)) {
    console.error(`missing: ${tools.join(", ")}. Install them with:\n  ${INSTALL_HINT}`);
    return EXIT_USAGE;
  }

  const sup = new Supervisor();
  const workDir = await Deno.makeTempDir({ prefix: "shardgate-bench-" });
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await sup.stopAll();
  };
  const onSignal = () => {
    interrupted = true;
    log.warn("interrupted: stopping every process started");
    cleanup().finally(() => Deno.exit(130));
  };
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  let ok = false;
  try {
    const code = await runBench(opts, tools, sup, workDir);
    ok = true;
    return code;
  } catch (e) {
    console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
    console.error(`bench: logs and configs kept in ${workDir}`);
    return 1;
  } finally {
    await cleanup();
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
    if (ok) await Deno.remove(workDir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
