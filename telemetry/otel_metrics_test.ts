import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import type { BatchObservableCallback, Meter, Observable } from "@opentelemetry/api";
import { LATENCY_BUCKETS_SECONDS, METRIC_IDS, METRICS } from "./metrics.ts";
import { registerOtelMetrics } from "./otel_metrics.ts";

/** A Meter that records instruments and runs the batch callbacks on demand. */
class FakeMeter {
  readonly instruments = new Map<string, { kind: string; unit?: string }>();
  callbacks: BatchObservableCallback[] = [];

  #make(kind: string) {
    return (name: string, opts?: { unit?: string }): Observable => {
      this.instruments.set(name, { kind, unit: opts?.unit });
      return { name } as unknown as Observable;
    };
  }
  createObservableCounter = this.#make("counter");
  createObservableGauge = this.#make("gauge");
  addBatchObservableCallback(cb: BatchObservableCallback): void {
    this.callbacks.push(cb);
  }
  removeBatchObservableCallback(cb: BatchObservableCallback): void {
    this.callbacks = this.callbacks.filter((c) => c !== cb);
  }

  /** Runs one collection: instrument name → observations. */
  collect(): Map<string, { value: number; attrs: Record<string, unknown> }[]> {
    const out = new Map<string, { value: number; attrs: Record<string, unknown> }[]>();
    for (const cb of this.callbacks) {
      void cb({
        observe: (o: Observable, value: number, attrs: Record<string, unknown> = {}) => {
          const name = (o as unknown as { name: string }).name;
          out.set(name, [...(out.get(name) ?? []), { value, attrs }]);
        },
      });
    }
    return out;
  }
}

Deno.test("registerOtelMetrics() makes one observable instrument per table row (three per histogram)", () => {
  const meter = new FakeMeter();
  registerOtelMetrics(() => {}, "0.0.0", meter as unknown as Meter);
  assertEquals(meter.instruments.get("shardgate_commands")?.kind, "counter");
  assertEquals(meter.instruments.get("shardgate_client_connections")?.kind, "gauge");
  assertEquals(meter.instruments.get("shardgate_command_duration_seconds_sum")?.unit, "s");
  assert(meter.instruments.has("shardgate_command_duration_seconds_bucket"));
  assert(meter.instruments.has("shardgate_command_duration_seconds_count"));
  const histograms = METRIC_IDS.filter((id) => METRICS[id].type === "histogram").length;
  assertEquals(meter.instruments.size, METRIC_IDS.length + 2 * histograms);
});

Deno.test("registerOtelMetrics() observes the collector's values at each collection until closed", () => {
  const meter = new FakeMeter();
  let retries = 0;
  const handle = registerOtelMetrics(
    (w) => {
      w.value("retries", { shard: "a" }, ++retries);
      const counts = new Array(LATENCY_BUCKETS_SECONDS.length + 1).fill(0);
      counts[1] = 2;
      counts[counts.length - 1] = 1;
      w.histogram("commandDuration", { shard: "a", command: "get" }, { counts, sum: 3 });
    },
    "0.0.0",
    meter as unknown as Meter,
  );
  meter.collect();
  const seen = meter.collect();
  assertEquals(seen.get("shardgate_retries"), [{ value: 2, attrs: { shard: "a" } }]);
  const buckets = seen.get("shardgate_command_duration_seconds_bucket")!;
  assertEquals(buckets.length, LATENCY_BUCKETS_SECONDS.length + 1);
  assertEquals(buckets[0].value, 0);
  assertEquals(buckets[1], { value: 2, attrs: { shard: "a", command: "get", le: "0.0001" } });
  assertEquals(buckets[buckets.length - 1].attrs.le, "+Inf");
  assertEquals(buckets[buckets.length - 1].value, 3);
  assertEquals(seen.get("shardgate_command_duration_seconds_count")?.[0].value, 3);
  assertEquals(seen.get("shardgate_command_duration_seconds_sum")?.[0].value, 3);
  handle.close();
  assertEquals(meter.collect().size, 0);
});
