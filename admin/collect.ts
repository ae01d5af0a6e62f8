/**
 * Maps the program's snapshots onto the metrics table: the one collector
 * behind both `/metrics` and the OpenTelemetry export.
 *
 * @module
 */

import { publicRole } from "../health/mod.ts";
import type { MetricCollector, MetricWriter } from "../telemetry/mod.ts";
import { FAULT_KINDS, LOCALITY_NAMES, SHARD_COUNTERS, type ZoneSnapshot } from "../proxy/mod.ts";
import { readiness } from "./readiness.ts";
import { type CacheStats, EVICT_REASONS } from "../cache/mod.ts";
import type { AdminSource, ShardSource } from "./source.ts";

const STATES = ["up", "down", "ejected", "draining"] as const;
const ROLES = ["primary", "replica", "unknown"] as const;

function collectCache(shard: string, c: CacheStats, w: MetricWriter): void {
  w.value("cacheHits", { shard }, c.hits);
  w.value("cacheMisses", { shard }, c.misses);
  w.value("cacheAdmissions", { shard }, c.admissions);
  w.value("cacheRefreshes", { shard }, c.refreshes);
  w.value("cacheStalledReads", { shard }, c.stalledReads);
  w.value("cacheRefusedFills", { shard }, c.refusedFills);
  w.value("cacheInvalidations", { shard }, c.invalidations + c.flushes);
  for (const reason of EVICT_REASONS) {
    w.value("cacheEvictions", { shard, reason }, c.evictions[reason]);
  }
  w.value("cacheKeys", { shard }, c.keys);
  w.value("cacheBytes", { shard }, c.bytes);
  w.value("cacheLean", { shard }, c.lean ? 1 : 0);
}

function collectShard(s: ShardSource, w: MetricWriter): void {
  const shard = s.name;
  const c = s.counters;
  for (const id of SHARD_COUNTERS) w.value(id, { shard }, c[id]);
  const g = s.consistency;
  if (g !== undefined) {
    w.value("gatedReads", { shard }, g.gated);
    w.value("gatedReadsReplica", { shard }, g.replica);
    w.value("gatedReadProbes", { shard }, g.probes);
    w.value("gatedReadWaits", { shard }, g.waits);
    w.value("gatedReadFallbacks", { shard }, g.fallbacks);
  }
  w.value("clientConnections", { shard, protocol: "resp2" }, s.stats.clients.resp2);
  w.value("clientConnections", { shard, protocol: "resp3" }, s.stats.clients.resp3);
  w.value("pinnedSessions", { shard }, s.stats.pinned);
  for (const n of s.stats.nodes) {
    const node = n.id;
    w.value("nodeInflight", { shard, node }, n.inflight);
    w.value("backendConnections", { shard, node, protocol: "resp2" }, n.connections.resp2);
    w.value("backendConnections", { shard, node, protocol: "resp3" }, n.connections.resp3);
    w.value("backendPinnedConnections", { shard, node }, n.pinnedConnections);
    for (let k = 0; k < FAULT_KINDS.length; k++) {
      w.value("faultsInjected", { shard, node, kind: FAULT_KINDS[k] }, n.faults[k] ?? 0);
    }
  }
  w.value("faultRules", { shard }, s.faultRules);
  if (s.zones !== undefined) collectZones(shard, s.zones, w);
  if (s.cache) collectCache(shard, s.cache, w);
  for (const n of s.nodes) {
    const node = n.id;
    for (const state of STATES) w.value("nodeState", { shard, node, state }, +(n.status === state));
    const role = publicRole(n.role);
    for (const r of ROLES) w.value("nodeRole", { shard, node, role: r }, +(role === r));
    w.value("nodeServesReads", { shard, node }, +n.servesReads);
    if (n.lagMs !== null) w.value("replicationLag", { shard, node }, n.lagMs / 1000);
    if (n.lastCheckMs !== null) w.value("checkDuration", { shard, node }, n.lastCheckMs / 1000);
    w.value("ejections", { shard, node }, n.ejections);
    const counted = s.commands.peekNode(node);
    w.value("nodeCommands", { shard, node, outcome: "ok" }, counted?.ok ?? 0);
    w.value("nodeCommands", { shard, node, outcome: "error" }, counted?.errors ?? 0);
    if (counted !== undefined) {
      w.histogram("nodeReplyDuration", { shard, node }, {
        counts: counted.latency,
        sum: counted.latencySumUs / 1e6,
      });
    }
  }
  s.commands.collect(shard, w);
}

/** Reads and bytes by locality, and each node's zone. */
function collectZones(shard: string, z: ZoneSnapshot, w: MetricWriter): void {
  for (const locality of LOCALITY_NAMES) {
    w.value("zoneReads", { shard, locality }, z.reads[locality]);
    w.value("zoneReadBytes", { shard, locality }, z.bytes[locality]);
  }
  for (const n of z.nodes) {
    w.value("nodeZone", { shard, node: n.id, zone: n.zone ?? "none", locality: n.locality }, 1);
  }
}

/** The collector of every metric of the table, reading `src` at each call. */
export function metricsCollector(src: AdminSource): MetricCollector {
  return (w) => {
    const shards = src.shards();
    for (const s of shards) collectShard(s, w);
    const reloads = src.reloads();
    w.value("reloads", { result: "applied" }, reloads.applied);
    w.value("reloads", { result: "rejected" }, reloads.rejected);
    w.value("lastReload", {}, reloads.lastSuccessAt / 1000);
    w.value("ready", {}, +readiness(src.stopping(), shards).ready);
    w.value("buildInfo", { version: src.version, deno: Deno.version.deno }, 1);
    w.value("startTime", {}, Math.floor(src.startedAt / 1000));
    w.value("residentMemory", {}, Deno.memoryUsage().rss);
  };
}
