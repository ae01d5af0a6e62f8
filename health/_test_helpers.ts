/**
 * Test helpers of the health folder: shard configs, a capturing logger,
 * condition waits, and real redis-server processes (primary + replicas on
 * free ports, each in its own temporary directory).
 *
 * @module
 */

import type {
  Address,
  AuthConfig,
  CheckConfig,
  NodeConfig,
  PassiveConfig,
  ShardConfig,
} from "../config/types.ts";
import { encodeCommand } from "../resp/mod.ts";
import { Logger } from "../telemetry/logger.ts";
import { CheckConn, realConnect, type Reply } from "./_conn.ts";

/** An address on 127.0.0.1. */
export function localAddress(port: number, host = "127.0.0.1"): Address {
  return { host, port, text: `${host}:${port}` };
}

/** A node config on 127.0.0.1:`port`. */
export function localNode(port: number, weight = 1): NodeConfig {
  const address = localAddress(port);
  return { id: address.text, address, weight };
}

/** Overrides of {@linkcode testShard}. */
export interface TestShardOverrides {
  check?: Partial<CheckConfig>;
  passive?: Partial<PassiveConfig>;
  auth?: AuthConfig | null;
  name?: string;
}

/** A shard config for tests: fast checks (100 ms), rise 2, fall 2. */
export function testShard(nodes: NodeConfig[], o: TestShardOverrides = {}): ShardConfig {
  return {
    name: o.name ?? "test",
    readers: localAddress(0),
    writer: null,
    nodes,
    balance: "round-robin",
    fallback: "primary",
    connectionsPerNode: 2,
    maxClients: 100,
    retries: 2,
    timeouts: { connectMs: 1000, serverMs: 2000, clientIdleMs: 0, drainMs: 1000 },
    check: {
      intervalMs: 100,
      timeoutMs: 300,
      rise: 2,
      fall: 2,
      maxLagMs: 10_000,
      serveWhenLinkDown: true,
      ...o.check,
    },
    passive: {
      errors: 5,
      windowMs: 10_000,
      cooldownMs: 10_000,
      maxCooldownMs: 300_000,
      maxEjectedPercent: 50,
      ...o.passive,
    },
    auth: o.auth ?? null,
    tls: null,
    clientPassword: null,
    allowRemote: false,
    dnsRefreshMs: 0,
  };
}

/** A logger whose lines (parsed JSON) are kept in `lines`. */
export function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = new Logger("debug", "json", (line) => lines.push(JSON.parse(line)));
  return { logger, lines };
}

/** A settable fake clock. */
export class FakeClock {
  /** Current time in epoch ms. */
  t = 1_700_000_000_000;
  /** The clock function to inject. */
  readonly now = (): number => this.t;
  /** Moves time forward. */
  advance(ms: number): void {
    this.t += ms;
  }
}

/** Resolves after `ms` (pacing only, never as synchronisation). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Evaluates `cond` every `stepMs` until true; returns the elapsed ms, or
 * throws when `timeoutMs` passes first.
 */
export async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  stepMs = 10,
): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await cond()) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    }
    await delay(stepMs);
  }
}

/** A free TCP port on 127.0.0.1 (free a moment ago). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    return (l.addr as Deno.NetAddr).port;
  } finally {
    l.close();
  }
}

/** Sends one command to 127.0.0.1:`port` on a fresh connection and returns its reply. */
export async function redisCall(
  port: number,
  args: string[],
  password: string | null = null,
): Promise<Reply> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 5000);
  let conn: CheckConn | null = null;
  try {
    conn = await CheckConn.open(
      realConnect,
      localAddress(port),
      null,
      password === null ? null : { username: null, password },
      5000,
      ac.signal,
      () => {},
    );
    const [reply] = await conn.send([encodeCommand(args)], ac.signal);
    return reply;
  } finally {
    clearTimeout(timer);
    await conn?.close();
  }
}

/** `redisCall` returning the text of a reply (integers as digits, errors as "-ERR ..."). */
export async function redisText(
  port: number,
  args: string[],
  password: string | null = null,
): Promise<string> {
  const r = await redisCall(port, args, password);
  if (r.type === "error") return `-${r.text}`;
  if (r.type === "simple" || r.type === "bulk") return r.text ?? "";
  if (r.type === "integer") return String(r.value);
  return "";
}

/** One field of INFO `section` of the node on `port`, or null. */
export async function infoField(
  port: number,
  section: string,
  field: string,
  password: string | null = null,
): Promise<string | null> {
  const text = await redisText(port, ["INFO", section], password);
  const m = text.match(new RegExp(`^${field}:(.*?)\\r?$`, "m"));
  return m === null ? null : m[1];
}

