/**
 * Shared pieces of the upgrade end-to-end tests: the chain of processes an
 * upgrade leaves (each generation started by the one before, all writing to
 * the first one's pipes), client loads of ioredis and node-redis that time
 * every command, a connect probe that counts refused connections, and an
 * admin probe.
 *
 * @module
 */

import { Redis } from "ioredis";
import { createClient } from "redis";
import { delay, errorText, type ShardgateProcess, waitFor } from "./helpers/mod.ts";

/** True while `pid` runs (a zombie counts as exited). */
export function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat[stat.lastIndexOf(")") + 2] !== "Z";
  } catch {
    return false;
  }
}

/** Open file descriptors of `pid`. */
export function fdCount(pid: number): number {
  return [...Deno.readDirSync(`/proc/${pid}/fd`)].length;
}

/**
 * The processes of one shardgate across upgrades: the first is the test's
 * child; each later one is named by its `ready` line (field `pid`).
 */
export class Generations {
  readonly sg: ShardgateProcess;
  /** Every pid seen, first first. */
  readonly pids: number[];

  constructor(sg: ShardgateProcess) {
    this.sg = sg;
    this.pids = [sg.pid];
  }

  /** The serving process. */
  get current(): number {
    return this.pids[this.pids.length - 1];
  }

  /**
   * SIGUSR2 to the current process; resolves once the new one is ready,
   * the old one logged `upgrade: handed over` and has exited. Returns the
   * old and new pids and how long it took.
   */
  async upgrade(timeoutMs = 20_000): Promise<{ old: number; pid: number; ms: number }> {
    const old = this.current;
    const from = this.sg.logs().length;
    const t0 = performance.now();
    Deno.kill(old, "SIGUSR2");
    const done = await this.sg.waitForLog(
      (l) =>
        l.msg === "upgrade: handed over" ||
        l.msg === "upgrade rolled back; this process keeps serving",
      timeoutMs,
      { from },
    );
    if (done.msg !== "upgrade: handed over") {
      throw new Error(`upgrade of ${old} rolled back: ${done.reason}\n${this.sg.tail()}`);
    }
    const pid = Number(done.pid);
    this.pids.push(pid);
    await waitFor(() => !alive(old), { timeoutMs: 15_000, message: `old process ${old} exits` });
    return { old, pid, ms: performance.now() - t0 };
  }

