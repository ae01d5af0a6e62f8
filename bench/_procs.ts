/**
 * Child processes and system facts for the benchmark: a supervisor that
 * kills everything it started, free ports, readiness polling, binaries on
 * PATH and /proc readers (RSS, a process's TCP connections).
 *
 * @module
 */

/** Bytes of a child's output kept for error messages. */
export const OUTPUT_TAIL_BYTES = 8 * 1024;
/** Grace period between SIGTERM and SIGKILL when stopping a child. */
export const KILL_GRACE_MS = 3_000;
/** Poll interval of {@link waitFor}. */
export const POLL_INTERVAL_MS = 50;

const decoder = new TextDecoder();

/** A running child process. */
export interface Managed {
  readonly name: string;
  readonly pid: number;
  readonly child: Deno.ChildProcess;
  /** Resolves when the process exits. */
  readonly status: Promise<Deno.CommandStatus>;
  /** True once the process has exited. */
  exited(): boolean;
  /** The last {@link OUTPUT_TAIL_BYTES} of its stdout and stderr, interleaved. */
  tail(): string;
  /** All of its stdout when spawned with `captureStdout`, else "". */
  stdout(): string;
}

/** Options of {@link Supervisor.spawn}. */
export interface SpawnOptions {
  readonly cwd?: string;
  /** Extra environment variables (the rest is inherited). */
  readonly env?: Record<string, string>;
  /** Called with each complete line the child writes to stderr. */
  readonly onStderrLine?: (line: string) => void;
  /** Keep stdout separately and return it in full (for short-lived tools). */
  readonly captureStdout?: boolean;
  readonly signal?: AbortSignal;
}

/** Result of {@link Supervisor.run}. */
export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly tail: string;
}

/** Starts child processes and stops every one of them on {@link Supervisor.stopAll}. */
export class Supervisor {
  #running = new Set<Managed>();

  /** Starts `cmd args`, draining its output so it never blocks on a full pipe. */
  spawn(name: string, cmd: string, args: readonly string[], opts: SpawnOptions = {}): Managed {
    const child = new Deno.Command(cmd, {
      args: [...args],
      cwd: opts.cwd,
      env: opts.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: opts.signal,
    }).spawn();
    let tail = "";
    const keep = (text: string) => {
      tail = (tail + text).slice(-OUTPUT_TAIL_BYTES);
    };
    let stdoutAll = "";
    const drain = async (stream: ReadableStream<Uint8Array>, isErr: boolean) => {
      let pending = "";
      for await (const chunk of stream) {
        const text = decoder.decode(chunk, { stream: true });
        keep(text);
        if (!isErr && opts.captureStdout) stdoutAll += text;
        if (isErr && opts.onStderrLine) {
          pending += text;
          let nl: number;
          while ((nl = pending.indexOf("\n")) >= 0) {
            opts.onStderrLine(pending.slice(0, nl));
            pending = pending.slice(nl + 1);
          }
        }
      }
      if (isErr && opts.onStderrLine && pending !== "") opts.onStderrLine(pending);
    };
    const drained = Promise.all([drain(child.stdout, false), drain(child.stderr, true)]);
    let done = false;
    const status = child.status.then(async (s) => {
      await drained.catch(() => {});
      done = true;
      this.#running.delete(managed);
      return s;
    });
    const managed: Managed = {
      name,
      pid: child.pid,
      child,
      status,
      exited: () => done,
      tail: () => tail,
      stdout: () => stdoutAll,
    };
    this.#running.add(managed);
    return managed;
  }

  /** Runs a short-lived command to completion, killing it at `timeoutMs`. */
  async run(
    name: string,
    cmd: string,
    args: readonly string[],
    timeoutMs: number,
  ): Promise<RunResult> {
    const m = this.spawn(name, cmd, args, { captureStdout: true });
    const timer = setTimeout(() => this.#signal(m, "SIGKILL"), timeoutMs);
    try {
      const s = await m.status;
      if (s.signal !== null && !s.success) {
        return { code: -1, stdout: m.stdout(), tail: `killed by ${s.signal}\n${m.tail()}` };
      }
      return { code: s.code, stdout: m.stdout(), tail: m.tail() };
    } finally {
      clearTimeout(timer);
    }
  }

  #signal(m: Managed, sig: Deno.Signal): void {
    if (m.exited()) return;
    try {
      m.child.kill(sig);
    } catch {
      // already gone
    }
  }

