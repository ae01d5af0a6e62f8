/**
 * The active checker of one node: on its own timer, every `check.interval`,
 * over one persistent connection (re-opened when it breaks), it sends
 * `PING` and `INFO server` / `INFO replication` / `INFO persistence` in one
 * write (separate INFO sections work on every Redis and Valkey version) and
 * reports a {@linkcode CheckResult}. Each check, connect and AUTH included,
 * is bounded by `check.timeout`. Nodes have independent timers, so a slow
 * or paused node never delays the checks of others.
 *
 * When the connection breaks while idle (the node died or restarted), the
 * loss is reported at once and a check runs immediately (at most one such
 * early check per interval, so a node that keeps dropping connections
 * cannot make the checker spin).
 *
 * Every `dns_refresh` the node's host name is re-resolved in the background
 * (a slow resolver never delays or fails a check); when the connection's
 * peer is no longer among the addresses, the next check dials the name
 * afresh, so checks follow the node to its new address as traffic does.
 *
 * @module
 */

import type { NodeConfig, ShardConfig } from "../config/types.ts";
import { isIpLiteral, type Resolver, systemResolver } from "../net/mod.ts";
import { encodeCommand } from "../resp/mod.ts";
import { CheckConn, type ConnectFn, type Reply } from "./_conn.ts";
import { parseNodeInfo } from "./info.ts";
import type { CheckResult } from "./state.ts";

const CHECK_COMMANDS: Uint8Array[] = [
  encodeCommand(["PING"]),
  encodeCommand(["INFO", "server"]),
  encodeCommand(["INFO", "replication"]),
  encodeCommand(["INFO", "persistence"]),
];

/** PING errors that still mean "alive": INFO then tells the node's state. */
const ALIVE_PING_ERRORS = ["LOADING", "MASTERDOWN"];

/** Options of {@linkcode NodeChecker}. */
export interface NodeCheckerOptions {
  /** The node to check. */
  readonly node: NodeConfig;
  /** The shard's current settings (read at every check, so reloads apply in place). */
  readonly shard: () => ShardConfig;
  /** How to open a check connection. */
  readonly connect: ConnectFn;
  /** Receives every check result. */
  readonly onResult: (result: CheckResult) => void;
  /** Told when an established check connection breaks. */
  readonly onLost: (why: string) => void;
  /** Resolves the node's host name (tests); default the system resolver. */
  readonly resolve?: Resolver;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function replyText(r: Reply): string {
  if (r.type === "error") return `-${r.text}`;
  if (r.type === "simple") return `+${r.text}`;
  return r.type;
}

/** Runs the active checks of one node on its own timer. */
export class NodeChecker {
  #opts: NodeCheckerOptions;
  #conn: CheckConn | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #inFlight: Promise<void> | null = null;
  #abort: AbortController | null = null;
  #stopped = false;
  #lastStart = 0;
  #lastEarly = -Infinity;
  #wantEarly = false;
  #stragglers = new Set<Promise<unknown>>();
  #resolvedAt = -Infinity;
  #resolving = false;
  /** A connection to an address the host name no longer resolves to. */
  #stale: CheckConn | null = null;

  /** Creates a checker; nothing runs before {@linkcode NodeChecker.start}. */
  constructor(opts: NodeCheckerOptions) {
    this.#opts = opts;
  }

  /** Runs the first check now and schedules the next ones; resolves after the first. */
  async start(): Promise<void> {
    await this.#runCheck();
  }

  /** Closes the current connection (auth/TLS settings changed); the next check reconnects. */
  resetConnection(): void {
    const conn = this.#conn;
    this.#conn = null;
    if (conn !== null) this.#track(conn.close());
  }

