/**
 * Runs one fault of the suite: a primary with replicas (real
 * redis-servers), a populated dataset, shardgate in front of them, the
 * traffic generator, then the fault itself; afterwards it checks every
 * acknowledged write on the primary of the end, prints one summary line and
 * asserts the fault's bounds (all of them, reported together).
 *
 * The shardgate config is the product's defaults (`timeouts.server` 2 s,
 * checks every second) plus what the fault needs, plus what the
 * environment adds under `defaults:` (see {@linkcode faultDefaults}), so
 * the same fault runs with hedging on and off.
 *
 * @module
 */

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import {
  type ReplicaSet,
  type ShardgateProcess,
  startReplicaSet,
  startShardgate,
} from "../helpers/mod.ts";
import { getCount, populate, SHARD, shardYaml } from "../_health_helpers.ts";
import { formatPercentiles } from "./_latency.ts";
import { FaultRelay } from "./_relay.ts";
import { missingKeys, startTraffic, type Traffic, type TrafficReport } from "./_traffic.ts";

export { E2E } from "../_health_helpers.ts";

/** `FAULTS_HEDGE=off` adds `hedge: false` to `defaults:` (the hedging-off variant). */
export const HEDGE_ENV = "FAULTS_HEDGE";
/** Extra YAML lines for `defaults:`, separated by `;` (e.g. `hedge: { max_percent: 10 }`). */
export const DEFAULTS_ENV = "FAULTS_DEFAULTS";
/** Appends one JSON line per fault to this file (for the README's medians). */
export const REPORT_ENV = "FAULTS_REPORT";

/**
 * Bound on a read's latency during the SIGSTOP, never-answering and
 * slow-node faults: well under the default `timeouts.server` (2 s), so a
 * read that waited for the server timeout fails it.
 */
export const MAX_STALL_READ_MS = 500;
/** Reads the fault window must contain, so no fault passes without traffic. */
export const MIN_READS_DURING = 200;
/** Reads before the latency figures start (connections opened, code warmed up). */
export const WARMUP_READS = 1_000;
/** Successful reads (and writes) before the fault: the traffic runs and the baseline is measured. */
export const BASELINE_READS = 2_000;
/** Writes acknowledged before the fault. */
export const BASELINE_WRITES = 200;
/** Keys of the dataset the readers read. */
export const DEFAULT_KEYS = 1_000;

/** What `defaults:` of every fault config gets from the environment. */
export function faultDefaults(): string[] {
  const lines: string[] = [];
  const hedge = Deno.env.get(HEDGE_ENV);
  if (hedge === "off") lines.push("hedge: false");
  else if (hedge !== undefined && hedge !== "" && hedge !== "default") {
    throw new Error(`${HEDGE_ENV}=${hedge}: use "off" (or leave it unset)`);
  }
  for (const l of (Deno.env.get(DEFAULTS_ENV) ?? "").split(";")) {
    if (l.trim() !== "") lines.push(l.trim());
  }
  return lines;
}

/** A one-shard config over `nodes` with the environment's defaults and `extra` shard lines. */
export function faultConfig(nodes: readonly string[], extra: string[] = []): string {
  const defaults = faultDefaults();
  const head = defaults.length === 0
    ? ""
    : `defaults:\n${defaults.map((l) => `  ${l}\n`).join("")}`;
  return head + shardYaml(nodes, extra);
}

/** What a fault's `inject` works with. */
export interface FaultContext {
  /** The redis-servers (`set.primary` is the primary of the moment). */
  readonly set: ReplicaSet;
  /** shardgate. */
  readonly sg: ShardgateProcess;
  /** The running traffic. */
  readonly traffic: Traffic;
  /** The relay in front of `set.replicas[1]` when the fault asked for one. */
  readonly relay: FaultRelay | null;
  /** The node addresses in shardgate's config (the relay's in place of its node). */
  readonly nodes: readonly string[];
}

