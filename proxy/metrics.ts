/**
 * Per-shard counters kept as plain fields so the hot path only does `++`.
 * Their names and help texts for /metrics are in telemetry's one metrics
 * table; `collect()` maps fields to those names.
 *
 * @module
 */

/** Counters of one shard's data path. */
export class ShardCounters {
  /** Commands forwarded (multiplexed), by listener role. */
  readerCommands = 0;
  /** Commands forwarded (multiplexed) through the writer port. */
  writerCommands = 0;
  /** Read-only commands re-sent to another node after a failure. */
  retries = 0;
  /** Commands answered with a shardgate error (no node, lost write, exhausted retries). */
  failedCommands = 0;
  /** Times a session started holding writes for the next primary (failover, no primary). */
  heldWrites = 0;
  /** Client connections accepted. */
  clientsAccepted = 0;
  /** Client connections refused past max_clients. */
  clientsRejected = 0;
  /** Client connections open now. */
  clientsOpen = 0;
  /** Sessions pinned to a dedicated node connection. */
  pinnedSessions = 0;
  /** Clients closed for malformed input. */
  protocolErrors = 0;
  /** Clients closed by client_idle. */
  idleClosed = 0;
  /** Times a client's reading was paused for back-pressure. */
  backpressurePauses = 0;
  /** Reads also sent to a second node after the hedge delay. */
  hedges = 0;
  /** Hedged reads whose second copy answered first. */
  hedgeWins = 0;
  /** Hedged reads still unanswered long after (counted against their node as `slow`). */
  slowReads = 0;
}
