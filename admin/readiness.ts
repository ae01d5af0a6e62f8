/**
 * Readiness (`/readyz`): ready while every readers port has a node to send
 * reads to and every writer port has a primary.
 *
 * @module
 */

import type { ShardSource } from "./source.ts";

/** Ready, or why not. */
export interface Readiness {
  readonly ready: boolean;
  /** One line per problem; empty when ready. */
  readonly reasons: readonly string[];
}

/** The problems of one shard (empty when it serves both ports). */
export function shardProblems(s: ShardSource): string[] {
  const out: string[] = [];
  const r = s.routes;
  const claimants = r.claimants?.length ?? 0;
  // While a failover leaves several nodes claiming role:master, reads go to one of them (for up
  // to timeouts.failover: the shard says when that ran out).
  const fallback = s.config.fallback === "primary" && (r.primary !== null || claimants > 0);
  if (!(s.hasReadTarget ?? (r.readers.length > 0 || fallback))) {
    const why = s.config.fallback === "none"
      ? "no replica serves reads and fallback is none"
      : r.primary === null && claimants > 0
      ? `no replica serves reads and ${claimants} nodes have claimed role:master for longer than timeouts.failover`
      : `no replica serves reads and there is no primary (${r.primaryProblem ?? "unknown"})`;
    out.push(`shard ${s.name}: readers port has no serving node: ${why}`);
  }
  if (s.config.writer !== null && r.primary === null) {
    out.push(`shard ${s.name}: writer port has no primary: ${r.primaryProblem ?? "unknown"}`);
  }
  return out;
}

/** Whether the process is ready to take traffic, and every reason it is not. */
export function readiness(stopping: boolean, shards: readonly ShardSource[]): Readiness {
  const reasons: string[] = [];
  if (stopping) reasons.push("shutting down");
  for (const s of shards) reasons.push(...shardProblems(s));
  return { ready: reasons.length === 0, reasons };
}
