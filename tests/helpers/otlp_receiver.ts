/**
 * A small OTLP/HTTP receiver (JSON encoding) on a free loopback port, for
 * tests of what shardgate exports with `OTEL_DENO=true`: spans from
 * `/v1/traces` and data points from `/v1/metrics`, flattened for
 * assertions. Logs (`/v1/logs`) are accepted and dropped.
 *
 * ```ts
 * await using otlp = await startOtlpReceiver();
 * const sg = await startShardgate(yaml, { env: otlp.env() });
 * const span = await otlp.waitForSpan((s) => s.name === "GET");
 * ```
 *
 * @module
 */

import { WAIT_FOR_TIMEOUT_MS } from "./_defaults.ts";

/** An attribute value as OTLP JSON carries it, decoded. */
export type AttrValue = string | number | boolean | null | AttrValue[];

/** A received span. */
export interface ReceivedSpan {
  readonly name: string;
  readonly traceId: string;
  readonly spanId: string;
  /** "" for a root span. */
  readonly parentSpanId: string;
  readonly kind: number;
  /** Epoch ms. */
  readonly startMs: number;
  readonly endMs: number;
  readonly attributes: Readonly<Record<string, AttrValue>>;
  readonly events: readonly {
    readonly name: string;
    readonly timeMs: number;
    readonly attributes: Readonly<Record<string, AttrValue>>;
  }[];
  /** 0 unset, 1 ok, 2 error. */
  readonly status: { readonly code: number; readonly message: string };
  /** `service.name` of the resource. */
  readonly service: string;
  /** Instrumentation scope name. */
  readonly scope: string;
}

/** A received metric data point (sums and gauges). */
export interface ReceivedPoint {
  readonly metric: string;
  readonly attributes: Readonly<Record<string, AttrValue>>;
  readonly value: number;
  /** Epoch ms of the collection. */
  readonly timeMs: number;
}

/** Environment that points shardgate's OpenTelemetry export at the receiver, quickly. */
export interface OtlpEnvOptions {
  /** Span batch delay (`OTEL_BSP_SCHEDULE_DELAY`), ms; default 100. */
  spanDelayMs?: number;
  /** Metric export interval (`OTEL_METRIC_EXPORT_INTERVAL`), ms; default 500. */
  metricIntervalMs?: number;
}

interface AnyValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: AnyValue[] };
}
interface KeyValue {
  key: string;
  value: AnyValue;
}

function decode(v: AnyValue | undefined): AttrValue {
  if (v === undefined) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(decode);
  return null;
}

function attrs(list: KeyValue[] | undefined): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const kv of list ?? []) out[kv.key] = decode(kv.value);
  return out;
}

const nanosToMs = (n: string | number | undefined): number => Number(BigInt(n ?? 0) / 1000n) / 1000;

interface Waiter<T> {
  readonly pred: (x: T) => boolean;
  readonly resolve: (x: T) => void;
}

/** A running receiver; `close()` (or `await using`) stops it. */
export class OtlpReceiver {
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #spans: ReceivedSpan[] = [];
  readonly #points: ReceivedPoint[] = [];
  #spanWaiters = new Set<Waiter<ReceivedSpan>>();
  #pointWaiters = new Set<Waiter<ReceivedPoint>>();
  /** Requests that were not valid OTLP JSON (should stay 0). */
  badRequests = 0;

