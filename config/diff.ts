/**
 * What changed between two valid configs. Hot reload applies the result:
 * new shards start listening, removed ones drain, changed ones update in
 * place (listeners move, nodes join or leave, weights and settings change).
 * Shards are matched by name and nodes by id; order does not matter.
 *
 * @module
 */

import type { Address, Config, NodeConfig, ShardConfig, ShardSettings } from "./types.ts";
import { formatDuration } from "./duration.ts";

/** How one shard that exists in both configs changed. */
export interface ShardChange {
  readonly prev: ShardConfig;
  readonly next: ShardConfig;
  /** The readers listen address differs. */
  readonly readersMoved: boolean;
  /** The writer listen address differs, or a writer was added or removed. */
  readonly writerMoved: boolean;
  /** Nodes of `next` that `prev` did not have. */
  readonly addedNodes: readonly NodeConfig[];
  /** Nodes of `prev` that `next` does not have. */
  readonly removedNodes: readonly NodeConfig[];
  /** Nodes in both whose weight changed (as in `next`). */
  readonly reweightedNodes: readonly NodeConfig[];
  /** Dotted config names of changed settings, e.g. `timeouts.server`, `auth.password`. */
  readonly settingsChanged: readonly string[];
}

/** The difference between two configs. */
export interface ConfigDiff {
  readonly addedShards: readonly ShardConfig[];
  readonly removedShards: readonly ShardConfig[];
  /** Shards in both configs with at least one change. */
  readonly changedShards: readonly ShardChange[];
  readonly adminChanged: boolean;
  readonly telemetryChanged: boolean;
  /**
   * One line for the reload log, e.g.
   * `shard users: +node 10.0.0.3:6379, weight 10.0.0.2:6379 1→3`; `no change`
   * when nothing changed. Secrets are named, never shown.
   */
  readonly summary: string;
}

type Show = (value: unknown) => string | null;
const plain: Show = (v) => String(v);
const duration: Show = (v) => formatDuration(v as number);
/** Secrets: say that it changed, never what to. */
const secret: Show = () => null;

/** Every shard setting: its config name, how to read it, how to show it. */
const SETTINGS: ReadonlyArray<readonly [string, (s: ShardSettings) => unknown, Show]> = [
  ["balance", (s) => s.balance, plain],
  ["fallback", (s) => s.fallback, plain],
  ["connections_per_node", (s) => s.connectionsPerNode, plain],
  ["max_clients", (s) => s.maxClients, plain],
  ["retries", (s) => s.retries, plain],
  ["timeouts.connect", (s) => s.timeouts.connectMs, duration],
  ["timeouts.server", (s) => s.timeouts.serverMs, duration],
  ["timeouts.client_idle", (s) => s.timeouts.clientIdleMs, duration],
  ["timeouts.drain", (s) => s.timeouts.drainMs, duration],
  ["check.interval", (s) => s.check.intervalMs, duration],
  ["check.timeout", (s) => s.check.timeoutMs, duration],
  ["check.rise", (s) => s.check.rise, plain],
  ["check.fall", (s) => s.check.fall, plain],
  ["check.max_lag", (s) => s.check.maxLagMs, duration],
  ["check.serve_when_link_down", (s) => s.check.serveWhenLinkDown, plain],
  ["passive.errors", (s) => s.passive.errors, plain],
  ["passive.window", (s) => s.passive.windowMs, duration],
  ["passive.cooldown", (s) => s.passive.cooldownMs, duration],
  ["passive.max_cooldown", (s) => s.passive.maxCooldownMs, duration],
  ["hedge.enabled", (s) => s.hedge.enabled, plain],
  ["hedge.percentile", (s) => s.hedge.percentile, plain],
  ["hedge.min_delay", (s) => s.hedge.minDelayMs, duration],
  ["hedge.max_delay", (s) => s.hedge.maxDelayMs, duration],
  ["hedge.budget", (s) => s.hedge.budgetPercent, plain],
  ["passive.max_ejected_percent", (s) => s.passive.maxEjectedPercent, plain],
  ["auth", (s) => s.auth === null ? "off" : "on", plain],
  ["auth.username", (s) => s.auth?.username, (v) => v === null ? "none" : String(v)],
  ["auth.password", (s) => s.auth?.password, secret],
  ["tls", (s) => s.tls === null ? "off" : "on", plain],
  ["tls.servername", (s) => s.tls?.servername, (v) => v === null ? "default" : String(v)],
  ["tls.ca_file", (s) => s.tls?.caFile, (v) => v === null ? "system" : String(v)],
  ["tls.insecure", (s) => s.tls?.insecure, plain],
  ["client_password", (s) => s.clientPassword, secret],
  ["allow_remote", (s) => s.allowRemote, plain],
  ["dns_refresh", (s) => s.dnsRefreshMs, duration],
];