  /** Stops one process: SIGTERM, then SIGKILL after {@link KILL_GRACE_MS}. */
  async stop(m: Managed): Promise<void> {
    if (m.exited()) return;
    this.#signal(m, "SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, KILL_GRACE_MS);
    });
    await Promise.race([m.status.then(() => {}), grace]);
    clearTimeout(timer);
    if (!m.exited()) {
      this.#signal(m, "SIGKILL");
      await m.status;
    }
  }

  /** Stops every process still running, newest first. */
  async stopAll(): Promise<void> {
    const all = [...this.#running].reverse();
    await Promise.all(all.map((m) => this.stop(m)));
  }

  /** Number of processes still running. */
  get size(): number {
    return this.#running.size;
  }
}

/** Ports this run already handed out; the kernel may offer a just-closed port again. */
const handedOut = new Set<number>();

/** A free TCP port on 127.0.0.1 (bound, read and released), never one handed out before. */
export function freePort(host = "127.0.0.1"): number {
  const held: Deno.Listener[] = [];
  try {
    for (;;) {
      const l = Deno.listen({ hostname: host, port: 0 });
      held.push(l);
      const port = (l.addr as Deno.NetAddr).port;
      if (handedOut.has(port)) continue;
      handedOut.add(port);
      return port;
    }
  } finally {
    for (const l of held) l.close();
  }
}

/** Polls `check` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, POLL_INTERVAL_MS));
  }
  const why = last instanceof Error ? `: ${last.message}` : "";
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
}

/** Finds an executable by name on PATH, then in /usr/sbin and /sbin; null if absent. */
export function findBinary(name: string): string | null {
  const dirs = [...(Deno.env.get("PATH") ?? "").split(":"), "/usr/sbin", "/sbin"];
  for (const dir of dirs) {
    if (dir === "") continue;
    const path = `${dir}/${name}`;
    try {
      const st = Deno.statSync(path);
      if (st.isFile && st.mode !== null && (st.mode & 0o111) !== 0) return path;
    } catch {
      // not here
    }
  }
  return null;
}

/** VmRSS of a process in KiB, from /proc/<pid>/status. */
export function rssKb(pid: number): number {
  const text = Deno.readTextFileSync(`/proc/${pid}/status`);
  return parseVmRss(text);
}

/** Extracts VmRSS (KiB) from the text of /proc/<pid>/status. */
export function parseVmRss(statusText: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(statusText);
  if (m === null) throw new Error("no VmRSS in /proc status");
  return Number(m[1]);
}

/** One row of /proc/net/tcp{,6}. */
export interface TcpRow {
  readonly localPort: number;
  readonly remotePort: number;
  /** Kernel state code; "01" is ESTABLISHED. */
  readonly state: string;
  readonly inode: string;
}

/** Parses /proc/net/tcp or /proc/net/tcp6 text. */
export function parseProcNetTcp(text: string): TcpRow[] {
  const rows: TcpRow[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const port = (addr: string) => parseInt(addr.slice(addr.lastIndexOf(":") + 1), 16);
    rows.push({ localPort: port(f[1]), remotePort: port(f[2]), state: f[3], inode: f[9] });
  }
  return rows;
}

/**
 * Local ports of the ESTABLISHED TCP connections that process `pid` holds to
 * `remotePort` (matched through the socket inodes of /proc/<pid>/fd).
 */
export async function connectionsTo(pid: number, remotePort: number): Promise<number[]> {
  const inodes = new Set<string>();
  for await (const e of Deno.readDir(`/proc/${pid}/fd`)) {
    try {
      const link = await Deno.readLink(`/proc/${pid}/fd/${e.name}`);
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m !== null) inodes.add(m[1]);
    } catch {
      // fd closed meanwhile
    }
  }
  const rows: TcpRow[] = [];
  for (const f of ["tcp", "tcp6"]) {
    try {
      rows.push(...parseProcNetTcp(await Deno.readTextFile(`/proc/${pid}/net/${f}`)));
    } catch {
      // no IPv6
    }
  }
  return rows.filter((r) => r.state === "01" && r.remotePort === remotePort && inodes.has(r.inode))
    .map((r) => r.localPort);
}
