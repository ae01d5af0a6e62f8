/**
 * shardgate itself as a child process (`deno run --allow-all main.ts run`),
 * with its log lines parsed as they arrive.
 *
 * Contract with `main.ts`: for every listener it logs
 * `{"msg":"listening","shard":"users","role":"readers"|"writer"|"admin","address":"127.0.0.1:54321"}`
 * with the real bound port, then one `{"msg":"ready"}` line.
 *
 * @module
 */

import {
  LOG_TAIL_LINES,
  SHARDGATE_READY_TIMEOUT_MS,
  SHARDGATE_STOP_TIMEOUT_MS,
  WAIT_FOR_LOG_TIMEOUT_MS,
} from "./_defaults.ts";
import {
  removeQuiet,
  removeSyncQuiet,
  signalPid,
  track,
  type Tracked,
  untrack,
} from "./_registry.ts";
import { withTimeout } from "./wait.ts";

const encoder = new TextEncoder();

/** A parsed log line (JSON fields, or the fields of a text line). */
export type LogRecord = Record<string, unknown>;

/** Options of {@linkcode startShardgate}. */
export interface StartShardgateOptions {
  /** Extra environment variables (the rest is inherited). */
  env?: Record<string, string>;
  /** Extra arguments after `run --config FILE --log-format F --log-level L`. */
  args?: string[];
  /** `--log-format`; default `json`. Text lines are parsed too. */
  logFormat?: "json" | "text";
  /** `--log-level`; default `debug`. */
  logLevel?: "debug" | "info" | "warn" | "error";
  /** Copy every stderr line to this process's stderr (demo, debugging). */
  echo?: boolean;
  /** Wait for the `ready` line (default true); false returns right after spawning. */
  waitReady?: boolean;
  /** Deadline for `ready`; default 30 s. */
  readyTimeoutMs?: number;
  /** Script to run instead of the repo's `main.ts` (harness self-tests). */
  entry?: string;
}

/** Options of {@linkcode ShardgateProcess.waitForLog}. */
export interface WaitForLogOptions {
  /** Index in `logs()` to start matching from; default 0 (all lines so far). */
  from?: number;
}

/** Reader and writer ports of one shard. */
export interface ShardPorts {
  readers: number;
  writer?: number;
  split?: number;
}

interface Waiter {
  predicate: (line: LogRecord) => boolean;
  resolve: (line: LogRecord) => void;
  reject: (e: Error) => void;
}

/** The repo root (two levels up from this file). */
export const REPO_ROOT: string = decodeURIComponent(new URL("../../", import.meta.url).pathname)
  .replace(/\/$/, "");

/** A running shardgate process owned by a test. */
export class ShardgateProcess implements Tracked {
  /** The config file it runs with (rewrite it with `writeConfig`). */
  readonly configPath: string;
  /** Temp dir holding the config; removed by `stop()`. */
  readonly tempDir: string;

  #child: Deno.ChildProcess;
  #status: Promise<Deno.CommandStatus>;
  #exit: Deno.CommandStatus | null = null;
  #readers: Promise<void>;
  #lines: string[] = [];
  #records: LogRecord[] = [];
  #stdout = "";
  #ports: Record<string, ShardPorts> = {};
  #adminPort: number | undefined = undefined;
  #routerPorts: Record<string, number> = {};
  #waiters = new Set<Waiter>();
  #echo: boolean;
  #stopping: Promise<void> | null = null;
  #readersDone = false;

