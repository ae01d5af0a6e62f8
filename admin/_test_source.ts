/**
 * An {@link AdminSource} built from plain values, for the admin unit tests.
 *
 * @module
 */

import type { Routes, ShardConfig } from "../config/types.ts";
import type { NodeSnapshot } from "../health/mod.ts";
import { ShardCounters } from "../proxy/mod.ts";
import { COMMAND_NAMES } from "../resp/mod.ts";
import { CommandStats } from "../telemetry/mod.ts";
import { testShard } from "../health/_test_helpers.ts";
import type { AdminSource, ReloadSnapshot, ShardSource } from "./source.ts";

/** A node snapshot with defaults. */
export function node(id: string, o: Partial<NodeSnapshot> = {}): NodeSnapshot {
  return {
    id,
    address: id,
    role: "replica",
    status: "up",
    servesReads: true,
    reason: "replica in sync",
    since: 1_000,
    lagMs: 0,
    linkUp: true,
    loading: false,
    syncing: false,
    connectedReplicas: 0,
    ejections: 0,
    lastCheckMs: 0.5,
    lastCheckAt: 2_000,
    ...o,
  };
}

/** One shard `s` with a primary `p:1` and a replica `r:2`, serving unless overridden. */
export function shard(o: {
  config?: Partial<ShardConfig>;
  routes?: Partial<Routes>;
  nodes?: NodeSnapshot[];
} = {}): ShardSource {
  const base = testShard([], { name: "s" });
  const config: ShardConfig = {
    ...base,
    nodes: [
      { id: "p:1", address: { host: "p", port: 1, text: "p:1" }, weight: 1 },
      { id: "r:2", address: { host: "r", port: 2, text: "r:2" }, weight: 3 },
    ],
    writer: { host: "127.0.0.1", port: 7001, text: "127.0.0.1:7001" },
    clientPassword: "hunter2-secret",
    auth: { username: null, password: "node-secret" },
    ...o.config,
  };
  return {
    name: config.name,
    config,
    routes: { readers: ["r:2"], primary: "p:1", primaryProblem: null, ...o.routes },
    listeners: [{ role: "readers", host: "127.0.0.1", port: 7000 }, {
      role: "writer",
      host: "127.0.0.1",
      port: 7001,
    }],
    nodes: o.nodes ?? [
      node("p:1", { role: "master", servesReads: false, lagMs: null, reason: "role master" }),
      node("r:2"),
    ],
    stats: {
      clients: { resp2: 3, resp3: 1 },
      pinned: 1,
      nodes: [{
        id: "r:2",
        inflight: 2,
        connections: { resp2: 2, resp3: 1 },
        pinnedConnections: 1,
        oldestMs: 0,
        faults: [0, 0, 0, 0],
      }],
    },
    counters: new ShardCounters(),
    commands: new CommandStats(COMMAND_NAMES),
    faultRules: 0,
  };
}

/** A source over `shards`. */
export function source(
  shards: ShardSource[],
  o: { stopping?: boolean; reloads?: Partial<ReloadSnapshot> } = {},
): AdminSource {
  return {
    version: "9.9.9",
    startedAt: 1_000,
    configFile: () => "/etc/sg.yaml",
    stopping: () => o.stopping ?? false,
    reloads: () => ({ applied: 0, rejected: 0, lastSuccessAt: 1_000, last: null, ...o.reloads }),
    shards: () => shards,
  };
}
