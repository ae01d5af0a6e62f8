/**
 * Health of a shard's nodes: active checks (PING + INFO, replication-aware),
 * passive ejection from errors seen on traffic, one node state machine
 * (up / down / ejected / draining), and the routes the proxy follows — the
 * replicas that serve reads and the primary the writer goes to.
 *
 * ```ts
 * const health = new ShardHealth(shardConfig, { logger, onChange: (u) => shard.setRoutes(u) });
 * await health.start(); // first round of checks done: routes are real
 * health.reportError("10.0.0.7:6379", "timeout");
 * ```
 *
 * Rules worth knowing (details in `state.ts` and `info.ts`):
 * - The first check after `start()` decides a node's state directly; later
 *   transitions need `rise` passing / `fall` failing checks. Nodes added by
 *   `update()` need `rise` passes.
 * - A replica serves reads only if it answers, is not loading, is not in a
 *   full sync, has completed a sync since its process started (link up, or
 *   `master_link_down_since_seconds` within its uptime), and its lag is at
 *   most `max_lag` (the primary's `lag=` for it, else its own
 *   `master_last_io_seconds_ago`). A synced replica whose link broke keeps
 *   serving when `serveWhenLinkDown`. Negative verdicts apply at once;
 *   positive ones after `rise` checks. A new `run_id` (restart) re-earns reads.
 * - A check connection closed by the node takes the replica out of the
 *   readers at once and triggers an immediate re-check: whatever answers on
 *   that port now may be a fresh, empty process.
 * - Passive ejection: `errors` in `window` eject a replica for `cooldown`,
 *   doubling per repeated ejection up to `maxCooldownMs`; the doubling resets
 *   once the node stays un-ejected for as long as its next cooldown would
 *   last. It rejoins at the first passing check after the cooldown. At most
 *   floor(replicas × `maxEjectedPercent` / 100) replicas are ejected at once.
 *   The primary is never ejected.
 * - Primary: the one answering node reporting `role:master`; with several,
 *   the only one with connected replicas, else none (`primaryProblem` says why).
 * - TLS `insecure` skips the certificate name check only (Deno cannot skip
 *   chain verification per connection); self-signed servers need `caFile`.
 *
 * @module
 */

export { type HealthEvent, ShardHealth, type ShardHealthOptions } from "./shard_health.ts";
export type {
  CheckFail,
  CheckPass,
  CheckResult,
  NodeRole,
  NodeSnapshot,
  NodeStatus,
  PassiveErrorKind,
  RouteUpdate,
} from "./state.ts";
export { sameRoutes, ShardState, type ShardStateOptions } from "./state.ts";
export type { CheckSocket, ConnectFn, ConnectOptions } from "./_conn.ts";
export {
  assessReplica,
  type NodeInfo,
  parseInfoFields,
  parseNodeInfo,
  publicRole,
  type ReplicaLine,
  type ReplicaVerdict,
  syncedSinceStart,
} from "./info.ts";
