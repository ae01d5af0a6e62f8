/**
 * What changed between two valid configs. Hot reload applies the result:
 * new shards start listening, removed ones drain, changed ones update in
 * place (listeners move, nodes join or leave, weights and settings change).
 * Shards are matched by name and nodes by id; order does not matter.
 *
 * @module
 */

import type {
  Address,
  Config,
  NodeConfig,
  RouterConfig,
  RouterShardConfig,
  ShardConfig,
  ShardSettings,
  SlotRange,
} from "./types.ts";
import { formatDuration } from "./duration.ts";
import { zoneChanges } from "./_zones.ts";

/** How one shard that exists in both configs changed. */
export interface ShardChange {
  readonly prev: ShardConfig;
  readonly next: ShardConfig;
  /** The readers listen address differs. */
  readonly readersMoved: boolean;
  /** The writer listen address differs, or a writer was added or removed. */
  readonly writerMoved: boolean;
  /** The split port moved, appeared or went. */
  readonly splitMoved: boolean;
  /** Nodes of `next` that `prev` did not have. */
  readonly addedNodes: readonly NodeConfig[];
  /** Nodes of `prev` that `next` does not have. */
  readonly removedNodes: readonly NodeConfig[];
  /** Nodes in both whose weight changed (as in `next`). */
  readonly reweightedNodes: readonly NodeConfig[];
  /** Dotted config names of changed settings, e.g. `timeouts.server`, `auth.password`. */
  readonly settingsChanged: readonly string[];
}

/** How one router that exists in both configs changed. */
export interface RouterChange {
  readonly prev: RouterConfig;
  readonly next: RouterConfig;
  /** The listen address differs. */
  readonly listenMoved: boolean;
  /**
   * The key-to-shard mapping must be rebuilt: distribution, hash, hash tag,
   * or the shards (which, their order, ring names, weights or slots) changed.
   * How many keys actually move is the router's to measure (ringMoves).
   */
  readonly ringChanged: boolean;
  /** Config names of what changed: `listen`, `allow_remote`, `reads`, `distribution`, `hash`, `hash_tag`, `shards`. */
  readonly changed: readonly string[];
}

