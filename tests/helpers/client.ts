/**
 * Clients of the official Node `redis` package (v6), as an application would
 * use them, pointed at a loopback port (a redis-server or a shardgate
 * listener).
 *
 * @module
 */

import { createClient } from "redis";
import { CLIENT_CONNECT_TIMEOUT_MS } from "./_defaults.ts";

/** A connected `redis` client (RESP2 and RESP3 share this type in tests). */
export type TestClient = ReturnType<typeof createClient>;

/** Options of {@linkcode redisClient}. */
export interface RedisClientOptions {
  /** Protocol version; default 2 (node-redis 6 itself defaults to 3: HELLO 3). */
  resp?: 2 | 3;
  /** AUTH username. */
  username?: string;
  /** AUTH password. */
  password?: string;
  /** Connect timeout; default 5 s. */
  connectTimeoutMs?: number;
  /** Reconnect after the connection breaks (default false: a broken connection stays closed). */
  reconnect?: boolean;
  /**
   * Receives the client's `error` events. A listener is always attached (an
   * unhandled `error` event would crash the test); the default ignores them,
   * since the failing command rejects anyway.
   */
  onError?: (error: Error) => void;
}

/**
 * A connected client of the npm `redis` package for 127.0.0.1:`port`, with
 * reconnects off. Close it with `closeClient` (or use `withClients`).
 */
export async function redisClient(
  port: number,
  opts: RedisClientOptions = {},
): Promise<TestClient> {
  const client = createClient({
    socket: {
      host: "127.0.0.1",
      port,
      connectTimeout: opts.connectTimeoutMs ?? CLIENT_CONNECT_TIMEOUT_MS,
      reconnectStrategy: opts.reconnect ? undefined : false,
    },
    RESP: opts.resp ?? 2,
    username: opts.username,
    password: opts.password,
  }) as TestClient;
  client.on("error", opts.onError ?? (() => {}));
  try {
    await client.connect();
  } catch (e) {
    closeClient(client);
    throw e;
  }
  return client;
}

/** Closes `client` right away (pending commands reject); safe to call twice. */
export function closeClient(client: TestClient): void {
  try {
    if (client.isOpen) client.destroy();
  } catch {
    // already closed
  }
}

/**
 * Connects `n` clients to `port`, runs `fn` with them and closes them all
 * afterwards, also when `fn` throws.
 */
export async function withClients<T>(
  n: number,
  port: number,
  fn: (clients: TestClient[]) => Promise<T>,
  opts: RedisClientOptions = {},
): Promise<T> {
  const results = await Promise.allSettled(
    Array.from({ length: n }, () => redisClient(port, opts)),
  );
  const clients = results.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
  try {
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
    return await fn(clients);
  } finally {
    for (const c of clients) closeClient(c);
  }
}
