/**
 * A primary with N replicas, each a real `redis-server` (see `startRedis`).
 *
 * @module
 */

import { REDIS_START_TIMEOUT_MS, REPLICA_SYNC_TIMEOUT_MS } from "./_defaults.ts";
import { type RedisProcess, startRedis } from "./redis_process.ts";
import { waitFor } from "./wait.ts";

/** Options of {@linkcode startReplicaSet}. */
export interface ReplicaSetOptions {
  /** Number of replicas; default 2. */
  replicas?: number;
  /** Extra arguments for every node. */
  args?: string[];
  /** Extra arguments for the primary only (after `args`). */
  primaryArgs?: string[];
  /** Extra arguments for the replicas only (after `args`). */
  replicaArgs?: string[];
  /** Deadline for every replica to report `master_link_status:up`; default 20 s. */
  timeoutMs?: number;
}

/** A primary and its replicas. */
export class ReplicaSet {
  #primary: RedisProcess;
  #replicas: RedisProcess[];
  #stopping: Promise<void> | null = null;

  /** Use {@linkcode startReplicaSet}. */
  constructor(primary: RedisProcess, replicas: RedisProcess[]) {
    this.#primary = primary;
    this.#replicas = replicas;
  }

  /** The current primary (changes after `failover()`). */
  get primary(): RedisProcess {
    return this.#primary;
  }

  /** The current replicas. */
  get replicas(): readonly RedisProcess[] {
    return this.#replicas;
  }

  /** Every node, primary first. */
  get nodes(): readonly RedisProcess[] {
    return [this.#primary, ...this.#replicas];
  }

  /** The node addresses (`127.0.0.1:port`), primary first, for a shardgate config. */
  get addresses(): string[] {
    return this.nodes.map((n) => n.address);
  }

  /**
   * Waits until every replica that is running and not paused reports
   * `master_link_status:up` and has caught up with the primary's replication
   * offset as of this call. Throws at the deadline (default 20 s).
   */
  async waitSynced(timeoutMs = REPLICA_SYNC_TIMEOUT_MS): Promise<void> {
    const target = Number((await this.#primary.info()).master_repl_offset ?? "0");
    const live = this.#replicas.filter((r) => r.running && !r.paused);
    await waitFor(
      async () => {
        for (const r of live) {
          const info = await r.info();
          if (info.master_link_status !== "up") return false;
          if (Number(info.slave_repl_offset ?? "-1") < target) return false;
        }
        return true;
      },
      {
        timeoutMs,
        message: `replicas ${
          live.map((r) => r.port).join(",")
        } in sync with primary ${this.#primary.port} at offset ${target}`,
      },
    );
  }

  /**
   * Promotes `next` (one of the replicas): `REPLICAOF NO ONE` on it, then every
   * other running node (the old primary included) replicates from it. The
   * roles are remembered for later restarts.
   */
  async failover(next: RedisProcess): Promise<void> {
    const i = this.#replicas.indexOf(next);
    if (i < 0) throw new Error(`failover: port ${next.port} is not a replica of this set`);
    await next.replicaOf(null);
    const others = [this.#primary, ...this.#replicas.filter((r) => r !== next)];
    for (const n of others) {
      if (n.running && !n.paused) await n.replicaOf(next.port);
    }
    this.#replicas = others;
    this.#primary = next;
  }

  /** Stops every node and removes their temp dirs; idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= Promise.allSettled(this.nodes.map((n) => n.stop())).then((results) => {
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed.length > 0) {
        throw new AggregateError(failed.map((f) => f.reason), "ReplicaSet.stop");
      }
    });
    return this.#stopping;
  }

  /** Same as `stop()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

/**
 * Starts a primary and `replicas` replicas (`--replicaof 127.0.0.1 <primary>`)
 * and resolves when each replica reports `master_link_status:up`. On failure
 * every node started so far is stopped.
 */
export async function startReplicaSet(opts: ReplicaSetOptions = {}): Promise<ReplicaSet> {
  const count = opts.replicas ?? 2;
  const started: RedisProcess[] = [];
  try {
    const primary = await startRedis({ args: [...(opts.args ?? []), ...(opts.primaryArgs ?? [])] });
    started.push(primary);
    const results = await Promise.allSettled(
      Array.from({ length: count }, () =>
        startRedis({
          args: [
            ...(opts.args ?? []),
            ...(opts.replicaArgs ?? []),
            "--replicaof",
            "127.0.0.1",
            String(primary.port),
          ],
          timeoutMs: REDIS_START_TIMEOUT_MS,
        })),
    );
    for (const r of results) if (r.status === "fulfilled") started.push(r.value);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
    const set = new ReplicaSet(primary, started.slice(1));
    await waitFor(
      async () => {
        for (const r of set.replicas) {
          if ((await r.info()).master_link_status !== "up") return false;
        }
        return true;
      },
      {
        timeoutMs: opts.timeoutMs ?? REPLICA_SYNC_TIMEOUT_MS,
        message: "every replica's master_link_status:up",
      },
    );
    return set;
  } catch (e) {
    await Promise.allSettled(started.map((n) => n.stop()));
    throw e;
  }
}