/** The bounds a fault asserts beyond "no acknowledged write lost". */
export interface FaultBounds {
  /** Most failed reads allowed (unset: reported only). */
  readonly maxFailedReads?: number;
  /** Most a read may take during the fault window, ms (unset: reported only). */
  readonly maxReadMsDuring?: number;
  /** Fewest reads the window must overlap; default {@linkcode MIN_READS_DURING}. */
  readonly minReadsDuring?: number;
}

/** One fault of the suite. */
export interface FaultSpec {
  /** Name in the summary line. */
  readonly name: string;
  /** Replicas; default 2. */
  readonly replicas?: number;
  /** Dataset size; default {@linkcode DEFAULT_KEYS}. */
  readonly keys?: number;
  /** Put `set.replicas[1]` behind a {@linkcode FaultRelay}. */
  readonly relay?: boolean;
  /** Extra shard lines of the config. */
  readonly shard?: string[];
  /** The node GET counters survive the fault, so extra commands can be counted. */
  readonly countable?: boolean;
  /** The bounds asserted. */
  readonly bounds: FaultBounds;
  /** Injects the fault; must call `traffic.faultStarts()` and `traffic.faultEnds()`. */
  inject(ctx: FaultContext): Promise<void>;
  /**
   * Fault-specific findings that must hold (e.g. proof the fault hit);
   * returns violations, each a sentence. Runs after the traffic stopped.
   */
  verify?(ctx: FaultContext, report: TrafficReport): string[] | Promise<string[]>;
}

/** What one fault measured. */
export interface FaultResult {
  /** The traffic's report. */
  readonly report: TrafficReport;
  /** Acknowledged writes the final primary does not hold. */
  readonly lost: readonly string[];
  /** GETs the nodes executed beyond the reads the clients sent; null when not countable. */
  readonly extraGets: number | null;
  /** Wall time of the fault run, ms (setup included). */
  readonly wallMs: number;
}

/** Runs `spec`: set-up, traffic, fault, verification, summary line, bounds. */
export async function runFault(spec: FaultSpec): Promise<FaultResult> {
  const began = Date.now();
  const keys = spec.keys ?? DEFAULT_KEYS;
  await using set = await startReplicaSet({ replicas: spec.replicas ?? 2 });
  await populate(set, keys);
  await using relay = spec.relay ? new FaultRelay(set.replicas[1].port) : null;
  const nodes = set.addresses.map((a) =>
    a === set.replicas[1]?.address && relay ? relay.address : a
  );
  await using sg = await startShardgate(faultConfig(nodes, spec.shard));
  const before = spec.countable ? await nodeGets(set, relay) : 0;
  const ports = sg.ports[SHARD];
  await using traffic = await startTraffic({
    readersPort: ports.readers,
    writerPort: ports.writer,
    keys,
  });
  await traffic.waitForOk(WARMUP_READS);
  traffic.startMeasuring();
  await traffic.waitForOk(BASELINE_READS, BASELINE_WRITES);
  const ctx: FaultContext = { set, sg, traffic, relay, nodes };
  await spec.inject(ctx);
  const report = await traffic.stop();
  // Every node answers again before anything is read from them.
  for (const n of set.nodes) if (n.paused) n.resume();
  if (relay !== null) relay.mode = { kind: "pass" };
  const lost = await missingKeys(set.primary.port, report.acked);
  const extraGets = spec.countable
    ? await nodeGets(set, relay) - before - report.reads.ok - report.reads.failed
    : null;
  const result: FaultResult = { report, lost, extraGets, wallMs: Date.now() - began };
  console.log(summaryLine(spec.name, result));
  await appendReport(spec, result);
  const violations = [
    ...boundViolations(spec, result),
    ...(spec.verify ? await spec.verify(ctx, report) : []),
  ];
  assertEquals(violations, [], `${spec.name}: bounds violated`);
  return result;
}

