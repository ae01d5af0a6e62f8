/**
 * OpenTelemetry traces through `@opentelemetry/api`: sampled spans per
 * proxied command, and spans for node state changes, writer switches and
 * config reloads. With `OTEL_DENO=true` Deno registers its TracerProvider
 * and exports to the standard `OTEL_EXPORTER_OTLP_*` endpoint (batched every
 * `OTEL_BSP_SCHEDULE_DELAY` ms, flushed at exit); otherwise every method
 * here returns at once.
 *
 * RESP carries no W3C trace context, so a command span is always a root
 * span: it cannot join the application's trace.
 *
 * ## What the session core calls, and when
 *
 * One {@link CommandTracer} for the process (app.ts makes it and gives it
 * to every shard; a reload changes its ratio in place).
 *
 * 1. When a command is framed: `const sampled = tracer.sample();` — a
 *    number compare and one `Math.random()` when tracing is on; `false`
 *    without allocating anything when it is off or the ratio is 0. Keep the
 *    boolean (and the start time, `epochMs()` or `performance.timeOrigin +
 *    performance.now()`) in the reply slot.
 * 2. Only when `sampled`: note each attempt (`{ kind: "send" | "retry" |
 *    "hedge", node, time, result }`) as it is sent and finishes.
 * 3. When the reply is final, only when `sampled`:
 *    `tracer.commandSpan({ command, shard, role, node, db, startTime,
 *    endTime: epochMs(), retries, pinned, outcome, error, attempts })`.
 *    The span is created after the fact with the recorded start time, its
 *    attributes and one event per attempt, and ended at `endTime`.
 *
 * Attributes follow the database semantic conventions (`db.system.name`
 * `redis`, `db.operation.name`, `db.namespace` = database index,
 * `server.address`, `server.port`, `db.response.status_code`, `error.type`)
 * plus `shardgate.shard`, `shardgate.port_role`, `shardgate.node`,
 * `shardgate.retries`, `shardgate.pinned` and `shardgate.outcome`, and
 * `shardgate.fault_injected: true` on a command an injected fault hit.
 *
 * @module
 */

import type { OutcomeName, RoleName } from "./command_stats.ts";
import {
  type Attributes,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
} from "@opentelemetry/api";
import { INSTRUMENTATION_SCOPE } from "./otel_metrics.ts";

/** Milliseconds since the Unix epoch, sub-millisecond, from the monotonic clock. No allocation. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/** One send of a command to a node. */
export interface CommandAttempt {
  /** First send, a retry after a failure, or a hedge (a second node for a slow read). */
  readonly kind: "send" | "retry" | "hedge";
  /** Node id (`host:port`). */
  readonly node: string;
  /** When it was sent, epoch ms. */
  readonly time: number;
  /** How it ended: `ok`, `error`, `won`, `lost`, `timeout`, `connection lost`, `connect failed`… */
  readonly result: string;
}

/** A finished command, as the data path describes it to {@link CommandTracer.commandSpan}. */
export interface CommandSpanData {
  /** Command name as the command table has it (`get`, `client|setname`); undefined if unknown. */
  readonly command: string | undefined;
  /** Shard name. */
  readonly shard: string;
  /** Port role the client used. */
  readonly role: RoleName;
  /** Node that gave the final reply (`host:port`), or null when none did. */
  readonly node: string | null;
  /** Database index of the client's session. */
  readonly db: number;
  /** When the command arrived, epoch ms. */
  readonly startTime: number;
  /** When its reply was ready, epoch ms. */
  readonly endTime: number;
  /** Times it was re-sent to another node. */
  readonly retries: number;
  /** The client is pinned to a dedicated node connection. */
  readonly pinned: boolean;
  /** ok, error (the node's error reply) or failed (a shardgate error). */
  readonly outcome: OutcomeName;
  /** The error reply's text (without `-`), for error and failed. */
  readonly error?: string | null;
  /** Every send, in order (first send, retries, hedges). */
  readonly attempts?: readonly CommandAttempt[];
  /** An injected fault (config `faults:`) hit one of its sends: a rehearsal, not an outage. */
  readonly fault?: boolean;
  /** Answered by the near cache (no node involved). */
  readonly cache?: boolean;
}

