/**
 * What the admin port reads: snapshots the running program hands out on
 * each request (app.ts implements {@link AdminSource}). The admin port
 * never changes anything through it.
 *
 * @module
 */

import type { CacheStats } from "../cache/mod.ts";
import type { Routes, ShardConfig } from "../config/types.ts";
import type { NodeSnapshot } from "../health/mod.ts";
import type { GateCounters, ShardCounters, ShardStats, ZoneSnapshot } from "../proxy/mod.ts";
import type { CommandStats } from "../telemetry/mod.ts";
import type { HistoryDoc } from "./history.ts";

/** How the last reload went. */
export interface LastReload {
  /** When it finished, epoch ms. */
  readonly at: number;
  /** Applied (a valid config) or rejected. */
  readonly ok: boolean;
  /** The change summary of an applied reload, else null. */
  readonly summary: string | null;
  /** The errors of a rejected reload (`file:line:col: path: message`), else empty. */
  readonly errors: readonly string[];
}

/** Reload counters and the last outcome. */
export interface ReloadSnapshot {
  /** Reloads applied. */
  readonly applied: number;
  /** Reloads rejected. */
  readonly rejected: number;
  /** When the running config was loaded (start, or the last applied reload), epoch ms. */
  readonly lastSuccessAt: number;
  /** The last reload, or null when there was none. */
  readonly last: LastReload | null;
}

/** A bound listener. */
export interface ListenerInfo {
  /** readers or writer. */
  readonly role: string;
  readonly host: string;
  readonly port: number;
}

/** One shard as the admin port sees it. */
export interface ShardSource {
  readonly name: string;
  /** Its current config (never shown whole: it may hold secrets). */
  readonly config: ShardConfig;
  /** The routes the proxy follows now. */
  readonly routes: Routes;
  /**
   * Whether the readers port has a node for reads now (a serving replica or
   * the fallback); absent: judged from {@link routes} alone. Differs from
   * the routes when a failover's claimants have held longer than
   * `timeouts.failover` and reads are refused.
   */
  readonly hasReadTarget?: boolean;
  /** Its bound listeners. */
  readonly listeners: readonly ListenerInfo[];
  /** Health of each node, in config order. */
  readonly nodes: readonly NodeSnapshot[];
  /** Sessions and node connections now. */
  readonly stats: ShardStats;
  /** Data path counters. */
  readonly counters: Readonly<ShardCounters>;
  /** Read-your-writes counters (`consistency:`), when the shard has a gate. */
  readonly consistency?: Readonly<GateCounters>;
  /** Per-command counters. */
  readonly commands: CommandStats;
  /** Fault injection rules that can hit a node of the shard (0 in normal operation). */
  readonly faultRules: number;
  /** The sidecar's zone, each node's zone and reads by locality (absent: not tracked). */
  readonly zones?: ZoneSnapshot;
  /** The near cache's figures, or null/absent when `cache:` is off. */
  readonly cache?: CacheStats | null;
}

/** One router port as the admin port sees it. */
export interface RouterSource {
  readonly name: string;
  /** Its bound address, or null. */
  readonly listener: ListenerInfo | null;
  /** `ketama` or `slots`. */
  readonly distribution: string;
  /** The key hash of a ketama ring. */
  readonly hash: string;
  /** The shards it spans, in ring order. */
  readonly shards: readonly string[];
  /** Client sessions now. */
  readonly sessions: { readonly resp2: number; readonly resp3: number; readonly pinned: number };
}

/** The running program, as the admin port reads it. */
export interface AdminSource {
  /** shardgate version. */
  readonly version: string;
  /** Process start, epoch ms. */
  readonly startedAt: number;
  /** The config file path. */
  configFile(): string;
  /** True once shutdown started (not ready any more). */
  stopping(): boolean;
  /** Reload counters. */
  reloads(): ReloadSnapshot;
  /** Every shard, in config order. */
  shards(): readonly ShardSource[];
  /** Every router port, in config order (absent: none). */
  routers?(): readonly RouterSource[];
  /** The last minutes of every shard and node (absent: no history kept). */
  history?(): HistoryDoc;
}
