/**
 * The admin HTTP port: `/healthz`, `/readyz`, `/status` (JSON), `/metrics`
 * (Prometheus text) and `/`, a live status page. It only reads snapshots
 * through an {@link AdminSource} that app.ts provides; the same snapshots
 * feed the OpenTelemetry metrics ({@link metricsCollector}).
 *
 * ```ts
 * const admin = new AdminServer(source, logger);
 * const { port } = admin.listen(config.admin.listen);
 * ```
 *
 * @module
 */

export { type AdminBound, AdminServer, loadNodeHttp } from "./server.ts";
export { metricsCollector } from "./collect.ts";
export {
  histogramQuantile,
  History,
  type HistoryDoc,
  type HistoryEvent,
  type HistoryOptions,
} from "./history.ts";
export { type Readiness, readiness, shardProblems } from "./readiness.ts";
export {
  buildStatus,
  type NodeStatusDoc,
  type RouterStatusDoc,
  type SessionCounts,
  type ShardStatusDoc,
  type StatusDoc,
} from "./status.ts";
export type {
  AdminSource,
  LastReload,
  ListenerInfo,
  ReloadSnapshot,
  RouterSource,
  ShardSource,
} from "./source.ts";
