/**
 * Real `redis-server` processes for end-to-end tests.
 *
 * Each server gets its own temp dir (`data/` as its `--dir`, `redis.log` for
 * its log), binds 127.0.0.1 on a free port, persists nothing and is tracked
 * until `stop()`, which removes the temp dir.
 *
 * @module
 */

import {
  CLI_TIMEOUT_MS,
  LOG_TAIL_LINES,
  PING_TIMEOUT_MS,
  POLL_INTERVAL_MS,
  PORT_RETRIES,
  REDIS_START_TIMEOUT_MS,
  STOP_TIMEOUT_MS,
} from "./_defaults.ts";
import {
  removeQuiet,
  removeSyncQuiet,
  signalPid,
  track,
  type Tracked,
  untrack,
} from "./_registry.ts";
import { freePort } from "./ports.ts";
import { delay, errorText, withTimeout } from "./wait.ts";

/** Options of {@linkcode startRedis}. */
export interface StartRedisOptions {
  /** Extra `redis-server` arguments, e.g. `["--replicaof", "127.0.0.1", "7000"]`. */
  args?: string[];
  /** Port to bind; default a free port (retried if taken meanwhile). */
  port?: number;
  /** How long to wait for PONG; default 10 s. */
  timeoutMs?: number;
}

/** Options of {@linkcode RedisProcess.restart}. */
export interface RestartOptions {
  /** Empty the data dir first, so the server comes back without data. */
  wipe?: boolean;
  /** Replace the extra arguments (default: keep the current ones). */
  args?: string[];
  /** Wait for PONG (default true). */
  waitReady?: boolean;
  /** How long to wait for PONG; default 10 s. */
  timeoutMs?: number;
}

const TERMINATING: ReadonlySet<Deno.Signal> = new Set(["SIGKILL", "SIGTERM", "SIGINT", "SIGQUIT"]);
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** A running (or stopped) `redis-server` owned by a test. */
export class RedisProcess implements Tracked {
  /** The port it listens on; kept across restarts. */
  readonly port: number;
  /** Temp dir holding `data/` and `redis.log`; removed by `stop()`. */
  readonly tempDir: string;
  /** Its `--dir` (RDB files of replicas land here). */
  readonly dataDir: string;
  /** Its log file. */
  readonly logPath: string;

  #args: string[];
  #child: Deno.ChildProcess | null = null;
  #status: Promise<Deno.CommandStatus> | null = null;
  #stderr: Promise<string> = Promise.resolve("");
  #running = false;
  #paused = false;
  #stopping: Promise<void> | null = null;

  /** Use {@linkcode startRedis}. */
  constructor(port: number, tempDir: string, args: string[]) {
    this.port = port;
    this.tempDir = tempDir;
    this.dataDir = `${tempDir}/data`;
    this.logPath = `${tempDir}/redis.log`;
    this.#args = [...args];
  }

  /** Pid of the current process (changes on restart); 0 before the first start. */
  get pid(): number {
    return this.#child?.pid ?? 0;
  }

  /** True while the process has not exited. */
  get running(): boolean {
    return this.#running;
  }

  /** True between `pause()` and `resume()`. */
  get paused(): boolean {
    return this.#paused;
  }

  /** The extra arguments it runs with (besides port, bind, dir, persistence). */
  get args(): readonly string[] {
    return this.#args;
  }

  /** `host:port` as a shardgate config node address. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Spawns the process and waits for PONG (internal; see `startRedis` and `restart`). */
  async spawn(waitReady: boolean, timeoutMs: number): Promise<void> {
    await Deno.mkdir(this.dataDir, { recursive: true });
    const child = new Deno.Command("redis-server", {
      args: [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--dir",
        this.dataDir,
        "--logfile",
        this.logPath,
        // full syncs start at once (the default waits 5 s for more replicas);
        // a test that wants the delay passes its own value, which wins
        "--repl-diskless-sync-delay",
        "0",
        ...this.#args,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    this.#running = true;
    this.#paused = false;
    this.#stderr = new Response(child.stderr).text().catch(() => "");
    this.#status = child.status.then((s) => {
      if (this.#child === child) this.#running = false;
      return s;
    });
    if (waitReady) await this.#waitReady(timeoutMs);
  }

  async #waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.#running) {
        await this.#status;
        throw new Error(
          `redis-server on port ${this.port} exited during startup:\n${await this.diagnostics()}`,
        );
      }
      // PONG alone could come from another server that owns the port
      if (await ping(this.port) && await this.#ownsPort()) return;
      await delay(POLL_INTERVAL_MS);
    }
    throw new Error(
      `redis-server on port ${this.port} gave no PONG within ${timeoutMs} ms:\n${await this
        .diagnostics()}`,
    );
  }

