import { deepStrictEqual as assertEquals } from "node:assert/strict";
import {
  family,
  histogramSeries,
  parsePrometheus,
  sampleValue,
} from "../tests/helpers/prometheus.ts";
import { LATENCY_BUCKETS_SECONDS, METRIC_IDS, METRICS } from "./metrics.ts";
import { PrometheusExporter } from "./prometheus.ts";

Deno.test("PrometheusExporter.scrape() exposes every table row with its help and type", async () => {
  const exporter = new PrometheusExporter(() => {});
  const families = parsePrometheus(await exporter.scrape());
  for (const id of METRIC_IDS) {
    const f = family(families, METRICS[id].name);
    assertEquals(f.help, METRICS[id].help);
    assertEquals(f.type, METRICS[id].type.toUpperCase());
  }
});

Deno.test("PrometheusExporter.scrape() writes this scrape's values, escaped, histograms cumulative", async () => {
  let round = 0;
  const exporter = new PrometheusExporter((w) => {
    round++;
    w.value("retries", { shard: 'we"ird\nname' }, 7 * round);
    if (round === 1) w.value("nodeInflight", { shard: "a", node: "10.0.0.1:6379" }, 3);
    const counts = new Array(LATENCY_BUCKETS_SECONDS.length + 1).fill(0);
    counts[0] = 2;
    counts[3] = 1;
    counts[counts.length - 1] = 1;
    w.histogram("commandDuration", { shard: "a", command: "get" }, { counts, sum: 6.5 });
  });
  let families = parsePrometheus(await exporter.scrape());
  assertEquals(sampleValue(families, "shardgate_retries_total", { shard: 'we"ird\nname' }), 7);
  assertEquals(
    sampleValue(families, "shardgate_node_inflight_commands", { node: "10.0.0.1:6379" }),
    3,
  );
  const h = histogramSeries(families, "shardgate_command_duration_seconds", { command: "get" })!;
  assertEquals(h.buckets["5e-05"] ?? h.buckets["0.00005"], "2");
  assertEquals(h.buckets["0.0005"], "3");
  assertEquals(h.buckets["+Inf"], "4");
  assertEquals(Number(h.count), 4);
  assertEquals(Number(h.sum), 6.5);

  families = parsePrometheus(await exporter.scrape());
  assertEquals(sampleValue(families, "shardgate_retries_total", { shard: 'we"ird\nname' }), 14);
  assertEquals(
    sampleValue(families, "shardgate_node_inflight_commands", { node: "10.0.0.1:6379" }),
    undefined,
    "a series not written in this scrape is gone",
  );
});

Deno.test("PrometheusExporter: one collection serves concurrent scrapes", async () => {
  let collections = 0;
  const exporter = new PrometheusExporter(() => void collections++);
  const [a, b] = await Promise.all([exporter.scrape(), exporter.scrape()]);
  assertEquals(collections, 1);
  assertEquals(a, b);
  await exporter.scrape();
  assertEquals(collections as number, 2);
});
