/**
 * Prometheus text exposition of the metrics table, formatted by the
 * `prom-client` library (escaping, label syntax, histogram series). Each
 * table row becomes one registered metric whose values are the ones the
 * collector wrote during this scrape; nothing is kept between scrapes, so
 * a node removed by a reload disappears from the next scrape.
 *
 * ```ts
 * const exporter = new PrometheusExporter((w) => collectEverything(w));
 * const body = await exporter.scrape(); // text/plain; version=0.0.4
 * ```
 *
 * @module
 */

import { Registry } from "prom-client";
import {
  eachBucket,
  type HistogramValue,
  type Labels,
  METRIC_IDS,
  type MetricCollector,
  type MetricDef,
  type MetricId,
  METRICS,
  type MetricWriter,
} from "./metrics.ts";

/** The Content-Type of {@link PrometheusExporter.scrape}'s text. */
export const PROMETHEUS_CONTENT_TYPE: string = Registry.PROMETHEUS_CONTENT_TYPE;

/** One exposition line as prom-client's registry formats it. */
interface PromValue {
  metricName?: string;
  labels: Record<string, string | number>;
  value: number;
}

/** Collects one scrape's values per metric name. */
class ScrapeWriter implements MetricWriter {
  readonly values = new Map<MetricId, PromValue[]>();

  value(id: MetricId, labels: Labels, value: number): void {
    this.#list(id).push({ labels: { ...labels }, value });
  }

  histogram(id: MetricId, labels: Labels, h: HistogramValue): void {
    const def: MetricDef = METRICS[id];
    const list = this.#list(id);
    const count = eachBucket(def, h, (le, cumulative) => {
      list.push({ metricName: `${def.name}_bucket`, labels: { ...labels, le }, value: cumulative });
    });
    list.push({ metricName: `${def.name}_sum`, labels: { ...labels }, value: h.sum });
    list.push({ metricName: `${def.name}_count`, labels: { ...labels }, value: count });
  }

  #list(id: MetricId): PromValue[] {
    let list = this.values.get(id);
    if (list === undefined) {
      list = [];
      this.values.set(id, list);
    }
    return list;
  }
}

/** Serves the metrics table in the Prometheus text format. */
export class PrometheusExporter {
  #registry = new Registry();
  #collect: MetricCollector;
  #current: ScrapeWriter = new ScrapeWriter();
  #scraping: Promise<string> | null = null;

  /** Registers every metric of the table; `collect` supplies the values at each scrape. */
  constructor(collect: MetricCollector) {
    this.#collect = collect;
    for (const id of METRIC_IDS) {
      const def: MetricDef = METRICS[id];
      this.#registry.registerMetric(
        {
          name: def.name,
          get: () => ({
            name: def.name,
            help: def.help,
            type: def.type,
            aggregator: "sum",
            values: this.#current.values.get(id) ?? [],
          }),
        } as unknown as Parameters<Registry["registerMetric"]>[0],
      );
    }
  }

  /**
   * Collects the current values and returns them as Prometheus text.
   * Concurrent scrapes share one collection.
   */
  scrape(): Promise<string> {
    this.#scraping ??= (async () => {
      try {
        const w = new ScrapeWriter();
        this.#collect(w);
        this.#current = w;
        return await this.#registry.metrics();
      } finally {
        this.#scraping = null;
      }
    })();
    return this.#scraping;
  }
}