  async #ownsPort(): Promise<boolean> {
    try {
      return (await this.info("server")).process_id === String(this.pid);
    } catch {
      return false;
    }
  }

  /** True if the startup failure in the log is a port clash. */
  async portClash(): Promise<boolean> {
    return /address already in use/i.test(await this.diagnostics());
  }

  /** Stderr and the tail of the log file, for error messages. */
  async diagnostics(): Promise<string> {
    const stderr = this.#running ? "" : await this.#stderr;
    let log = "";
    try {
      log = (await Deno.readTextFile(this.logPath)).split("\n").slice(-LOG_TAIL_LINES).join("\n");
    } catch {
      log = "(no log file)";
    }
    return `${stderr ? `stderr: ${stderr.trim()}\n` : ""}log ${this.logPath}:\n${log}`;
  }

  /** The whole log file so far. */
  log(): Promise<string> {
    return Deno.readTextFile(this.logPath);
  }

  /**
   * Sends `signal` (default SIGKILL). For terminating signals, a paused process
   * is resumed first where needed, and the call resolves once it has exited.
   */
  async kill(signal: Deno.Signal = "SIGKILL"): Promise<void> {
    const child = this.#child;
    if (!child || !this.#running) return;
    try {
      child.kill(signal);
    } catch {
      // exited meanwhile
    }
    if (TERMINATING.has(signal)) {
      if (this.#paused && signal !== "SIGKILL") signalPid(child.pid, "SIGCONT");
      this.#paused = false;
      await this.#status;
    }
  }

  /** Freezes the process (SIGSTOP): its sockets stay open, nothing answers. */
  pause(): void {
    if (!this.#running) throw new Error(`redis-server on port ${this.port} is not running`);
    signalPid(this.pid, "SIGSTOP");
    this.#paused = true;
  }

  /** Unfreezes the process (SIGCONT). */
  resume(): void {
    if (!this.#running) throw new Error(`redis-server on port ${this.port} is not running`);
    signalPid(this.pid, "SIGCONT");
    this.#paused = false;
  }

  /**
   * Starts the server again on the same port. A running process is SIGKILLed
   * first. With `wipe`, the data dir is emptied so it comes back without data
   * (a replica then does a full resync).
   */
  async restart(opts: RestartOptions = {}): Promise<void> {
    if (this.#stopping) throw new Error(`redis-server on port ${this.port} was stopped`);
    await this.kill("SIGKILL");
    await this.#stderr;
    if (opts.wipe) await removeQuiet(this.dataDir);
    if (opts.args) this.#args = [...opts.args];
    await this.spawn(opts.waitReady ?? true, opts.timeoutMs ?? REDIS_START_TIMEOUT_MS);
  }

  /**
   * Runs `REPLICAOF` (`null` = `NO ONE`) and remembers it, so a later
   * `restart()` keeps the new role.
   */
  async replicaOf(primaryPort: number | null): Promise<void> {
    const target = primaryPort === null ? ["NO", "ONE"] : ["127.0.0.1", String(primaryPort)];
    const reply = await this.cli("REPLICAOF", ...target);
    if (!reply.startsWith("OK")) throw new Error(`REPLICAOF on port ${this.port}: ${reply}`);
    const args: string[] = [];
    for (let i = 0; i < this.#args.length; i++) {
      if (
        this.#args[i].toLowerCase() === "--replicaof" || this.#args[i].toLowerCase() === "--slaveof"
      ) {
        i += 2;
        continue;
      }
      args.push(this.#args[i]);
    }
    if (primaryPort !== null) args.push("--replicaof", "127.0.0.1", String(primaryPort));
    this.#args = args;
  }

  /**
   * Runs `redis-cli -h 127.0.0.1 -p <port> ...args` and returns its trimmed
   * stdout. Error replies come back as text (`ERR ...`), as redis-cli prints
   * them; a failure to connect throws. Killed after 10 s (e.g. when paused).
   */
  async cli(...args: string[]): Promise<string> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), CLI_TIMEOUT_MS);
    try {
      const out = await new Deno.Command("redis-cli", {
        args: ["-h", "127.0.0.1", "-p", String(this.port), ...args],
        stdin: "null",
        signal: ac.signal,
      }).output();
      if (ac.signal.aborted) {
        throw new Error(
          `redis-cli ${args.join(" ")} on port ${this.port}: no answer within ${CLI_TIMEOUT_MS} ms`,
        );
      }
      if (!out.success) {
        throw new Error(
          `redis-cli ${args.join(" ")} on port ${this.port} failed (${out.code}): ` +
            `${decoder.decode(out.stderr).trim()} ${decoder.decode(out.stdout).trim()}`,
        );
      }
      return decoder.decode(out.stdout).trim();
    } finally {
      clearTimeout(timer);
    }
  }

  /** `INFO <section>` parsed into `field -> value`. */
  async info(section = "replication"): Promise<Record<string, string>> {
    return parseInfo(await this.cli("INFO", section));
  }

  /**
   * Stops the server and removes its temp dir; idempotent. A paused process
   * is resumed first; SIGTERM, then SIGKILL after 5 s; waits for exit.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    try {
      const child = this.#child;
      if (child && this.#running) {
        if (this.#paused) signalPid(child.pid, "SIGCONT");
        this.#paused = false;
        try {
          child.kill("SIGTERM");
        } catch {
          // exited meanwhile
        }
        try {
          await withTimeout(this.#status!, STOP_TIMEOUT_MS, "SIGTERM");
        } catch {
          await this.kill("SIGKILL");
        }
      }
      await this.#status;
      await this.#stderr;
      await removeQuiet(this.tempDir);
    } finally {
      untrack(this);
    }
  }

  /** Module-unload safety net: SIGKILL and remove the temp dir synchronously. */
  killSync(): void {
    if (this.#running) signalPid(this.pid, "SIGKILL");
    removeSyncQuiet(this.tempDir);
  }

  /** Same as `stop()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

/** Parses `INFO` output (`field:value` lines; `#` headers skipped). */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const i = line.indexOf(":");
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** True if 127.0.0.1:`port` answers PING with PONG within 500 ms. */
export async function ping(port: number): Promise<boolean> {
  const state: { conn: Deno.TcpConn | null; done: boolean } = { conn: null, done: false };
  const attempt = (async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    state.conn = conn;
    if (state.done) return "";
    await conn.write(encoder.encode("*1\r\n$4\r\nPING\r\n"));
    const buf = new Uint8Array(64);
    let text = "";
    while (!text.includes("\r\n")) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += decoder.decode(buf.subarray(0, n));
    }
    return text;
  })().catch(() => "");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(""), PING_TIMEOUT_MS);
  });
  try {
    const reply = await Promise.race([attempt, timedOut]);
    return reply.startsWith("+PONG");
  } finally {
    clearTimeout(timer);
    state.done = true;
    // closing the socket ends a pending read; then the attempt settles
    try {
      state.conn?.close();
    } catch {
      // already closed
    }
    await attempt;
    try {
      state.conn?.close();
    } catch {
      // already closed
    }
  }
}

/**
 * Starts a `redis-server` on 127.0.0.1 with no persistence and waits until it
 * answers PING. Registered for cleanup; call `stop()` (or `await using`).
 */
export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisProcess> {
  const attempts = opts.port === undefined ? PORT_RETRIES : 1;
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    const port = opts.port ?? await freePort();
    const tempDir = await Deno.makeTempDir({ prefix: "shardgate-redis-" });
    const proc = new RedisProcess(port, tempDir, opts.args ?? []);
    track(proc);
    try {
      await proc.spawn(true, opts.timeoutMs ?? REDIS_START_TIMEOUT_MS);
      return proc;
    } catch (e) {
      lastError = e;
      const clash = !proc.running && await proc.portClash();
      await proc.stop();
      if (!clash) break;
    }
  }
  throw new Error(`startRedis failed: ${errorText(lastError)}`);
}