  /** Stops every generation still running (SIGTERM, SIGKILL after 10 s), then the helper. */
  async stop(): Promise<void> {
    for (const pid of this.pids.slice(1)) {
      if (!alive(pid)) continue;
      try {
        Deno.kill(pid, "SIGTERM");
      } catch {
        // gone
      }
    }
    const deadline = Date.now() + 10_000;
    while (this.pids.slice(1).some(alive) && Date.now() < deadline) await delay(50);
    for (const pid of this.pids.slice(1)) {
      if (!alive(pid)) continue;
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    await this.sg.stop();
  }
}

/** How long stopping a load waits for the commands in flight before closing the clients. */
const LOAD_STOP_MS = 10_000;

/** Waits for `p`, at most `ms`. */
async function settleWithin(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([p, new Promise((r) => timer = setTimeout(r, ms))]);
  clearTimeout(timer);
}

/** Counts of one client library's load. */
export interface ClientLoadStats {
  ok: number;
  failed: number;
  /** Error messages and how often each occurred. */
  errors: Record<string, number>;
  /** Connection errors the clients reported (ECONNREFUSED among them). */
  refused: number;
  /** [end time (performance.now()), latency ms] of every command. */
  samples: [number, number][];
}

/** A running client load. */
export interface ClientLoad {
  readonly stats: ClientLoadStats;
  stop(): Promise<void>;
}

function newStats(): ClientLoadStats {
  return { ok: 0, failed: 0, errors: {}, refused: 0, samples: [] };
}

function loop(
  stats: ClientLoadStats,
  running: { on: boolean },
  op: (i: number) => Promise<unknown>,
): Promise<void> {
  return (async () => {
    for (let i = 0; running.on; i++) {
      const t0 = performance.now();
      try {
        await op(i);
        stats.ok++;
      } catch (e) {
        stats.failed++;
        const m = errorText(e).slice(0, 120);
        stats.errors[m] = (stats.errors[m] ?? 0) + 1;
      }
      const t1 = performance.now();
      stats.samples.push([t1, t1 - t0]);
    }
  })();
}

/**
 * `clients` ioredis clients in their default configuration (reconnect,
 * offline queue, resending unanswered commands), half on `writer` running
 * SET, half on `readers` running GET, each in a loop.
 */
export async function ioredisLoad(
  readers: number,
  writer: number,
  clients: number,
): Promise<ClientLoad> {
  const stats = newStats();
  const running = { on: true };
  const conns: Redis[] = [];
  const loops: Promise<void>[] = [];
  for (let w = 0; w < clients; w++) {
    const toWriter = w % 2 === 0;
    const c = new Redis(toWriter ? writer : readers, "127.0.0.1");
    c.on("error", (e: Error & { code?: string }) => {
      if (e.code === "ECONNREFUSED") stats.refused++;
    });
    conns.push(c);
  }
  await Promise.all(
    conns.map((c) => waitFor(() => c.status === "ready", { message: "ioredis ready" })),
  );
  conns.forEach((c, w) => {
    const key = `up:io:${w}`;
    loops.push(loop(stats, running, (i) => w % 2 === 0 ? c.set(key, String(i)) : c.get(key)));
  });
  return {
    stats,
    stop: async () => {
      running.on = false;
      await settleWithin(Promise.all(loops), LOAD_STOP_MS);
      for (const c of conns) c.disconnect();
    },
  };
}

/** The same with node-redis (`redis` 6) clients, reconnecting (its default strategy). */
export async function nodeRedisLoad(
  readers: number,
  writer: number,
  clients: number,
): Promise<ClientLoad> {
  const stats = newStats();
  const running = { on: true };
  const conns: ReturnType<typeof createClient>[] = [];
  const loops: Promise<void>[] = [];
  for (let w = 0; w < clients; w++) {
    const c = createClient({ socket: { host: "127.0.0.1", port: w % 2 === 0 ? writer : readers } });
    c.on("error", (e: Error & { code?: string }) => {
      if (e.code === "ECONNREFUSED") stats.refused++;
    });
    conns.push(c as ReturnType<typeof createClient>);
  }
  await Promise.all(conns.map((c) => c.connect()));
  conns.forEach((c, w) => {
    const key = `up:nr:${w}`;
    loops.push(loop(stats, running, (i) => w % 2 === 0 ? c.set(key, String(i)) : c.get(key)));
  });
  return {
    stats,
    stop: async () => {
      running.on = false;
      await settleWithin(Promise.all(loops), LOAD_STOP_MS);
      for (const c of conns) {
        try {
          c.destroy();
        } catch {
          // closed
        }
      }
    },
  };
}

/** Opens (and closes) a new TCP connection to each port in turn, counting refusals. */
export function connectProbe(ports: readonly number[]): {
  readonly counts: { connects: number; refused: number; errors: string[] };
  stop(): Promise<void>;
} {
  const counts = { connects: 0, refused: 0, errors: [] as string[] };
  const running = { on: true };
  const done = (async () => {
    while (running.on) {
      for (const port of ports) {
        try {
          const c = await Deno.connect({ hostname: "127.0.0.1", port });
          counts.connects++;
          c.close();
        } catch (e) {
          counts.refused++;
          counts.errors.push(errorText(e));
        }
      }
      await delay(5);
    }
  })();
  return {
    counts,
    stop: async () => {
      running.on = false;
      await done;
    },
  };
}

/** Fetches `/readyz`, `/metrics` and the status page in turn, counting answers other than 200. */
export function adminProbe(port: number): {
  readonly counts: { ok: number; bad: number; errors: string[] };
  stop(): Promise<void>;
} {
  const counts = { ok: 0, bad: 0, errors: [] as string[] };
  const running = { on: true };
  const done = (async () => {
    const paths = ["/readyz", "/metrics", "/", "/status"];
    for (let i = 0; running.on; i++) {
      const path = paths[i % paths.length];
      try {
        const r = await fetch(`http://127.0.0.1:${port}${path}`, {
          signal: AbortSignal.timeout(5_000),
        });
        await r.arrayBuffer();
        if (r.status === 200) counts.ok++;
        else {
          counts.bad++;
          counts.errors.push(`${path}: ${r.status}`);
        }
      } catch (e) {
        counts.bad++;
        counts.errors.push(`${path}: ${errorText(e)}`);
      }
      await delay(20);
    }
  })();
  return {
    counts,
    stop: async () => {
      running.on = false;
      await done;
    },
  };
}

/** p99 and max latency of the samples that ended inside one of `windows` ([start, end] ms). */
export function windowLatency(
  samples: readonly [number, number][],
  windows: readonly [number, number][],
): { count: number; p99: number; max: number } {
  const lat = samples
    .filter(([t]) => windows.some(([a, b]) => t >= a && t <= b))
    .map(([, ms]) => ms)
    .sort((a, b) => a - b);
  if (lat.length === 0) return { count: 0, p99: 0, max: 0 };
  return {
    count: lat.length,
    p99: lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))],
    max: lat[lat.length - 1],
  };
}
