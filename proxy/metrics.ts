/**
 * Per-shard counters of the data path, kept as plain fields so the hot path
 * only does `++`. Each field is named by its row in telemetry's one metrics
 * table ({@link SHARD_COUNTERS}), and the admin collector exports every one
 * of them under that row: nothing is counted here that `/metrics` does not
 * show. Hedges are counted once, in `CommandStats`; failed commands by
 * their outcome there.
 *
 * @module
 */

import type { MetricId } from "../telemetry/mod.ts";

/** The counters' metrics-table rows: every field of {@link ShardCounters}, exported as `{shard}`. */
export const SHARD_COUNTERS = [
  "readsSent",
  "retries",
  "heldWrites",
  "backpressurePauses",
  "protocolErrors",
  "clientsAccepted",
  "clientsRejected",
  "clientsIdleClosed",
] as const satisfies readonly MetricId[];

/** One of {@link SHARD_COUNTERS}. */
export type ShardCounterId = typeof SHARD_COUNTERS[number];

/** Counters of one shard's data path (a router port's own sessions have their own). */
export class ShardCounters implements Record<ShardCounterId, number> {
  /** Commands sent to the shard's readers (the hedge budget's base). */
  readsSent = 0;
  /** Read-only commands re-sent to another node after a failure. */
  retries = 0;
  /** Times a session started holding writes for the next primary (failover, no primary). */
  heldWrites = 0;
  /** Times a client's reading was paused for back-pressure. */
  backpressurePauses = 0;
  /** Clients closed for malformed input. */
  protocolErrors = 0;
  /** Client connections accepted. */
  clientsAccepted = 0;
  /** Client connections refused past max_clients. */
  clientsRejected = 0;
  /** Clients closed by client_idle. */
  clientsIdleClosed = 0;
}