  /** Use {@linkcode startShardgate}. */
  constructor(child: Deno.ChildProcess, tempDir: string, configPath: string, echo: boolean) {
    this.#child = child;
    this.tempDir = tempDir;
    this.configPath = configPath;
    this.#echo = echo;
    this.#status = child.status.then((s) => {
      this.#exit = s;
      return s;
    });
    const stderr = this.#readLines(child.stderr, (line) => this.#onLine(line));
    const stdout = this.#readLines(child.stdout, (line) => {
      this.#stdout += line + "\n";
    });
    this.#readers = Promise.all([stderr, stdout, this.#status]).then(() => {
      // the pipes are closed and the process exited: nothing more will match
      this.#readersDone = true;
      const why = new Error(
        `shardgate exited (${this.#exitText()}) before a matching log line; last lines:\n${this.tail()}`,
      );
      for (const w of this.#waiters) w.reject(why);
      this.#waiters.clear();
    });
  }

  /** Pid of the process. */
  get pid(): number {
    return this.#child.pid;
  }

  /** True while the process has not exited. */
  get running(): boolean {
    return this.#exit === null;
  }

  /** Resolves with the exit status. */
  get exited(): Promise<Deno.CommandStatus> {
    return this.#status;
  }

  /** Reader/writer ports per shard, from the `listening` lines so far. */
  get ports(): Readonly<Record<string, ShardPorts>> {
    return this.#ports;
  }

  /** Router ports by router name, from the `listening` lines so far. */
  get routerPorts(): Readonly<Record<string, number>> {
    return this.#routerPorts;
  }

  /** The admin HTTP port, if an admin listener was logged. */
  get adminPort(): number | undefined {
    return this.#adminPort;
  }

  /** Every stderr line so far, raw. */
  logs(): string[] {
    return [...this.#lines];
  }

  /** Every stderr line so far, parsed (same indexes as `logs()`). */
  records(): LogRecord[] {
    return [...this.#records];
  }

  /** Everything written to stdout so far. */
  stdout(): string {
    return this.#stdout;
  }

  /** The last lines of stderr, for error messages. */
  tail(n = LOG_TAIL_LINES): string {
    return this.#lines.slice(-n).join("\n");
  }

  /**
   * Resolves with the first parsed line (from index `opts.from`, default 0)
   * for which `predicate` is true; rejects at the deadline or when the
   * process exits first. To match only lines logged after some action, pass
   * `{ from: sg.logs().length }` taken before the action.
   */
  waitForLog(
    predicate: (line: LogRecord) => boolean,
    timeoutMs = WAIT_FOR_LOG_TIMEOUT_MS,
    opts: WaitForLogOptions = {},
  ): Promise<LogRecord> {
    for (let i = opts.from ?? 0; i < this.#records.length; i++) {
      if (safeMatch(predicate, this.#records[i])) return Promise.resolve(this.#records[i]);
    }
    if (this.#readersDone) {
      return Promise.reject(
        new Error(
          `shardgate exited (${this.#exitText()}) before a matching log line; last lines:\n${this.tail()}`,
        ),
      );
    }
    return new Promise<LogRecord>((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        resolve: (rec) => {
          clearTimeout(timer);
          resolve(rec);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(
          new Error(
            `shardgate: no matching log line within ${timeoutMs} ms; last lines:\n${this.tail()}`,
          ),
        );
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  /** Sends a signal (e.g. SIGHUP to reload). */
  signal(sig: Deno.Signal): void {
    if (this.#exit !== null) throw new Error(`shardgate already exited (${this.#exitText()})`);
    this.#child.kill(sig);
  }

  /**
   * Rewrites the config file. With `rename`, writes a sibling file and
   * renames it over the config, as editors do.
   */
  async writeConfig(yaml: string, opts: { rename?: boolean } = {}): Promise<void> {
    if (!opts.rename) {
      await Deno.writeTextFile(this.configPath, yaml);
      return;
    }
    const tmp = `${this.configPath}.tmp-${crypto.randomUUID()}`;
    await Deno.writeTextFile(tmp, yaml);
    await Deno.rename(tmp, this.configPath);
  }

  /** Stops with SIGTERM (SIGKILL after 10 s), awaits exit, removes the temp dir; idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    try {
      if (this.#exit === null) {
        try {
          this.#child.kill("SIGTERM");
        } catch {
          // exited meanwhile
        }
        try {
          await withTimeout(this.#status, SHARDGATE_STOP_TIMEOUT_MS, "SIGTERM");
        } catch {
          try {
            this.#child.kill("SIGKILL");
          } catch {
            // exited meanwhile
          }
        }
      }
      await this.#status;
      await this.#readers;
      await removeQuiet(this.tempDir);
    } finally {
      untrack(this);
    }
  }

  /** Module-unload safety net: SIGKILL and remove the temp dir synchronously. */
  killSync(): void {
    if (this.#exit === null) signalPid(this.pid, "SIGKILL");
    removeSyncQuiet(this.tempDir);
  }

  /** Same as `stop()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  #exitText(): string {
    if (this.#exit === null) return "still running";
    return this.#exit.signal ? `signal ${this.#exit.signal}` : `code ${this.#exit.code}`;
  }

  async #readLines(
    stream: ReadableStream<Uint8Array>,
    onLine: (line: string) => void,
  ): Promise<void> {
    let rest = "";
    try {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        rest += chunk;
        let nl: number;
        while ((nl = rest.indexOf("\n")) >= 0) {
          onLine(rest.slice(0, nl).replace(/\r$/, ""));
          rest = rest.slice(nl + 1);
        }
      }
    } catch {
      // pipe broke: the process is gone
    }
    if (rest !== "") onLine(rest);
  }

  #onLine(line: string): void {
    if (this.#echo) Deno.stderr.writeSync(encoder.encode(line + "\n"));
    const rec = parseLogLine(line);
    this.#lines.push(line);
    this.#records.push(rec);
    if (rec.msg === "listening" && typeof rec.address === "string") {
      const port = portOf(rec.address);
      if (port !== null) {
        if (rec.role === "admin") {
          this.#adminPort = port;
        } else if (rec.role === "router" && typeof rec.shard === "string") {
          this.#routerPorts[rec.shard] = port;
        } else if (
          typeof rec.shard === "string" &&
          (rec.role === "readers" || rec.role === "writer" || rec.role === "split")
        ) {
          const entry: ShardPorts = this.#ports[rec.shard] ?? { readers: 0 };
          entry[rec.role] = port;
          this.#ports[rec.shard] = entry;
        }
      }
    }
    for (const w of this.#waiters) {
      if (safeMatch(w.predicate, rec)) {
        this.#waiters.delete(w);
        w.resolve(rec);
      }
    }
  }
}

function safeMatch(predicate: (line: LogRecord) => boolean, rec: LogRecord): boolean {
  try {
    return predicate(rec);
  } catch {
    return false;
  }
}

/** The port of `host:port` / `[v6]:port`, or null. */
export function portOf(address: string): number | null {
  const m = /:(\d+)$/.exec(address);
  return m ? Number(m[1]) : null;
}

const TEXT_LINE = /^(\S+) (DEBUG|INFO|WARN|ERROR) +(.*)$/;
const FIELD = /^([A-Za-z_][\w.\-]*)=("(?:[^"\\]|\\.)*"|\S*)/;

/**
 * Parses one log line: a JSON object, or a text line
 * `TIME LEVEL msg words k=v k="quoted v"`. Anything else becomes
 * `{ level: "raw", msg: line }` (e.g. a crash trace).
 */
export function parseLogLine(line: string): LogRecord {
  const trimmed = line.trim();
  if (trimmed.startsWith("{")) {
    try {
      const v: unknown = JSON.parse(trimmed);
      if (v !== null && typeof v === "object" && !Array.isArray(v)) return v as LogRecord;
    } catch {
      // not JSON after all
    }
  }
  const m = TEXT_LINE.exec(trimmed);
  if (!m) return { level: "raw", msg: line };
  const rec: LogRecord = { time: m[1], level: m[2].toLowerCase() };
  let rest = m[3];
  const words: string[] = [];
  while (rest !== "") {
    const f = FIELD.exec(rest);
    if (f) {
      let value: string = f[2];
      if (value.startsWith('"')) {
        try {
          value = JSON.parse(value);
        } catch {
          // keep as written
        }
      }
      rec[f[1]] = value;
      rest = rest.slice(f[0].length).trimStart();
      continue;
    }
    const sp = rest.indexOf(" ");
    words.push(sp < 0 ? rest : rest.slice(0, sp));
    rest = sp < 0 ? "" : rest.slice(sp + 1).trimStart();
  }
  rec.msg = words.join(" ");
  return rec;
}

/**
 * Writes `configYaml` to a temp file and runs
 * `deno run --allow-all main.ts run --config FILE --log-format json --log-level debug`
 * from the repo root; resolves once it logged `ready` (or rejects with its
 * last log lines if it exits or times out first, after stopping it).
 */
export async function startShardgate(
  configYaml: string,
  opts: StartShardgateOptions = {},
): Promise<ShardgateProcess> {
  const tempDir = await Deno.makeTempDir({ prefix: "shardgate-test-" });
  const configPath = `${tempDir}/shardgate.yaml`;
  await Deno.writeTextFile(configPath, configYaml);
  const entry = opts.entry ?? `${REPO_ROOT}/main.ts`;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        entry,
        "run",
        "--config",
        configPath,
        "--log-format",
        opts.logFormat ?? "json",
        "--log-level",
        opts.logLevel ?? "debug",
        ...(opts.args ?? []),
      ],
      cwd: REPO_ROOT,
      env: { NO_COLOR: "1", ...opts.env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    await removeQuiet(tempDir);
    throw e;
  }
  const sg = new ShardgateProcess(child, tempDir, configPath, opts.echo ?? false);
  track(sg);
  if (opts.waitReady === false) return sg;
  try {
    await sg.waitForLog(
      (l) => l.msg === "ready",
      opts.readyTimeoutMs ?? SHARDGATE_READY_TIMEOUT_MS,
    );
    return sg;
  } catch (e) {
    await sg.stop();
    throw e;
  }
}

/** Result of {@linkcode runShardgateCli}. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `deno run --allow-all main.ts ...args` to completion (e.g. `check
 * --config FILE`, `--version`) and returns its exit code and output.
 * Killed after `timeoutMs` (default 30 s).
 */
export async function runShardgateCli(
  args: string[],
  opts: { env?: Record<string, string>; entry?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  const ac = new AbortController();
  const timeoutMs = opts.timeoutMs ?? SHARDGATE_READY_TIMEOUT_MS;
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", opts.entry ?? `${REPO_ROOT}/main.ts`, ...args],
      cwd: REPO_ROOT,
      env: { NO_COLOR: "1", ...opts.env },
      stdin: "null",
      signal: ac.signal,
    }).output();
    if (ac.signal.aborted) {
      throw new Error(`shardgate ${args.join(" ")}: still running after ${timeoutMs} ms`);
    }
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}
