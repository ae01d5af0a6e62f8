/**
 * The split port's per-command choice: read-only commands go to the
 * shard's serving replicas exactly as on its readers port (multiplexed,
 * retried, hedged); everything else goes to the primary as on its writer
 * port, holds through a failover included. Commands whose target depends
 * on state — MULTI/EXEC/WATCH, blocking commands, pub/sub, scripts that may
 * write (EVAL, EVALSHA, FCALL) — are not reads by the command table, so
 * they pin to (or are sent to) the primary; EVAL_RO, EVALSHA_RO and
 * FCALL_RO are reads. Introspection (INFO, ROLE, CLIENT LIST) is not a
 * read either: it comes from the primary, and HELLO reports
 * `role: master`, so clients that look for a primary at connect accept
 * the port.
 *
 * ```
 *  client ─▶ split port ─ routeOf(command) ─┬─ READ, SCAN, SCRIPT_READ ─▶ replicas (balancer)
 *                                           └─ anything else ──────────▶ primary (or pinned to it)
 * ```
 *
 * @module
 */

import { Route } from "../resp/mod.ts";

/** True when a split port sends a command of `route` to the shard's replicas. */
export function splitReads(route: number): boolean {
  return route === Route.READ || route === Route.SCAN || route === Route.SCRIPT_READ;
}