/**
 * GETs shardgate sent to the nodes so far: executed or rejected by each
 * node, except that for the node behind the relay the relay's count of GETs
 * it received is used (what a stalled path held for a connection that
 * closed meanwhile never executes).
 */
async function nodeGets(set: ReplicaSet, relay: FaultRelay | null): Promise<number> {
  const direct = set.nodes.filter((n) => n.port !== relay?.target);
  const counts = await Promise.all(direct.map((n) => getCount(n)));
  return counts.reduce((sum, c) => sum + c.calls + c.rejected, relay?.gets ?? 0);
}

/** The asserted bounds that `result` breaks, each a sentence. */
export function boundViolations(spec: FaultSpec, result: FaultResult): string[] {
  const out: string[] = [];
  const { report, lost } = result;
  const b = spec.bounds;
  if (lost.length > 0) {
    out.push(`${lost.length} acknowledged writes lost (e.g. ${lost.slice(0, 3).join(", ")})`);
  }
  if (b.maxFailedReads !== undefined && report.reads.failed > b.maxFailedReads) {
    out.push(
      `${report.reads.failed} failed reads (RESP2 ${report.reads.failedResp2}, RESP3 ` +
        `${report.reads.failedResp3}, wrong values ${report.reads.wrong}) > ${b.maxFailedReads}: ` +
        JSON.stringify(report.reads.errors),
    );
  }
  if (b.maxReadMsDuring !== undefined && !(report.during.max < b.maxReadMsDuring)) {
    out.push(
      `a read took ${report.during.max.toFixed(0)} ms during the fault (bound ` +
        `${b.maxReadMsDuring} ms; p99 ${report.during.p99.toFixed(0)} ms)`,
    );
  }
  if (report.during.count < (b.minReadsDuring ?? MIN_READS_DURING)) {
    out.push(`only ${report.during.count} reads overlapped the fault window`);
  }
  return out;
}

/** The summary line of one fault. */
export function summaryLine(name: string, r: FaultResult): string {
  const { reads, writes, during, outside } = r.report;
  const hedge = faultDefaults().join(", ") || "defaults";
  const extra = r.extraGets === null ? "n/a" : String(r.extraGets);
  return `FAULT ${name} [${hedge}]: reads ok=${reads.ok} failed=${reads.failed} ` +
    `(resp2 ${reads.failedResp2}, resp3 ${reads.failedResp3}, wrong ${reads.wrong}); ` +
    `writes ok=${writes.ok} failed=${writes.failed}; lost acked writes ${r.lost.length} of ` +
    `${r.report.acked.length}; read latency during ${formatPercentiles(during)} (max resp2 ` +
    `${r.report.duringMaxResp2.toFixed(0)}, resp3 ${
      r.report.duringMaxResp3.toFixed(0)
    }), outside ` +
    `${formatPercentiles(outside)}; extra GETs ${extra}; ${(r.wallMs / 1000).toFixed(1)} s`;
}

async function appendReport(spec: FaultSpec, r: FaultResult): Promise<void> {
  const path = Deno.env.get(REPORT_ENV);
  if (path === undefined || path === "") return;
  const { reads, writes, during, outside } = r.report;
  const line = JSON.stringify({
    fault: spec.name,
    bounds: spec.bounds,
    defaults: faultDefaults(),
    readsOk: reads.ok,
    readsFailed: reads.failed,
    readsFailedResp3: reads.failedResp3,
    writesOk: writes.ok,
    writesFailed: writes.failed,
    lost: r.lost.length,
    during,
    duringMaxResp2: r.report.duringMaxResp2,
    duringMaxResp3: r.report.duringMaxResp3,
    outside,
    extraGets: r.extraGets,
    wallMs: r.wallMs,
    readErrors: reads.errors,
    writeErrors: writes.errors,
  });
  await Deno.writeTextFile(path, line + "\n", { append: true });
}
