/**
 * Per-command counters of one shard, recorded by the data path on typed
 * arrays (no allocation, a few array increments per command) and read only
 * when metrics are scraped or `/status` is asked for.
 *
 * ## What the session core calls, and when
 *
 * One {@link CommandStats} per shard (app.ts creates it with resp's
 * `COMMAND_NAMES`, the label value of each command index, and hands it to
 * the shard; `shard.commandStats`). Per command, once its reply is final (after
 * any retries or hedges; a reply shardgate wrote itself counts too):
 *
 * ```ts
 * // once per command, at framing time (no allocation: the name is a table constant)
 * const cmd = commandIndex(commandNameOf(parser, buf));
 * const t0 = performance.now();
 * // … route, send, retry …
 * // when the reply slot is filled for the last time:
 * stats.record(cmd, PortRole.readers, Outcome.ok, (performance.now() - t0) * 1000);
 * ```
 *
 * - `outcome`: {@link Outcome.ok} for a normal reply, {@link Outcome.error}
 *   for the node's own error reply (`-ERR…`, `-WRONGTYPE…`),
 *   {@link Outcome.failed} for a shardgate error (no node, read failed after
 *   retries, write lost, refused command).
 * - Per node (for the status page's ops/s and errors): take
 *   `const n = stats.node(backend.id)` once when the backend is created,
 *   then `n.ok++` for each reply from that node and `n.errors++` for each
 *   command the node failed (connection lost, timeout, error reply).
 * - Bytes: {@link CommandStats.addBytesIn} after each client socket read,
 *   {@link CommandStats.addBytesOut} after each client socket write.
 * - Hedged reads: {@link CommandStats.recordHedge} when a hedge is sent
 *   (`won` false) and again with `won` true when the hedge's reply wins.
 *   Retries stay in `ShardCounters.retries`.
 *
 * @module
 */

import { LATENCY_BUCKETS_SECONDS, type MetricWriter } from "./metrics.ts";

/** Port roles, as array indexes. */
export const PortRole = {
  /** The readers port of a shard. */
  readers: 0,
  /** The writer port of a shard. */
  writer: 1,
  /** A router port (key hashing over shards). */
  router: 2,
  /** The split port of a shard (reads to replicas, the rest to the primary). */
  split: 3,
} as const;
/** One of the {@link PortRole} values. */
export type PortRole = typeof PortRole[keyof typeof PortRole];

/** Command outcomes, as array indexes. */
export const Outcome = {
  /** The node's normal reply. */
  ok: 0,
  /** The node's own error reply. */
  error: 1,
  /** A shardgate error (no node, retries exhausted, write lost, refused). */
  failed: 2,
} as const;
/** One of the {@link Outcome} values. */
export type Outcome = typeof Outcome[keyof typeof Outcome];

/** A port role's label value. */
export type RoleName = keyof typeof PortRole;
/** An outcome's label value. */
export type OutcomeName = keyof typeof Outcome;
/** Label values of the port roles, by index. */
export const ROLE_NAMES: readonly RoleName[] = ["readers", "writer", "router", "split"];
/** Label values of the outcomes, by index. */
export const OUTCOME_NAMES: readonly OutcomeName[] = ["ok", "error", "failed"];

const ROLES = ROLE_NAMES.length;
const OUTCOMES = OUTCOME_NAMES.length;
/** Bucket bounds in microseconds (the data path measures in µs). */
const BOUNDS_US = Float64Array.from(LATENCY_BUCKETS_SECONDS, (s) => Math.round(s * 1e6));
const BUCKETS = BOUNDS_US.length + 1;

/** Commands of one node, counted by the data path with `++`. */
export class NodeCommandCounters {
  /** Replies received from the node. */
  ok = 0;
  /** Commands the node failed (connection lost, timeout, error reply). */
  errors = 0;
  /** Reply latencies (send to reply) by bucket of `LATENCY_BUCKETS_SECONDS` (+Inf last). */
  readonly latency: Float64Array = new Float64Array(BUCKETS);
  /** Sum of the reply latencies, µs. */
  latencySumUs = 0;

  /** Counts one reply that took `ms` from send to reply. No allocation. */
  observe(ms: number): void {
    const us = ms * 1000;
    let b = 0;
    while (b < BOUNDS_US.length && us > BOUNDS_US[b]) b++;
    this.latency[b]++;
    this.latencySumUs += us;
  }
}

/** Totals of one shard, for `/status`. */
export interface CommandTotals {
  /** Commands answered. */
  readonly total: number;
  /** Answered with the node's error reply. */
  readonly errors: number;
  /** Answered with a shardgate error. */
  readonly failed: number;
}

/** Label value of command index 0 and of any index past the names. */
const OTHER_NAME = "other";

/** Per-command counters and latency histograms of one shard. */
export class CommandStats {
  /** Hedged reads sent. */
  hedges = 0;
  /** Hedged reads won by the second node. */
  hedgeWins = 0;
  readonly #names: readonly string[];
  #calls: Float64Array;
  #latency: Float64Array;
  #latencySumUs: Float64Array;
  #bytesIn = new Float64Array(ROLES);
  #bytesOut = new Float64Array(ROLES);
  #nodes = new Map<string, NodeCommandCounters>();

