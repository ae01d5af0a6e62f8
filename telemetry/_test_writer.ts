/**
 * A {@link MetricWriter} that keeps what it is given, for unit tests.
 *
 * @module
 */

import type { HistogramValue, Labels, MetricId, MetricWriter } from "./metrics.ts";

/** One written series. */
export interface WrittenSeries {
  readonly id: MetricId;
  readonly labels: Labels;
  readonly value?: number;
  readonly histogram?: { counts: number[]; sum: number };
}

/** Records every series written to it. */
export class RecordingWriter implements MetricWriter {
  /** Everything written, in order. */
  readonly series: WrittenSeries[] = [];

  /** Records a counter or gauge value. */
  value(id: MetricId, labels: Labels, value: number): void {
    this.series.push({ id, labels: { ...labels }, value });
  }

  /** Records a histogram (counts copied). */
  histogram(id: MetricId, labels: Labels, h: HistogramValue): void {
    this.series.push({
      id,
      labels: { ...labels },
      histogram: { counts: [...Array.from(h.counts)], sum: h.sum },
    });
  }

  /** The series of `id` whose labels include `match`. */
  find(id: MetricId, match: Labels = {}): WrittenSeries[] {
    return this.series.filter((s) =>
      s.id === id && Object.entries(match).every(([k, v]) => s.labels[k] === v)
    );
  }
}