  /** Stops the timer, aborts a running check and closes the connection. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#abort?.abort();
    if (this.#inFlight !== null) await this.#inFlight;
    const conn = this.#conn;
    this.#conn = null;
    if (conn !== null) await conn.close();
    while (this.#stragglers.size > 0) await Promise.allSettled([...this.#stragglers]);
  }

  #track(p: Promise<unknown>): void {
    const q = p.catch(() => {}).finally(() => this.#stragglers.delete(q));
    this.#stragglers.add(q);
  }

  #schedule(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    const interval = this.#opts.shard().check.intervalMs;
    const delay = Math.max(0, this.#lastStart + interval - performance.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#runCheck();
    }, delay);
  }

  #runCheck(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (this.#inFlight !== null) return this.#inFlight;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const p = (async () => {
      const result = await this.#check();
      if (this.#stopped) return;
      this.#opts.onResult(result);
    })().finally(() => {
      this.#inFlight = null;
      if (this.#wantEarly) this.#early();
      else this.#schedule();
    });
    this.#inFlight = p;
    return p;
  }

  #lost(conn: CheckConn, why: string): void {
    if (this.#stopped || this.#conn !== conn) return;
    this.#conn = null;
    this.#opts.onLost(why);
    this.#wantEarly = true;
    // A running check fails (or just finished) by itself; re-check after it.
    if (this.#inFlight === null) this.#early();
  }

  /** Asks for a check as soon as possible (at most one early check per interval). */
  checkSoon(): void {
    if (this.#stopped) return;
    this.#wantEarly = true;
    if (this.#inFlight === null) this.#early();
  }

  /** Checks now, unless an early check already ran within the last interval. */
  #early(): void {
    this.#wantEarly = false;
    const now = performance.now();
    if (now - this.#lastEarly < this.#opts.shard().check.intervalMs) {
      this.#schedule();
      return;
    }
    this.#lastEarly = now;
    void this.#runCheck();
  }

  /** Starts a background re-resolution of the host name when `dns_refresh` has passed. */
  #refreshDns(shard: ShardConfig): void {
    const host = this.#opts.node.address.host;
    const now = performance.now();
    const every = shard.dnsRefreshMs;
    if (every <= 0 || this.#resolving || now - this.#resolvedAt < every || isIpLiteral(host)) {
      return;
    }
    this.#resolvedAt = now;
    this.#resolving = true;
    const resolve = this.#opts.resolve ?? systemResolver;
    this.#track(
      resolve(host).then((ips) => {
        const conn = this.#conn;
        if (conn !== null && conn.remoteIp !== null && !ips.includes(conn.remoteIp)) {
          this.#stale = conn;
        }
      }).finally(() => this.#resolving = false),
    );
  }

  async #check(): Promise<CheckResult> {
    const shard = this.#opts.shard();
    this.#refreshDns(shard);
    const timeoutMs = shard.check.timeoutMs;
    const t0 = performance.now();
    this.#lastStart = t0;
    const ac = new AbortController();
    this.#abort = ac;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, timeoutMs);
    // The deadline wins even if a step ignores the abort signal.
    let onAbort = () => {};
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new Error("aborted"));
      ac.signal.addEventListener("abort", onAbort, { once: true });
    });
    aborted.catch(() => {});
    const run = this.#exchange(shard, ac.signal);
    try {
      const info = await Promise.race([run, aborted]);
      if (info.info === null) {
        return {
          ok: false,
          busy: true,
          latencyMs: Math.round((performance.now() - t0) * 10) / 10,
          error: `busy: ${info.busy.slice(0, 80)}`,
        };
      }
      return {
        ok: true,
        info: info.info,
        remoteIp: info.remoteIp,
        latencyMs: Math.round((performance.now() - t0) * 10) / 10,
      };
    } catch (e) {
      this.#track(run);
      const conn = this.#conn;
      this.#conn = null;
      if (conn !== null) this.#track(conn.close());
      return {
        ok: false,
        latencyMs: Math.round((performance.now() - t0) * 10) / 10,
        error: timedOut ? `timeout after ${timeoutMs}ms` : errorText(e),
      };
    } finally {
      clearTimeout(timer);
      ac.signal.removeEventListener("abort", onAbort);
      if (this.#abort === ac) this.#abort = null;
    }
  }

  async #exchange(
    shard: ShardConfig,
    signal: AbortSignal,
  ): Promise<
    | { info: ReturnType<typeof parseNodeInfo>; remoteIp: string | null; busy?: undefined }
    | { info: null; remoteIp: string | null; busy: string }
  > {
    let conn = this.#conn;
    if (conn !== null && conn === this.#stale) {
      this.#conn = null;
      this.#track(conn.close());
      conn = null;
    }
    this.#stale = null;
    if (conn === null || conn.closed) {
      let opened: CheckConn | null = null;
      opened = await CheckConn.open(
        this.#opts.connect,
        this.#opts.node.address,
        shard.tls,
        shard.auth,
        shard.check.timeoutMs,
        signal,
        (why) => {
          if (opened !== null) this.#lost(opened, why);
        },
      );
      if (signal.aborted || this.#stopped) {
        await opened.close();
        throw new Error("aborted");
      }
      conn = opened;
      this.#conn = conn;
    }
    const replies = await conn.send(CHECK_COMMANDS, signal);
    const ping = replies[0];
    if (ping.type === "error" && ping.text.startsWith("BUSY")) {
      // Alive, running a long script or function: its INFO is refused too.
      return { info: null, remoteIp: conn.remoteIp, busy: ping.text };
    }
    const pingOk = (ping.type === "simple" && ping.text === "PONG") ||
      (ping.type === "error" && ALIVE_PING_ERRORS.some((p) => ping.text.startsWith(p)));
    if (!pingOk) throw new Error(`PING answered ${replyText(ping)}`);
    let text = "";
    for (let i = 1; i < replies.length; i++) {
      const r = replies[i];
      if (r.type !== "bulk" || r.text === null) throw new Error(`INFO answered ${replyText(r)}`);
      text += r.text;
    }
    return { info: parseNodeInfo(text), remoteIp: conn.remoteIp };
  }
}
