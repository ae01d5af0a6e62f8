/**
 * The running program: one proxy {@link Shard} per configured shard, wired
 * to its health checker. `main.ts` builds it from the command line; tests
 * build it in-process from a config.
 *
 * @module
 */

import type { Config, ShardConfig } from "./config/mod.ts";
import { Shard } from "./proxy/mod.ts";
import type { Logger } from "./telemetry/logger.ts";

/** A started listener, as logged in the `listening` line. */
export interface ListeningAddress {
  readonly shard: string;
  readonly role: "readers" | "writer" | "admin";
  readonly host: string;
  readonly port: number;
}

/** One shard and the parts that serve it. */
interface ShardUnit {
  config: ShardConfig;
  shard: Shard;
}

/** shardgate running in this process. */
export class App {
  #config: Config;
  #logger: Logger;
  #units = new Map<string, ShardUnit>();

  /** Creates the app for a validated config (nothing runs until {@link start}). */
  constructor(config: Config, logger: Logger) {
    this.#config = config;
    this.#logger = logger;
  }

  /** The running config. */
  get config(): Config {
    return this.#config;
  }

  /** The proxy shard called `name`. */
  shard(name: string): Shard | undefined {
    return this.#units.get(name)?.shard;
  }

  /** Starts every shard; throws (after closing what started) if one cannot listen. */
  async start(): Promise<ListeningAddress[]> {
    try {
      for (const sc of this.#config.shards) await this.#startShard(sc);
    } catch (err) {
      await this.close(0);
      throw err;
    }
    return this.listening();
  }

  async #startShard(config: ShardConfig): Promise<void> {
    const shard = new Shard(config, { logger: this.#logger });
    const unit: ShardUnit = { config, shard };
    this.#units.set(config.name, unit);
    await Promise.resolve();
    shard.start();
  }

  /** Every bound address. */
  listening(): ListeningAddress[] {
    const out: ListeningAddress[] = [];
    for (const u of this.#units.values()) {
      for (const b of u.shard.bound()) out.push({ shard: u.config.name, ...b });
    }
    return out;
  }

  /** Drains clients (bounded by `drainMs`) and stops everything. */
  async close(drainMs?: number): Promise<void> {
    const units = [...this.#units.values()];
    this.#units.clear();
    await Promise.all(units.map((u) => u.shard.close(drainMs)));
  }
}