/** A node whose state changed (health checks or passive ejection). */
export interface NodeStateEvent {
  readonly shard: string;
  /** Node id (`host:port`). */
  readonly node: string;
  /** Previous state: up, down, ejected, draining. */
  readonly from: string;
  /** New state. */
  readonly to: string;
  /** Why, as the status page shows it. */
  readonly reason: string;
  /** Role the node last reported. */
  readonly role: string;
  /** When, epoch ms. */
  readonly time: number;
}

/** The writer port switched to another node (or to none). */
export interface WriterSwitchEvent {
  readonly shard: string;
  /** Previous primary, or null. */
  readonly from: string | null;
  /** New primary, or null when there is none. */
  readonly to: string | null;
  /** Why there is no primary, when `to` is null. */
  readonly reason: string | null;
  /** When, epoch ms. */
  readonly time: number;
}

/** One config reload. */
export interface ReloadEvent {
  /** The config file. */
  readonly file: string;
  /** When the reload started and ended, epoch ms. */
  readonly startTime: number;
  readonly endTime: number;
  /** Applied (a valid config) or rejected. */
  readonly ok: boolean;
  /** The change summary of an applied reload. */
  readonly summary?: string;
  /** The errors of a rejected reload (`file:line:col: path: message`). */
  readonly errors?: readonly string[];
}

/** One upgrade attempt (SIGUSR2), for {@link CommandTracer.upgradeSpan}. */
export interface UpgradeEvent {
  /** The command that started the new process. */
  readonly command: string;
  /** Listening sockets handed over. */
  readonly sockets: number;
  /** The new process's pid, once started. */
  readonly pid: number | null;
  /** When it started and ended (handed over and drained, or rolled back), epoch ms. */
  readonly startTime: number;
  readonly endTime: number;
  /** Handed over, or rolled back. */
  readonly ok: boolean;
  /** Why it rolled back. */
  readonly reason?: string;
  /** The steps, each with its time (epoch ms): spawned, ready, drained, rolled back. */
  readonly steps: readonly { readonly name: string; readonly time: number }[];
}

/** Options of {@link CommandTracer}. */
export interface CommandTracerOptions {
  /**
   * Command spans are made in batches at most this often (ms), off the
   * command's own turn; 0 makes each at once. See {@link CommandTracer.commandSpan}.
   */
  readonly batchMs?: number;
  /** A batch is made at once when it holds this many commands (default 256). */
  readonly batchMax?: number;
  /** Share of commands traced, 0..1 (`telemetry.sample_ratio`). */
  readonly sampleRatio: number;
  /** Build version (instrumentation scope version). */
  readonly version?: string;
  /** A tracer to use instead of the global one (tests). */
  readonly tracer?: Tracer;
  /** Whether spans are exported; default: whether the tracer records spans (OTel on). */
  readonly enabled?: boolean;
}

/**
 * True when the global TracerProvider records spans (Deno with
 * `OTEL_DENO=true`). Asked once: a probe span is started and never ended,
 * so nothing is exported.
 */
export function tracingEnabled(tracer: Tracer): boolean {
  return tracer.startSpan("shardgate.probe", { root: true }).isRecording();
}

/** Sampling and span creation for the data path, health and reloads. */
export class CommandTracer {
  #tracer: Tracer;
  #enabled: boolean;
  #ratio = 0;
  #effective = 0;
  #batchMs: number;
  #batchMax: number;
  #queue: CommandSpanData[] = [];
  #timer: ReturnType<typeof setTimeout> | null = null;
  #flushFn = (): void => this.flush();
  /** `server.address` and `server.port` by node id (a handful of nodes; split once). */
  #nodes = new Map<string, { host: string; port: number }>();

