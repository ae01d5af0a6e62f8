/**
 * Read-only snapshots of a shard's data path, for the admin port and
 * metrics. Taken on demand (a scrape, a status request), never on the hot
 * path.
 *
 * @module
 */

/** Counts by protocol spoken with the client or the node. */
export interface ByProtocol {
  /** RESP2 connections. */
  readonly resp2: number;
  /** RESP3 connections. */
  readonly resp3: number;
}

/** One node as the proxy sees it. */
export interface NodeStats {
  /** Node id (`host:port`). */
  readonly id: string;
  /** Commands in flight on its multiplexed connections. */
  readonly inflight: number;
  /** Open multiplexed connections, by protocol. */
  readonly connections: ByProtocol;
  /** Open dedicated connections of pinned sessions. */
  readonly pinnedConnections: number;
  /** How long the oldest command in flight on its multiplexed connections has waited (ms), or 0. */
  readonly oldestMs: number;
  /** Commands hit by injected faults, by kind (indexes of `FAULT_KINDS`: delay, error, drop, blackhole). */
  readonly faults: ArrayLike<number>;
}

/** One shard's data path now. */
export interface ShardStats {
  /** Open client sessions by protocol (pinned ones included). */
  readonly clients: ByProtocol;
  /** Sessions pinned to a dedicated node connection now. */
  readonly pinned: number;
  /** Nodes in config order (nodes retired by a reload and still draining last). */
  readonly nodes: readonly NodeStats[];
}