  /**
   * `commandNames[i]` is the label value of command index `i`; index 0 is
   * `other` (a command the table does not know). app.ts passes resp's
   * `COMMAND_NAMES`, so indexes are `commandIndex()`'s.
   */
  constructor(commandNames: readonly string[]) {
    this.#names = commandNames.length > 0 ? commandNames : [OTHER_NAME];
    const n = this.#names.length;
    this.#calls = new Float64Array(n * ROLES * OUTCOMES);
    this.#latency = new Float64Array(n * BUCKETS);
    this.#latencySumUs = new Float64Array(n);
  }

  /**
   * Counts one answered command: `command` from `commandIndex()`, `role`
   * a {@link PortRole}, `outcome` an {@link Outcome}, `latencyMicros` from
   * its arrival to its final reply. No allocation.
   */
  record(command: number, role: PortRole, outcome: Outcome, latencyMicros: number): void {
    if (!(command >= 0 && command < this.#names.length)) command = 0;
    this.#calls[(command * ROLES + role) * OUTCOMES + outcome]++;
    let b = 0;
    while (b < BOUNDS_US.length && latencyMicros > BOUNDS_US[b]) b++;
    this.#latency[command * BUCKETS + b]++;
    this.#latencySumUs[command] += latencyMicros;
  }

  /** Counts `n` bytes read from a client of `role`. */
  addBytesIn(role: PortRole, n: number): void {
    this.#bytesIn[role] += n;
  }

  /** Counts `n` bytes written to a client of `role`. */
  addBytesOut(role: PortRole, n: number): void {
    this.#bytesOut[role] += n;
  }

  /** Counts a hedged read sent (`won` false), or a hedge that won (`won` true). */
  recordHedge(won: boolean): void {
    if (won) this.hedgeWins++;
    else this.hedges++;
  }

  /** The counters of node `id`, created on first use; keep the object (it never changes). */
  node(id: string): NodeCommandCounters {
    let n = this.#nodes.get(id);
    if (n === undefined) {
      n = new NodeCommandCounters();
      this.#nodes.set(id, n);
    }
    return n;
  }

  /** The counters of node `id` if the data path ever asked for them. */
  peekNode(id: string): NodeCommandCounters | undefined {
    return this.#nodes.get(id);
  }

  /** Adds the latency histogram of every command, by bucket (+Inf last), into `into`. */
  addLatency(into: Float64Array): void {
    const l = this.#latency;
    for (let i = 0; i < l.length; i++) into[i % BUCKETS] += l[i];
  }

  /** Commands answered with `outcome`, over every command and role. */
  count(outcome: Outcome): number {
    let n = 0;
    for (let i = outcome; i < this.#calls.length; i += OUTCOMES) n += this.#calls[i];
    return n;
  }

  /** Totals over every command and role. */
  totals(): CommandTotals {
    const ok = this.count(Outcome.ok);
    const errors = this.count(Outcome.error);
    const failed = this.count(Outcome.failed);
    return { total: ok + errors + failed, errors, failed };
  }

  /**
   * Writes this shard's command metrics (commands, commandCalls,
   * commandDuration, hedges, hedgeWins, bytes) for shard `shard` into `w`.
   * Commands never seen are left out.
   */
  collect(shard: string, w: MetricWriter): void {
    const byRole = new Float64Array(ROLES * OUTCOMES);
    const names = this.#names;
    for (let c = 0; c < names.length; c++) {
      let seen = 0;
      for (let o = 0; o < OUTCOMES; o++) {
        let n = 0;
        for (let r = 0; r < ROLES; r++) {
          const v = this.#calls[(c * ROLES + r) * OUTCOMES + o];
          n += v;
          byRole[r * OUTCOMES + o] += v;
        }
        seen += n;
        if (n > 0) {
          w.value("commandCalls", { shard, command: names[c], outcome: OUTCOME_NAMES[o] }, n);
        }
      }
      if (seen === 0) continue;
      w.histogram("commandDuration", { shard, command: names[c] }, {
        counts: this.#latency.subarray(c * BUCKETS, (c + 1) * BUCKETS),
        sum: this.#latencySumUs[c] / 1e6,
      });
    }
    for (let r = 0; r < ROLES; r++) {
      const role = ROLE_NAMES[r];
      if (
        (r === PortRole.router || r === PortRole.split) &&
        byRole.subarray(r * OUTCOMES, (r + 1) * OUTCOMES).every((v) => v === 0)
      ) {
        continue;
      }
      for (let o = 0; o < OUTCOMES; o++) {
        w.value("commands", { shard, role, outcome: OUTCOME_NAMES[o] }, byRole[r * OUTCOMES + o]);
      }
      w.value("bytesReceived", { shard, role }, this.#bytesIn[r]);
      w.value("bytesSent", { shard, role }, this.#bytesOut[r]);
    }
    w.value("hedges", { shard }, this.hedges);
    w.value("hedgeWins", { shard }, this.hedgeWins);
  }
}