function addressText(a: Address | null | undefined): string {
  return a ? a.text : "none";
}

function diffShard(prev: ShardConfig, next: ShardConfig): { change: ShardChange; parts: string[] } {
  const parts: string[] = [];
  const readersMoved = prev.readers.text !== next.readers.text;
  if (readersMoved) parts.push(`readers ${prev.readers.text}→${next.readers.text}`);
  const writerMoved = addressText(prev.writer) !== addressText(next.writer);
  if (writerMoved) parts.push(`writer ${addressText(prev.writer)}→${addressText(next.writer)}`);

  const prevNodes = new Map(prev.nodes.map((n) => [n.id, n]));
  const nextIds = new Set(next.nodes.map((n) => n.id));
  const addedNodes = next.nodes.filter((n) => !prevNodes.has(n.id));
  const removedNodes = prev.nodes.filter((n) => !nextIds.has(n.id));
  const reweightedNodes = next.nodes.filter((n) => {
    const old = prevNodes.get(n.id);
    return old !== undefined && old.weight !== n.weight;
  });
  for (const n of addedNodes) parts.push(`+node ${n.id}`);
  for (const n of removedNodes) parts.push(`-node ${n.id}`);
  for (const n of reweightedNodes) {
    parts.push(`weight ${n.id} ${prevNodes.get(n.id)?.weight}→${n.weight}`);
  }

  const settingsChanged: string[] = [];
  for (const [name, read, show] of SETTINGS) {
    const a = read(prev);
    const b = read(next);
    // A sub-setting of something switched on or off is covered by the switch.
    if (a === b || a === undefined || b === undefined) continue;
    settingsChanged.push(name);
    const from = show(a);
    const to = show(b);
    parts.push(from === null || to === null ? `${name} changed` : `${name} ${from}→${to}`);
  }
  return {
    change: {
      prev,
      next,
      readersMoved,
      writerMoved,
      addedNodes,
      removedNodes,
      reweightedNodes,
      settingsChanged,
    },
    parts,
  };
}

/** Compares two valid configs; the result drives hot reload. */
export function diffConfigs(prev: Config, next: Config): ConfigDiff {
  const prevShards = new Map(prev.shards.map((s) => [s.name, s]));
  const nextNames = new Set(next.shards.map((s) => s.name));
  const addedShards = next.shards.filter((s) => !prevShards.has(s.name));
  const removedShards = prev.shards.filter((s) => !nextNames.has(s.name));
  const lines: string[] = [];
  for (const s of addedShards) lines.push(`+shard ${s.name}`);
  for (const s of removedShards) lines.push(`-shard ${s.name}`);

  const changedShards: ShardChange[] = [];
  for (const s of next.shards) {
    const old = prevShards.get(s.name);
    if (old === undefined) continue;
    const { change, parts } = diffShard(old, s);
    if (parts.length === 0) continue;
    changedShards.push(change);
    lines.push(`shard ${s.name}: ${parts.join(", ")}`);
  }

  const prevAdmin = addressText(prev.admin?.listen);
  const nextAdmin = addressText(next.admin?.listen);
  const adminChanged = prevAdmin !== nextAdmin;
  if (adminChanged) lines.push(`admin ${prevAdmin}→${nextAdmin}`);
  const telemetryChanged = prev.telemetry.sampleRatio !== next.telemetry.sampleRatio;
  if (telemetryChanged) {
    lines.push(
      `telemetry.sample_ratio ${prev.telemetry.sampleRatio}→${next.telemetry.sampleRatio}`,
    );
  }
  return {
    addedShards,
    removedShards,
    changedShards,
    adminChanged,
    telemetryChanged,
    summary: lines.length === 0 ? "no change" : lines.join("; "),
  };
}
