/**
 * The narrow view of a shard that its backends and client sessions use, so
 * they do not depend on the Shard class (and tests can fake it).
 *
 * @module
 */

import type { ShardSettings } from "../config/types.ts";
import type { Logger } from "../telemetry/logger.ts";
import type { Backend } from "./backend.ts";
import type { PassiveErrorKind } from "../config/types.ts";
import type { ShardCounters } from "./metrics.ts";

/** Listener role: readers spread over replicas, writer follows the primary. */
export type ListenerRole = "readers" | "writer";

/** What backends and sessions need from their shard. */
export interface ShardRuntime {
  /** Shard name. */
  readonly name: string;
  /** Current settings (replaced in place on reload). */
  readonly settings: ShardSettings;
  /** Counters for /metrics. */
  readonly counters: ShardCounters;
  /** Shard logger. */
  readonly logger: Logger;
  /** Monotonic-enough milliseconds. */
  now(): number;
  /** Reports a passive error for a node to the health checker. */
  nodeError(nodeId: string, kind: PassiveErrorKind): void;
  /** A retired backend has nothing in flight any more. */
  backendIdle(backend: Backend): void;
  /** The node for a read, avoiding `excludeId`; null when none can serve. */
  pickReader(excludeId: string): Backend | null;
  /** The node writes go to, or null. */
  writer(): Backend | null;
  /** The client error when `role` has no node. */
  noNodeError(role: ListenerRole): string;
}