/** A redis-server process on a fixed port with its own temporary directory. */
export class RedisProc {
  /** The port it listens on. */
  readonly port: number;
  #extra: string[];
  #dir: string | null = null;
  #child: Deno.ChildProcess | null = null;
  #password: string | null;

  private constructor(port: number, extra: string[], password: string | null) {
    this.port = port;
    this.#extra = extra;
    this.#password = password;
  }

  /** Starts redis-server on a free port with `extra` arguments; waits for PONG. */
  static async start(extra: string[] = [], password: string | null = null): Promise<RedisProc> {
    let lastError: unknown = null;
    for (let attempt = 0; attempt < 5; attempt++) {
      const p = new RedisProc(freePort(), extra, password);
      try {
        await p.restart();
        return p;
      } catch (e) {
        lastError = e;
        await p.stop();
      }
    }
    throw new Error(`redis-server did not start: ${String(lastError)}`);
  }

  /** The node config for it. */
  get node(): NodeConfig {
    return localNode(this.port);
  }

  /** The node id for it. */
  get id(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** The process id, while running. */
  get pid(): number | null {
    return this.#child?.pid ?? null;
  }

  /**
   * (Re)starts the process on the same port with an EMPTY fresh directory
   * (no old RDB), plus `more` arguments; waits until it answers PING
   * (or -LOADING).
   */
  async restart(more: string[] = []): Promise<void> {
    if (this.#child !== null) throw new Error("still running");
    if (this.#dir !== null) await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
    this.#dir = await Deno.makeTempDir({ prefix: "shardgate_health_" });
    const args = [
      "--port",
      String(this.port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      this.#dir,
      "--repl-diskless-sync-delay",
      "0",
      "--enable-debug-command",
      "yes",
      ...this.#extra,
      ...more,
    ];
    this.#child = new Deno.Command("redis-server", {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const child = this.#child;
    let exited = false;
    child.status.then(() => exited = true);
    await waitFor(`redis-server on ${this.port}`, async () => {
      if (exited) throw new Error(`redis-server on ${this.port} exited`);
      try {
        const r = await redisCall(this.port, ["PING"], this.#password);
        return (r.type === "simple" && r.text === "PONG") ||
          (r.type === "error" && r.text.startsWith("LOADING"));
      } catch {
        return false;
      }
    }, 5000);
  }

  /** Sends `signal` (SIGSTOP/SIGCONT keep it; SIGKILL ends it and waits). */
  async kill(signal: Deno.Signal): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    child.kill(signal);
    if (signal === "SIGKILL" || signal === "SIGTERM") {
      await child.status;
      this.#child = null;
    }
  }

  /** Kills the process (continuing it first if stopped) and removes its directory. */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = null;
    if (child !== null) {
      try {
        child.kill("SIGCONT");
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await child.status;
    }
    if (this.#dir !== null) {
      await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
      this.#dir = null;
    }
  }
}

/** A primary and replicas of it, replication links up. */
export interface TestCluster {
  readonly primary: RedisProc;
  readonly replicas: RedisProc[];
  /** Every node config: primary first. */
  readonly nodes: NodeConfig[];
  /** Stops every process. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startCluster}. */
export interface ClusterOptions {
  /** Number of replicas (default 2). */
  replicas?: number;
  /** Password for requirepass + masterauth, or null. */
  password?: string | null;
  /** Keys to create on the primary before the replicas attach (DEBUG POPULATE). */
  keys?: number;
}

/** Waits until the replica on `port` reports `master_link_status:up`. */
export async function waitLinkUp(port: number, password: string | null = null): Promise<void> {
  await waitFor(
    `link up on ${port}`,
    async () => {
      try {
        return (await infoField(port, "replication", "master_link_status", password)) === "up";
      } catch {
        return false;
      }
    },
    15_000,
    20,
  );
}

/** Starts a primary and replicas (`--replicaof`), waits until every link is up. */
export async function startCluster(o: ClusterOptions = {}): Promise<TestCluster> {
  const password = o.password ?? null;
  const auth = password === null ? [] : ["--requirepass", password, "--masterauth", password];
  const started: RedisProc[] = [];
  const stop = async () => {
    await Promise.all(started.map((p) => p.stop()));
  };
  try {
    const primary = await RedisProc.start(auth, password);
    started.push(primary);
    if ((o.keys ?? 0) > 0) {
      await redisCall(primary.port, ["DEBUG", "POPULATE", String(o.keys), "key", "64"], password);
    }
    const replicas: RedisProc[] = [];
    for (let i = 0; i < (o.replicas ?? 2); i++) {
      const r = await RedisProc.start(
        [...auth, "--replicaof", "127.0.0.1", String(primary.port)],
        password,
      );
      started.push(r);
      replicas.push(r);
    }
    for (const r of replicas) await waitLinkUp(r.port, password);
    return { primary, replicas, nodes: started.map((p) => p.node), stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
