/**
 * Test helpers of the health folder: shard configs, a capturing logger and a
 * fake clock. Real redis-server processes, replica sets, free ports and
 * condition waits come from the shared harness in `tests/helpers/mod.ts`.
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
import { Logger } from "../telemetry/logger.ts";

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
    split: null,
    nodes,
    balance: "round-robin",
    fallback: "primary",
    connectionsPerNode: 2,
    maxClients: 100,
    retries: 2,
    timeouts: {
      connectMs: 1000,
      serverMs: 2000,
      writerMs: 0,
      failoverMs: 10_000,
      clientIdleMs: 0,
      drainMs: 1000,
    },
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
    hedge: { enabled: false, percentile: 99, minDelayMs: 5, maxDelayMs: 50, budgetPercent: 5 },
    cache: { enabled: false, maxKeys: 1, maxBytes: 1024, minReads: 1, maxAgeMs: 1000 },
    auth: o.auth ?? null,
    tls: null,
    clientPassword: null,
    allowRemote: false,
    dnsRefreshMs: 0,
    consistency: "eventual",
    consistencyWaitMs: 20,
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

/** Runs `wait` (e.g. a `waitFor`) and returns how many ms it took. */
export async function elapsedMs(wait: () => Promise<unknown>): Promise<number> {
  const t0 = Date.now();
  await wait();
  return Date.now() - t0;
}

/** The node config of a process listening on 127.0.0.1:`port`. */
export function nodeOf(p: { readonly port: number }): NodeConfig {
  return localNode(p.port);
}
