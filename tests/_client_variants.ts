/**
 * Real client libraries in their default configuration and the common
 * variants, behind one small interface, so a test can run the same
 * scenario through each the way applications connect: node-redis 6 (no
 * options: HELLO 3; `RESP: 2`: HELLO 2; `RESP: 3`; a name: HELLO SETNAME),
 * ioredis 6 (default: HELLO 3, CLIENT SETINFO and an INFO ready check; a
 * connection name: CLIENT SETNAME; `db: 2`: SELECT 2) and `redis-cli -3`.
 *
 * @module
 */

import { Redis } from "ioredis";
import { createClient } from "redis";
import { errorText } from "./helpers/mod.ts";

/** A connected client, whatever the library. */
export interface Driver {
  /** GET `key`. */
  get(key: string): Promise<string | null>;
  /** HGETALL `key`, as the library gives it (fields and values as strings). */
  hgetall(key: string): Promise<Record<string, string>>;
  /** True while the connection is usable. */
  readonly open: boolean;
  /** Subscribes; `onMessage` gets every message of `channel`. */
  subscribe(channel: string, onMessage: (m: string) => void): Promise<void>;
  /** Closes it. */
  close(): Promise<void>;
}

/** One way applications connect. */
export interface Variant {
  /** Name in test output. */
  readonly name: string;
  /** Node connection pool it uses: `proto/db`. */
  readonly pool: string;
  /** Connects to 127.0.0.1:`port`. */
  connect(port: number): Promise<Driver>;
}

function nodeRedis(opts: { RESP?: 2 | 3; name?: string }): (port: number) => Promise<Driver> {
  return async (port) => {
    const c = createClient({ socket: { host: "127.0.0.1", port }, ...opts });
    c.on("error", () => {});
    await c.connect();
    return {
      get: (k) => c.get(k) as Promise<string | null>,
      hgetall: async (k) => ({ ...(await c.hGetAll(k)) }) as Record<string, string>,
      get open() {
        return c.isReady;
      },
      subscribe: (ch, fn) => c.subscribe(ch, (m: string) => fn(m)),
      close: () => {
        if (c.isOpen) c.destroy();
        return Promise.resolve();
      },
    };
  };
}

function ioredis(
  opts: { connectionName?: string; db?: number },
): (port: number) => Promise<Driver> {
  return async (port) => {
    const c = new Redis({ host: "127.0.0.1", port, lazyConnect: true, ...opts });
    c.on("error", () => {});
    await c.connect();
    return {
      get: (k) => c.get(k),
      hgetall: (k) => c.hgetall(k),
      get open() {
        return c.status === "ready";
      },
      subscribe: async (ch, fn) => {
        c.on("message", (chan: string, m: string) => {
          if (chan === ch) fn(m);
        });
        await c.subscribe(ch);
      },
      close: () => {
        c.disconnect();
        return Promise.resolve();
      },
    };
  };
}

/** The library variants (redis-cli is separate: it is a process, see {@link RedisCli}). */
export const VARIANTS: readonly Variant[] = [
  // node-redis 6 says HELLO 3 unless told RESP: 2.
  { name: "node-redis", pool: "3/0", connect: nodeRedis({}) },
  { name: "node-redis RESP2", pool: "2/0", connect: nodeRedis({ RESP: 2 }) },
  { name: "node-redis RESP3", pool: "3/0", connect: nodeRedis({ RESP: 3 }) },
  { name: "node-redis name", pool: "3/0", connect: nodeRedis({ name: "app-1" }) },
  { name: "ioredis", pool: "3/0", connect: ioredis({}) },
  { name: "ioredis connectionName", pool: "3/0", connect: ioredis({ connectionName: "app-2" }) },
  { name: "ioredis db 2", pool: "3/2", connect: ioredis({ db: 2 }) },
];

/** Per-variant counts of a read loop. */
export interface ReadStats {
  ok: number;
  failed: number;
  nil: number;
  errors: string[];
}

/** `clients` clients of every variant, each reading in a loop until stopped. */
export class ReadLoops {
  #stopping = false;
  #workers: Promise<void>[] = [];
  /** Counts by variant name. */
  readonly stats = new Map<string, ReadStats>();

  /**
   * Starts the loops; `key(i)` is the i-th key a client reads, `want(key)`
   * its value (a different or missing one counts as nil/failed).
   */
  static async start(
    port: number,
    clients: number,
    key: (i: number) => string,
    want: (key: string) => string,
    variants: readonly Variant[] = VARIANTS,
  ): Promise<ReadLoops> {
    const loops = new ReadLoops();
    const drivers = await Promise.all(
      variants.flatMap((v) =>
        Array.from({ length: clients }, async () => ({ v, d: await v.connect(port) }))
      ),
    );
    for (const v of variants) loops.stats.set(v.name, { ok: 0, failed: 0, nil: 0, errors: [] });
    for (const { v, d } of drivers) loops.#workers.push(loops.#run(v, d, key, want));
    return loops;
  }

  async #run(
    v: Variant,
    d: Driver,
    key: (i: number) => string,
    want: (key: string) => string,
  ): Promise<void> {
    const s = this.stats.get(v.name)!;
    for (let i = 0; !this.#stopping; i++) {
      const k = key(i);
      try {
        const got = await d.get(k);
        if (got === want(k)) s.ok++;
        else {
          s.nil++;
          if (s.errors.length < 5) s.errors.push(`${k}: ${got}`);
        }
      } catch (e) {
        if (this.#stopping) break;
        s.failed++;
        if (s.errors.length < 5) s.errors.push(errorText(e));
      }
    }
    await d.close();
  }

  /** Total successful reads. */
  get ok(): number {
    let n = 0;
    for (const s of this.stats.values()) n += s.ok;
    return n;
  }

  /** Stops every loop and closes the clients. */
  async stop(): Promise<Map<string, ReadStats>> {
    this.#stopping = true;
    await Promise.all(this.#workers);
    return this.stats;
  }

  /** Same as `stop()`, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

const td = new TextDecoder();

/** `redis-cli -3` reading a key over and over on one connection (`-r`/`-i`). */
export class RedisCli {
  #child: Deno.ChildProcess;
  #out: Promise<Deno.CommandOutput>;

  /** Starts `redis-cli -3 -p port -r <n> -i <s> args…`. */
  constructor(port: number, args: string[], repeat = 1_000_000, intervalS = 0.002) {
    this.#child = new Deno.Command("redis-cli", {
      args: ["-3", "-p", String(port), "-r", String(repeat), "-i", String(intervalS), ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#out = this.#child.output();
  }

  /** Stops it and returns its output lines. */
  async stop(): Promise<string[]> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // exited
    }
    const out = await this.#out;
    return td.decode(out.stdout).split("\n").filter((l) => l !== "");
  }

  /** Same as `stop()`, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/**
 * Connections the proxy holds to a node, from the node's `CLIENT LIST`: all
 * but replication links (flags M, S) and the asking `redis-cli` itself.
 */
export function proxyConnections(clientList: string): number {
  return clientList.split("\n").filter((l) =>
    l.trim() !== "" && !/ flags=\S*[MS]/.test(l) && !/ cmd=client\|list/.test(l)
  ).length;
}