  /** Creates the tracer; spans are exported only when OpenTelemetry is on. */
  constructor(opts: CommandTracerOptions) {
    this.#tracer = opts.tracer ?? trace.getTracer(INSTRUMENTATION_SCOPE, opts.version);
    this.#enabled = opts.enabled ?? tracingEnabled(this.#tracer);
    this.#batchMs = opts.batchMs ?? 0;
    this.#batchMax = opts.batchMax ?? 256;
    this.setSampleRatio(opts.sampleRatio);
  }

  /** True when spans are exported (OpenTelemetry is on). */
  get enabled(): boolean {
    return this.#enabled;
  }

  /** The configured share of commands traced. */
  get sampleRatio(): number {
    return this.#ratio;
  }

  /** Changes the share of commands traced (a reload of `telemetry.sample_ratio`). */
  setSampleRatio(ratio: number): void {
    this.#ratio = Math.min(1, Math.max(0, ratio));
    this.#effective = this.#enabled ? this.#ratio : 0;
  }

  /**
   * Whether to trace this command. No allocation; without OpenTelemetry,
   * or at ratio 0, one compare.
   */
  sample(): boolean {
    const r = this.#effective;
    return r > 0 && (r >= 1 || Math.random() < r);
  }

  /**
   * The span of a sampled command (see the module doc). With `batchMs`,
   * its data is queued and the spans are made together on a timer (or when
   * `batchMax` are queued): the command's own turn pays one array push, and
   * Deno's exporter thread is handed spans in bursts instead of being woken
   * for each one. Times are the recorded ones, so a span is the same either way.
   */
  commandSpan(c: CommandSpanData): void {
    if (!this.#enabled) return;
    if (this.#batchMs <= 0) {
      this.#commandSpan(c);
      return;
    }
    const q = this.#queue;
    q.push(c);
    if (q.length >= this.#batchMax) this.flush();
    else if (this.#timer === null) {
      this.#timer = setTimeout(this.#flushFn, this.#batchMs);
    }
  }

  /** Makes the spans of every queued command now (a timer does; so does shutdown). */
  flush(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const q = this.#queue;
    if (q.length === 0) return;
    this.#queue = [];
    for (let i = 0; i < q.length; i++) this.#commandSpan(q[i]);
  }

  #node(id: string): { host: string; port: number } {
    let n = this.#nodes.get(id);
    if (n === undefined) {
      n = splitNode(id);
      if (this.#nodes.size < 1024) this.#nodes.set(id, n);
    }
    return n;
  }

  #commandSpan(c: CommandSpanData): void {
    const op = operationName(c.command);
    const attributes: Attributes = {
      "db.system.name": "redis",
      "db.operation.name": op,
      "db.namespace": String(c.db),
      "shardgate.shard": c.shard,
      "shardgate.port_role": c.role,
      "shardgate.retries": c.retries,
      "shardgate.pinned": c.pinned,
      "shardgate.outcome": c.outcome,
    };
    if (c.fault === true) attributes["shardgate.fault_injected"] = true;
    if (c.cache === true) attributes["shardgate.cache"] = "hit";
    if (c.node !== null) {
      const { host, port } = this.#node(c.node);
      attributes["server.address"] = host;
      attributes["server.port"] = port;
      attributes["shardgate.node"] = c.node;
    }
    const span = this.#tracer.startSpan(op, {
      kind: SpanKind.CLIENT,
      root: true,
      startTime: c.startTime,
      attributes,
    });
    for (const a of c.attempts ?? []) {
      const { host, port } = this.#node(a.node);
      span.addEvent(a.kind, {
        "shardgate.node": a.node,
        "server.address": host,
        "server.port": port,
        "shardgate.attempt.result": a.result,
      }, a.time);
    }
    if (c.outcome !== "ok") {
      const message = c.error ?? c.outcome;
      const prefix = c.outcome === "error" ? errorPrefix(message) : "shardgate";
      if (c.outcome === "error") span.setAttribute("db.response.status_code", prefix);
      fail(span, prefix, message, c.endTime);
    }
    span.end(c.endTime);
  }

  /** A zero-length span for a node's state change. */
  nodeStateSpan(e: NodeStateEvent): void {
    if (!this.#enabled) return;
    const { host, port } = splitNode(e.node);
    this.#tracer.startSpan("shardgate node state", {
      kind: SpanKind.INTERNAL,
      root: true,
      startTime: e.time,
      attributes: {
        "shardgate.shard": e.shard,
        "shardgate.node": e.node,
        "server.address": host,
        "server.port": port,
        "shardgate.node.from": e.from,
        "shardgate.node.to": e.to,
        "shardgate.node.reason": e.reason,
        "shardgate.node.role": e.role,
      },
    }).end(e.time);
  }

  /** A zero-length span for a writer switch. */
  writerSwitchSpan(e: WriterSwitchEvent): void {
    if (!this.#enabled) return;
    const attributes: Attributes = {
      "shardgate.shard": e.shard,
      "shardgate.writer.from": e.from ?? "none",
      "shardgate.writer.to": e.to ?? "none",
    };
    if (e.reason !== null) attributes["shardgate.writer.reason"] = e.reason;
    this.#tracer.startSpan("shardgate writer switch", {
      kind: SpanKind.INTERNAL,
      root: true,
      startTime: e.time,
      attributes,
    }).end(e.time);
  }

  /** A span covering one upgrade, its steps as events; a rolled back one has an error status. */
  upgradeSpan(e: UpgradeEvent): void {
    if (!this.#enabled) return;
    const attributes: Attributes = {
      "shardgate.upgrade.command": e.command,
      "shardgate.upgrade.sockets": e.sockets,
      "shardgate.upgrade.result": e.ok ? "handed_over" : "rolled_back",
    };
    if (e.pid !== null) attributes["shardgate.upgrade.new_pid"] = e.pid;
    const span = this.#tracer.startSpan("shardgate upgrade", {
      kind: SpanKind.INTERNAL,
      root: true,
      startTime: e.startTime,
      attributes,
    });
    for (const step of e.steps) span.addEvent(step.name, step.time);
    if (!e.ok) fail(span, "upgrade_rolled_back", e.reason ?? "", e.endTime);
    span.end(e.endTime);
  }

  /** A span covering one config reload; a rejected one has an error status. */
  reloadSpan(e: ReloadEvent): void {
    if (!this.#enabled) return;
    const attributes: Attributes = {
      "shardgate.config.file": e.file,
      "shardgate.reload.result": e.ok ? "applied" : "rejected",
    };
    if (e.summary !== undefined) attributes["shardgate.reload.changes"] = e.summary;
    const span = this.#tracer.startSpan("shardgate config reload", {
      kind: SpanKind.INTERNAL,
      root: true,
      startTime: e.startTime,
      attributes,
    });
    if (!e.ok) fail(span, "config_rejected", (e.errors ?? []).join("\n"), e.endTime);
    span.end(e.endTime);
  }
}

/** `get` → `GET`, `client|setname` → `CLIENT SETNAME`, unknown → `UNKNOWN`. */
export function operationName(command: string | undefined): string {
  return command === undefined ? "UNKNOWN" : command.toUpperCase().replace("|", " ");
}

/** `host:port` / `[v6]:port` split for `server.address` and `server.port`. */
export function splitNode(node: string): { host: string; port: number } {
  const i = node.lastIndexOf(":");
  if (i < 0) return { host: node, port: 0 };
  const host = node.slice(0, i).replace(/^\[(.*)\]$/, "$1");
  return { host, port: Number(node.slice(i + 1)) || 0 };
}

/** The first word of a Redis error reply (`ERR`, `WRONGTYPE`), as its status code. */
export function errorPrefix(message: string): string {
  const m = /^[A-Z][A-Z_-]*/.exec(message);
  return m === null ? "ERR" : m[0];
}

function fail(span: Span, type: string, message: string, time: number): void {
  span.setAttribute("error.type", type);
  span.recordException({ name: type, message }, time);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}
