/**
 * Telemetry: the structured logger, the one metrics table with its two
 * exports (Prometheus text, OpenTelemetry metrics), the per-command
 * recorder the data path writes into, and the tracer (sampled command
 * spans, health and reload spans). Imports nothing else of shardgate's:
 * command label values come in through `new CommandStats(names)`.
 *
 * ```ts
 * const stats = new CommandStats(COMMAND_NAMES);  // one per shard; names from resp
 * stats.record(commandIndex("get"), PortRole.readers, Outcome.ok, 180);
 * const tracer = new CommandTracer({ sampleRatio: 0.01 });
 * if (tracer.sample()) tracer.commandSpan({ ... });
 * const prom = new PrometheusExporter((w) => stats.collect("users", w));
 * ```
 *
 * @module
 */

export {
  type LogFields,
  type LogFormat,
  Logger,
  type LogLevel,
  type LogSink,
  silentLogger,
} from "./logger.ts";
export {
  type HistogramValue,
  type Labels,
  LATENCY_BUCKETS_SECONDS,
  METRIC_IDS,
  type MetricCollector,
  type MetricDef,
  type MetricId,
  METRICS,
  type MetricType,
  metricUnit,
  type MetricWriter,
  otelName,
} from "./metrics.ts";
export {
  CommandStats,
  type CommandTotals,
  NodeCommandCounters,
  Outcome,
  OUTCOME_NAMES,
  type OutcomeName,
  PortRole,
  ROLE_NAMES,
  type RoleName,
} from "./command_stats.ts";
export { PROMETHEUS_CONTENT_TYPE, PrometheusExporter } from "./prometheus.ts";
export {
  INSTRUMENTATION_SCOPE,
  type OtelMetricsHandle,
  registerOtelMetrics,
} from "./otel_metrics.ts";
export {
  type CommandAttempt,
  type CommandSpanData,
  CommandTracer,
  type CommandTracerOptions,
  epochMs,
  type NodeStateEvent,
  type ReloadEvent,
  tracingEnabled,
  type UpgradeEvent,
  type WriterSwitchEvent,
} from "./tracer.ts";
