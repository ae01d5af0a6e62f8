/**
 * Shared pieces of the admin and telemetry end-to-end tests: the config
 * with an admin port and fast checks, HTTP gets against the admin port, and
 * the switch for the tests that wait for the session core's telemetry hooks.
 *
 * @module
 */

import type { ShardgateProcess } from "./helpers/mod.ts";
import { SHARD } from "./_health_helpers.ts";

export { E2E, SHARD } from "./_health_helpers.ts";

/** Settings of {@link adminYaml}. */
export interface AdminYamlOptions {
  /** Extra shard keys, each a YAML line without indentation. */
  shard?: string[];
  /** `telemetry.sample_ratio`; default none (the default ratio). */
  sampleRatio?: number;
  /** Admin listen address; default `127.0.0.1:0`. */
  admin?: string | null;
  /** Writer port; default true. */
  writer?: boolean;
}

/** One shard `main` over `nodes`, fast checks, an admin port on a free port. */
export function adminYaml(nodes: readonly string[], opts: AdminYamlOptions = {}): string {
  const admin = opts.admin === undefined ? "127.0.0.1:0" : opts.admin;
  return [
    ...(admin === null ? [] : ["admin:", `  listen: ${admin}`]),
    ...(opts.sampleRatio === undefined
      ? []
      : ["telemetry:", `  sample_ratio: ${opts.sampleRatio}`]),
    "defaults:",
    "  check: { interval: 100ms, timeout: 500ms, rise: 2, fall: 2 }",
    "shards:",
    `  ${SHARD}:`,
    "    readers: 127.0.0.1:0",
    ...(opts.writer === false ? [] : ["    writer: 127.0.0.1:0"]),
    `    nodes: [${nodes.join(", ")}]`,
    ...(opts.shard ?? []).map((l) => `    ${l}`),
    "",
  ].join("\n");
}

/** The admin port of `sg` (fails the test when it logged none). */
export function adminPort(sg: ShardgateProcess): number {
  const port = sg.adminPort;
  if (port === undefined) throw new Error(`shardgate logged no admin listener:\n${sg.tail()}`);
  return port;
}

/** GET `path` on the admin port: status and body. */
export async function adminGet(
  port: number,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; body: string; type: string | null }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, init);
  return { status: res.status, body: await res.text(), type: res.headers.get("content-type") };
}

/** The `/status` document (parsed). */
export async function statusDoc(port: number): Promise<StatusJson> {
  const r = await adminGet(port, "/status");
  if (r.status !== 200) throw new Error(`/status answered ${r.status}: ${r.body}`);
  return JSON.parse(r.body) as StatusJson;
}

/** The parts of `/status` the tests read (admin/status.ts has the full type). */
export interface StatusJson {
  version: string;
  ready: boolean;
  notReady: string[];
  config: {
    file: string;
    reloads: { applied: number; rejected: number };
    lastReload: { ok: boolean; summary: string | null; errors: string[] } | null;
  };
  sessions: { resp2: number; resp3: number; pinned: number };
  shards: {
    name: string;
    listeners: { role: string; address: string }[];
    primary: string | null;
    sessions: { resp2: number; resp3: number; pinned: number };
    nodes: {
      id: string;
      role: string;
      state: string;
      servesReads: boolean;
      reason: string;
      weight: number;
      lagMs: number | null;
      inflight: number;
      connections: { resp2: number; resp3: number };
      checkLatencyMs: number | null;
      lastCheckAt: string | null;
    }[];
    /** The near cache (`cache.NearCache.stats()`), or null when off. */
    cache: {
      hits: number;
      misses: number;
      admissions: number;
      refreshes: number;
      retractedHits: number;
      stalledReads: number;
      refusedFills: number;
      tracking: boolean;
      inFlight: number;
      flushes: number;
      keys: number;
      node: string | null;
      evictions: Record<string, number>;
      lean: boolean;
    } | null;
  }[];
}
