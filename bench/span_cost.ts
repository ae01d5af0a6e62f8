/**
 * What one sampled command span costs, CPU included the exporter's threads.
 *
 * ```sh
 * deno run --allow-all bench/span_cost.ts [spans=16000]
 * ```
 *
 * The parent starts a local OTLP/HTTP sink and runs this file again as a
 * child with `OTEL_DENO=true` pointed at it. The child makes spans the way the
 * proxy does (`CommandTracer.commandSpan`, one attempt event), 400 every
 * 100 ms, waits for the exporter to flush, and prints its process CPU time
 * (all threads) per span, less that of an idle run of the same length.
 * Multiply by the sample ratio and compare with a command's CPU
 * (`bench/cpu_per_op.sh`) for tracing's cost per command.
 *
 * @module
 */

import process from "node:process";
import { CommandTracer } from "../telemetry/tracer.ts";

const BATCH = 400;
const BATCH_GAP_MS = 100;
/** Longer than Deno's batch span processor's delay, so every span is exported inside the window. */
const FLUSH_WAIT_MS = 7_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * CPU milliseconds (user + system, all threads) over `batches` batches of
 * `perBatch` spans, {@link BATCH_GAP_MS} apart, and the exporter's flush.
 */
async function measure(tracer: CommandTracer, batches: number, perBatch: number): Promise<number> {
  const c0 = process.cpuUsage();
  for (let b = 0; b < batches; b++) {
    for (let i = 0; i < perBatch; i++) {
      const now = Date.now();
      tracer.commandSpan({
        command: "get",
        shard: "bench",
        role: "readers",
        node: "127.0.0.1:6379",
        db: 0,
        startTime: now,
        endTime: now,
        retries: 0,
        pinned: false,
        outcome: "ok",
        attempts: [{ kind: "send", node: "127.0.0.1:6379", result: "ok", time: now }],
      });
    }
    await sleep(BATCH_GAP_MS);
  }
  await sleep(FLUSH_WAIT_MS);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

async function child(n: number): Promise<void> {
  const tracer = new CommandTracer({ sampleRatio: 1, version: "bench" });
  if (!tracer.enabled) throw new Error("OpenTelemetry is off in the child (OTEL_DENO)");
  const batches = Math.ceil(n / BATCH);
  await measure(tracer, 5, BATCH); // warm up the JIT and the exporter
  // The idle run has the same batches and waits, with no spans in them.
  const idle = await measure(tracer, batches, 0);
  const busy = await measure(tracer, batches, BATCH);
  console.log(JSON.stringify({ spans: batches * BATCH, cpuMs: busy, idleCpuMs: idle }));
}

async function parent(n: number): Promise<void> {
  let requests = 0;
  const sink = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    await req.arrayBuffer();
    requests++;
    return new Response(null, { status: 200 });
  });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", new URL(import.meta.url).pathname, String(n)],
      env: {
        OTEL_DENO: "true",
        OTEL_SERVICE_NAME: "shardgate-span-cost",
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sink.addr.port}`,
        SPAN_COST_CHILD: "1",
      },
      stderr: "inherit",
    }).output();
    if (!out.success) throw new Error(`child exited ${out.code}`);
    const r = JSON.parse(new TextDecoder().decode(out.stdout)) as {
      spans: number;
      cpuMs: number;
      idleCpuMs: number;
    };
    const perSpanUs = ((r.cpuMs - r.idleCpuMs) * 1000) / r.spans;
    console.log(
      `${r.spans} spans: ${perSpanUs.toFixed(1)} µs CPU per span (made and exported;` +
        ` ${requests} OTLP requests); at sample_ratio 0.01 that is` +
        ` ${(perSpanUs / 100).toFixed(2)} µs per command`,
    );
  } finally {
    await sink.shutdown();
  }
}

if (import.meta.main) {
  const n = Number(Deno.args[0] ?? 16_000);
  if (!Number.isInteger(n) || n <= 0) {
    throw new Error(`spans must be a positive integer: ${Deno.args[0]}`);
  }
  await (Deno.env.get("SPAN_COST_CHILD") === "1" ? child(n) : parent(n));
}