  /** Use {@linkcode startOtlpReceiver}. */
  constructor() {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (req) => this.#handle(req),
    );
  }

  /** The receiver's base URL (`OTEL_EXPORTER_OTLP_ENDPOINT`). */
  get endpoint(): string {
    return `http://127.0.0.1:${this.#server.addr.port}`;
  }

  /** Environment for a process that should export here over OTLP/HTTP JSON. */
  env(opts: OtlpEnvOptions = {}): Record<string, string> {
    return {
      OTEL_DENO: "true",
      OTEL_SERVICE_NAME: "shardgate-test",
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_EXPORTER_OTLP_ENDPOINT: this.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: String(opts.spanDelayMs ?? 100),
      OTEL_METRIC_EXPORT_INTERVAL: String(opts.metricIntervalMs ?? 500),
    };
  }

  /** Every span received so far. */
  spans(): ReceivedSpan[] {
    return [...this.#spans];
  }

  /** Every metric data point received so far. */
  points(): ReceivedPoint[] {
    return [...this.#points];
  }

  /** Resolves with the first span (received so far or later) matching `pred`. */
  waitForSpan(
    pred: (s: ReceivedSpan) => boolean,
    timeoutMs = WAIT_FOR_TIMEOUT_MS,
    what = "a matching span",
  ): Promise<ReceivedSpan> {
    return this.#wait(this.#spans, this.#spanWaiters, pred, timeoutMs, what);
  }

  /** Resolves with the first metric point (received so far or later) matching `pred`. */
  waitForPoint(
    pred: (p: ReceivedPoint) => boolean,
    timeoutMs = WAIT_FOR_TIMEOUT_MS,
    what = "a matching metric point",
  ): Promise<ReceivedPoint> {
    return this.#wait(this.#points, this.#pointWaiters, pred, timeoutMs, what);
  }

  #wait<T>(
    have: readonly T[],
    waiters: Set<Waiter<T>>,
    pred: (x: T) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<T> {
    const found = have.find(pred);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        pred,
        resolve: (x) => {
          clearTimeout(timer);
          resolve(x);
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        const names = [...new Set(this.#spans.map((s) => s.name))].join(", ");
        reject(
          new Error(
            `OTLP receiver: no ${what} within ${timeoutMs} ms (${this.#spans.length} spans: ${names}; ` +
              `${this.#points.length} metric points)`,
          ),
        );
      }, timeoutMs);
      waiters.add(waiter);
    });
  }

  async #handle(req: Request): Promise<Response> {
    const path = new URL(req.url).pathname;
    let body: Record<string, unknown>;
    try {
      body = await req.json();
    } catch {
      this.badRequests++;
      return new Response("bad request\n", { status: 400 });
    }
    if (path === "/v1/traces") this.#traces(body);
    else if (path === "/v1/metrics") this.#metrics(body);
    return Response.json({});
  }

  // deno-lint-ignore no-explicit-any
  #traces(body: any): void {
    for (const rs of body.resourceSpans ?? []) {
      const service = String(attrs(rs.resource?.attributes)["service.name"] ?? "");
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          const span: ReceivedSpan = {
            name: s.name,
            traceId: s.traceId,
            spanId: s.spanId,
            parentSpanId: s.parentSpanId ?? "",
            kind: s.kind ?? 0,
            startMs: nanosToMs(s.startTimeUnixNano),
            endMs: nanosToMs(s.endTimeUnixNano),
            attributes: attrs(s.attributes),
            // deno-lint-ignore no-explicit-any
            events: (s.events ?? []).map((e: any) => ({
              name: e.name,
              timeMs: nanosToMs(e.timeUnixNano),
              attributes: attrs(e.attributes),
            })),
            status: { code: s.status?.code ?? 0, message: s.status?.message ?? "" },
            service,
            scope: ss.scope?.name ?? "",
          };
          this.#spans.push(span);
          for (const w of this.#spanWaiters) {
            if (w.pred(span)) {
              this.#spanWaiters.delete(w);
              w.resolve(span);
            }
          }
        }
      }
    }
  }

  // deno-lint-ignore no-explicit-any
  #metrics(body: any): void {
    for (const rm of body.resourceMetrics ?? []) {
      for (const sm of rm.scopeMetrics ?? []) {
        for (const m of sm.metrics ?? []) {
          const points = m.sum?.dataPoints ?? m.gauge?.dataPoints ?? [];
          for (const dp of points) {
            const point: ReceivedPoint = {
              metric: m.name,
              attributes: attrs(dp.attributes),
              value: Number(dp.asDouble ?? dp.asInt ?? 0),
              timeMs: nanosToMs(dp.timeUnixNano),
            };
            this.#points.push(point);
            for (const w of this.#pointWaiters) {
              if (w.pred(point)) {
                this.#pointWaiters.delete(w);
                w.resolve(point);
              }
            }
          }
        }
      }
    }
  }

  /** Stops the receiver. */
  async close(): Promise<void> {
    await this.#server.shutdown();
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Starts a receiver on a free loopback port. */
export function startOtlpReceiver(): Promise<OtlpReceiver> {
  return Promise.resolve(new OtlpReceiver());
}
