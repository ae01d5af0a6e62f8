/**
 * The admin HTTP server on `admin.listen`:
 *
 * | path       | answer                                                              |
 * | ---------- | ------------------------------------------------------------------- |
 * | `/`        | the live status page (HTML, script and styles embedded)             |
 * | `/healthz` | 200 `ok` while the process runs                                     |
 * | `/readyz`  | 200 `ready`, or 503 with one reason per line                        |
 * | `/status`  | the status document as JSON ({@link StatusDoc})                     |
 * | `/metrics` | Prometheus text of the metrics table                                |
 *
 * GET and HEAD only. It reads snapshots from an {@link AdminSource} and
 * changes nothing.
 *
 * @module
 */

import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Address } from "../config/types.ts";
import { inheritedSockets } from "../upgrade/mod.ts";
import { ADMIN_SHUTDOWN_GRACE_MS } from "../config/defaults.ts";
import { type Logger, PROMETHEUS_CONTENT_TYPE, PrometheusExporter } from "../telemetry/mod.ts";
import { STATUS_PAGE_HTML } from "./_page.ts";
import { metricsCollector } from "./collect.ts";
import { readiness } from "./readiness.ts";
import type { AdminSource } from "./source.ts";
import { buildStatus, type StatusDoc } from "./status.ts";
import type { HistoryDoc } from "./history.ts";

export type { HistoryDoc, StatusDoc };

const COMMON_HEADERS = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
};

/** `node:http`, loaded only by a process that inherited sockets ({@link loadNodeHttp}). */
let nodeHttp: typeof import("node:http") | null = null;

/** Loads `node:http` for an admin port inherited in an upgrade (a fresh process never does). */
export async function loadNodeHttp(): Promise<void> {
  nodeHttp ??= await import("node:http");
}

/** The bound address of a started server. */
export interface AdminBound {
  readonly host: string;
  readonly port: number;
}

/** The admin HTTP server. */
export class AdminServer {
  #src: AdminSource;
  #log: Logger;
  #exporter: PrometheusExporter;
  #server: { shutdown(): Promise<void> } | null = null;
  #bound: AdminBound | null = null;
  #address: Address | null = null;

  /** Creates the server (nothing is bound until {@link listen}). */
  constructor(src: AdminSource, logger: Logger) {
    this.#src = src;
    this.#log = logger;
    this.#exporter = new PrometheusExporter(metricsCollector(src));
  }

  /** The configured address it listens on, or null. */
  get address(): Address | null {
    return this.#address;
  }

  /** The bound address (the real port when the config says 0), or null. */
  get bound(): AdminBound | null {
    return this.#bound;
  }

  /**
   * Binds `address` (or serves the socket inherited for it in an upgrade,
   * with `node:http`) and starts serving; throws when it cannot be bound.
   */
  listen(address: Address): AdminBound {
    if (this.#server !== null) throw new Error("admin server already listening");
    const handed = address.port === 0 ? null : inheritedSockets.take(address.text);
    if (handed !== null) {
      this.#server = this.#serveFd(handed.fd);
      this.#address = address;
      this.#bound = { host: handed.host, port: handed.port };
      return this.#bound;
    }
    const server = Deno.serve({
      hostname: address.host,
      port: address.port,
      onListen: () => {},
      onError: (err) => {
        this.#log.warn("admin request failed", { error: String(err) });
        return new Response("internal error\n", { status: 500 });
      },
    }, (req) => this.handle(req));
    this.#server = server;
    this.#address = address;
    this.#bound = { host: address.host, port: server.addr.port };
    return this.#bound;
  }

  /** A `node:http` server on the inherited listening socket `fd`, answering with {@link handle}. */
  #serveFd(fd: number): { shutdown(): Promise<void> } {
    if (nodeHttp === null) throw new Error("node:http is not loaded (loadNodeHttp)");
    const server: Server = nodeHttp.createServer((req: IncomingMessage, res: ServerResponse) => {
      const url = `http://${req.headers.host ?? "localhost"}${req.url ?? "/"}`;
      this.handle(new Request(url, { method: req.method })).then(async (r) => {
        res.writeHead(r.status, Object.fromEntries(r.headers));
        res.end(req.method === "HEAD" ? undefined : new Uint8Array(await r.arrayBuffer()));
      }).catch((err) => {
        this.#log.warn("admin request failed", { error: String(err) });
        res.writeHead(500).end("internal error\n");
      });
    });
    server.on("error", (err) => this.#log.warn("admin server error", { error: String(err) }));
    server.listen({ fd });
    return {
      // Stops accepting; idle keep-alive connections close now, the others
      // once their request is answered (or after ADMIN_SHUTDOWN_GRACE_MS).
      shutdown: () =>
        new Promise<void>((resolve) => {
          const cut = setTimeout(() => server.closeAllConnections(), ADMIN_SHUTDOWN_GRACE_MS);
          server.close(() => {
            clearTimeout(cut);
            resolve();
          });
          server.closeIdleConnections();
        }),
    };
  }

  /** Answers one request (exposed for tests). */
  async handle(req: Request): Promise<Response> {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return text("method not allowed\n", 405, { allow: "GET, HEAD" });
    }
    const path = new URL(req.url).pathname;
    switch (path) {
      case "/":
        return new Response(STATUS_PAGE_HTML, {
          headers: { ...COMMON_HEADERS, "content-type": "text/html; charset=utf-8" },
        });
      case "/healthz":
        return text("ok\n", 200);
      case "/readyz": {
        const r = readiness(this.#src.stopping(), this.#src.shards());
        if (r.ready) return text("ready\n", 200);
        return text(`not ready:\n${r.reasons.map((x) => `- ${x}\n`).join("")}`, 503);
      }
      case "/status": {
        const doc = buildStatus(this.#src, this.#src.shards());
        return new Response(JSON.stringify(doc) + "\n", {
          headers: { ...COMMON_HEADERS, "content-type": "application/json; charset=utf-8" },
        });
      }
      case "/history": {
        const doc = this.#src.history?.() ?? null;
        if (doc === null) return text("no history kept\n", 404);
        return new Response(JSON.stringify(doc) + "\n", {
          headers: { ...COMMON_HEADERS, "content-type": "application/json; charset=utf-8" },
        });
      }
      case "/metrics":
        return new Response(await this.#exporter.scrape(), {
          headers: { ...COMMON_HEADERS, "content-type": PROMETHEUS_CONTENT_TYPE },
        });
      default:
        return text("not found\n", 404);
    }
  }

  /** Stops listening and ends open requests. */
  async close(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    this.#bound = null;
    this.#address = null;
    if (server === null) return;
    await server.shutdown();
  }
}

function text(body: string, status: number, headers: Record<string, string> = {}): Response {
  return new Response(body, {
    status,
    headers: { ...COMMON_HEADERS, "content-type": "text/plain; charset=utf-8", ...headers },
  });
}
