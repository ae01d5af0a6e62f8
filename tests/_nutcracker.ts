/**
 * Debian's nutcracker (twemproxy) for the router tests: a pool's YAML over
 * real redis-servers, and a run of nutcracker that is stopped (and its temp
 * directory removed) also when the test fails or nutcracker exits early.
 *
 * @module
 */

import { existsSync } from "node:fs";
import { freePort, ping, type RedisProcess, waitFor, withTimeout } from "./helpers/mod.ts";

/** Debian installs it in /usr/sbin, not on every PATH; NUTCRACKER overrides. */
export const NUTCRACKER: string = Deno.env.get("NUTCRACKER") ??
  (existsSync("/usr/sbin/nutcracker") ? "/usr/sbin/nutcracker" : "nutcracker");

const NUTCRACKER_READY_MS = 10_000;
const NUTCRACKER_STOP_MS = 5_000;

/** A ketama ring over the test's servers, as both nutcracker and shardgate configure it. */
export interface NutcrackerRing {
  readonly hash: string;
  /** Per-server weights; default 1 each. */
  readonly weights?: readonly number[];
  /** Per-server names; default twemproxy's (`host:port`). */
  readonly names?: readonly string[];
  readonly hashTag?: string;
}

/** nutcracker's pool `pool<db>` over `servers` on `listen`, using database `db`. */
export function nutcrackerPool(
  ring: NutcrackerRing,
  servers: readonly RedisProcess[],
  listen: number,
  db = 0,
): string {
  return [
    `pool${db}:`,
    `  listen: 127.0.0.1:${listen}`,
    `  redis: true`,
    `  redis_db: ${db}`,
    `  distribution: ketama`,
    `  hash: ${ring.hash}`,
    ...(ring.hashTag === undefined ? [] : [`  hash_tag: "${ring.hashTag}"`]),
    `  servers:`,
    ...servers.map((s, i) => {
      const name = ring.names === undefined ? "" : ` ${ring.names[i]}`;
      return `    - 127.0.0.1:${s.port}:${ring.weights?.[i] ?? 1}${name}`;
    }),
    "",
  ].join("\n");
}

/**
 * Runs nutcracker on `configText` until `fn` settles, once every pool on
 * `ports` answers PING; an early exit fails with nutcracker's log.
 */
export async function withNutcracker<T>(
  configText: string,
  ports: readonly number[],
  fn: () => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "shardgate-nutcracker-" });
  const conf = `${dir}/nutcracker.yml`;
  await Deno.writeTextFile(conf, configText);
  const child = new Deno.Command(NUTCRACKER, {
    args: ["-c", conf, "-o", `${dir}/nutcracker.log`, "-s", String(await freePort())],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  try {
    await waitFor(async () => {
      if (exited) throw new Error(await Deno.readTextFile(`${dir}/nutcracker.log`));
      for (const port of ports) if (!(await ping(port))) return false;
      return true;
    }, { timeoutMs: NUTCRACKER_READY_MS, message: "nutcracker's pools to answer PING" });
    return await fn();
  } finally {
    if (!exited) child.kill("SIGTERM");
    await withTimeout(status, NUTCRACKER_STOP_MS, "nutcracker exit").catch(() => {
      if (!exited) child.kill("SIGKILL");
      return status;
    });
    await Deno.remove(dir, { recursive: true });
  }
}