/** The difference between two configs. */
export interface ConfigDiff {
  readonly addedShards: readonly ShardConfig[];
  readonly removedShards: readonly ShardConfig[];
  /** Shards in both configs with at least one change. */
  readonly changedShards: readonly ShardChange[];
  readonly addedRouters: readonly RouterConfig[];
  readonly removedRouters: readonly RouterConfig[];
  /** Routers in both configs with at least one change. */
  readonly changedRouters: readonly RouterChange[];
  readonly adminChanged: boolean;
  readonly telemetryChanged: boolean;
  /** The fault injection rules differ (any rule added, removed or changed). */
  readonly faultsChanged: boolean;
  /**
   * One line for the reload log, e.g.
   * `shard users: +node 10.0.0.3:6379, weight 10.0.0.2:6379 1→3; router cache: +shard orders`; `no change`
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
  ["timeouts.writer", (s) => s.timeouts.writerMs, duration],
  ["timeouts.failover", (s) => s.timeouts.failoverMs, duration],
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
  ["cache.enabled", (s) => s.cache.enabled, plain],
  ["cache.max_keys", (s) => s.cache.maxKeys, plain],
  ["cache.max_bytes", (s) => s.cache.maxBytes, plain],
  ["cache.min_reads", (s) => s.cache.minReads, plain],
  ["cache.max_age", (s) => s.cache.maxAgeMs, duration],
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
  ["consistency", (s) => s.consistency, plain],
  ["consistency_wait", (s) => s.consistencyWaitMs, duration],
];

function addressText(a: Address | null | undefined): string {
  return a ? a.text : "none";
}

function diffShard(prev: ShardConfig, next: ShardConfig): { change: ShardChange; parts: string[] } {
  const parts: string[] = [];
  const readersMoved = addressText(prev.readers) !== addressText(next.readers);
  if (readersMoved) parts.push(`readers ${addressText(prev.readers)}→${addressText(next.readers)}`);
  const writerMoved = addressText(prev.writer) !== addressText(next.writer);
  if (writerMoved) parts.push(`writer ${addressText(prev.writer)}→${addressText(next.writer)}`);
  const splitMoved = addressText(prev.split) !== addressText(next.split);
  if (splitMoved) parts.push(`split ${addressText(prev.split)}→${addressText(next.split)}`);

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

  parts.push(...zoneChanges(prev, next));
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
      splitMoved,
      addedNodes,
      removedNodes,
      reweightedNodes,
      settingsChanged,
    },
    parts,
  };
}

function slotsText(slots: readonly SlotRange[]): string {
  return slots.map((r) => r.first === r.last ? `${r.first}` : `${r.first}-${r.last}`).join(",");
}

/** What changed in a router's shard list, as summary parts (empty when nothing did). */
function diffRouterShards(
  prev: readonly RouterShardConfig[],
  next: readonly RouterShardConfig[],
): string[] {
  const parts: string[] = [];
  const before = new Map(prev.map((s) => [s.shard, s]));
  const after = new Set(next.map((s) => s.shard));
  for (const s of next) {
    const old = before.get(s.shard);
    if (old === undefined) {
      parts.push(`+shard ${s.shard}`);
      continue;
    }
    if (old.name !== s.name) parts.push(`ring name ${s.shard} ${old.name}→${s.name}`);
    if (old.weight !== s.weight) parts.push(`weight ${s.shard} ${old.weight}→${s.weight}`);
    const slotsBefore = slotsText(old.slots);
    const slotsAfter = slotsText(s.slots);
    if (slotsBefore !== slotsAfter) parts.push(`slots ${s.shard} ${slotsBefore}→${slotsAfter}`);
  }
  for (const s of prev) if (!after.has(s.shard)) parts.push(`-shard ${s.shard}`);
  const order = (list: readonly RouterShardConfig[]) => list.map((s) => s.shard).join(",");
  if (parts.length === 0 && order(prev) !== order(next)) parts.push("shard order");
  return parts;
}

function diffRouter(
  prev: RouterConfig,
  next: RouterConfig,
): { change: RouterChange; parts: string[] } {
  const parts: string[] = [];
  const changed: string[] = [];
  const show = (v: unknown) => v === null ? "none" : String(v);
  const fields: ReadonlyArray<readonly [string, (r: RouterConfig) => unknown]> = [
    ["listen", (r) => r.listen.text],
    ["allow_remote", (r) => r.allowRemote],
    ["reads", (r) => r.reads],
    ["distribution", (r) => r.distribution],
    ["hash", (r) => r.hash],
    ["hash_tag", (r) => r.hashTag],
  ];
  for (const [name, read] of fields) {
    const a = read(prev);
    const b = read(next);
    if (a === b) continue;
    changed.push(name);
    parts.push(`${name} ${show(a)}→${show(b)}`);
  }
  const shardParts = diffRouterShards(prev.shards, next.shards);
  if (shardParts.length > 0) changed.push("shards");
  parts.push(...shardParts);
  const ringChanged = changed.some((c) =>
    ["distribution", "hash", "hash_tag", "shards"].includes(c)
  );
  return {
    change: { prev, next, listenMoved: changed.includes("listen"), ringChanged, changed },
    parts,
  };
}

/**
 * Pairs two lists of named entries (shards, routers): the added, the
 * removed, and each kept one's change when `diffOne` finds one. Adds the
 * summary lines (`+kind name`, `-kind name`, `kind name: parts`) to `lines`.
 */
function diffByName<T extends { readonly name: string }, C>(
  prev: readonly T[],
  next: readonly T[],
  kind: string,
  diffOne: (old: T, now: T) => { change: C; parts: string[] },
  lines: string[],
): { added: T[]; removed: T[]; changed: C[] } {
  const before = new Map(prev.map((e) => [e.name, e]));
  const names = new Set(next.map((e) => e.name));
  const added = next.filter((e) => !before.has(e.name));
  const removed = prev.filter((e) => !names.has(e.name));
  for (const e of added) lines.push(`+${kind} ${e.name}`);
  for (const e of removed) lines.push(`-${kind} ${e.name}`);
  const changed: C[] = [];
  for (const e of next) {
    const old = before.get(e.name);
    if (old === undefined) continue;
    const { change, parts } = diffOne(old, e);
    if (parts.length === 0) continue;
    changed.push(change);
    lines.push(`${kind} ${e.name}: ${parts.join(", ")}`);
  }
  return { added, removed, changed };
}

/** Compares two valid configs; the result drives hot reload. */
export function diffConfigs(prev: Config, next: Config): ConfigDiff {
  const lines: string[] = [];
  const shards = diffByName(prev.shards, next.shards, "shard", diffShard, lines);
  const routers = diffByName(prev.routers, next.routers, "router", diffRouter, lines);

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
  const faultsChanged = JSON.stringify(prev.faults) !== JSON.stringify(next.faults);
  if (faultsChanged) lines.push(`faults ${prev.faults.length}→${next.faults.length} rules`);
  return {
    addedShards: shards.added,
    removedShards: shards.removed,
    changedShards: shards.changed,
    addedRouters: routers.added,
    removedRouters: routers.removed,
    changedRouters: routers.changed,
    adminChanged,
    telemetryChanged,
    faultsChanged,
    summary: lines.length === 0 ? "no change" : lines.join("; "),
  };
}
