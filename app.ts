/**
 * The running program: per configured shard, a proxy {@link Shard} and its
 * {@link ShardHealth}, wired so that health owns the shard's routes and the
 * proxy reports passive errors back. Reload applies a config diff in place.
 * `main.ts` builds it from the command line; tests build it in-process.
 *
 * ```
 *  ShardHealth ──routes (readers, primary)──▶ Shard (listeners, backends)
 *       ▲   │                                    │
 *       │   └─ state changes ─▶ CommandTracer ◀─ sampled commands
 *       └──────── passive errors on traffic ─────┘
 *                                                │ counters, CommandStats
 *  AdminServer (/status /metrics /readyz, page) ◀┘ reads snapshots only
 * ```
 *
 * @module
 */

import {
  type Address,
  type Config,
  type ConfigWatcher,
  diffConfigs,
  formatAddress,
  formatIssue,
  issueAt,
  loadConfig,
  type ShardConfig,
  watchConfig,
} from "./config/mod.ts";
import { type HealthEvent, publicRole, ShardHealth } from "./health/mod.ts";
import { ListenError, ReleasedSockets, Shard, type ShardOptions } from "./proxy/mod.ts";
import { COMMAND_NAMES } from "./resp/mod.ts";
import { RouterPort } from "./router/mod.ts";
import {
  CommandStats,
  CommandTracer,
  epochMs,
  type Logger,
  type OtelMetricsHandle,
  registerOtelMetrics,
} from "./telemetry/mod.ts";
import {
  AdminServer,
  type AdminSource,
  History,
  type LastReload,
  metricsCollector,
  readiness,
  type ShardSource,
} from "./admin/mod.ts";
import { SPAN_BATCH_MS } from "./config/defaults.ts";
import { VERSION } from "./version.ts";
import { UPGRADE_READY_TIMEOUT_MS } from "./config/defaults.ts";
import { UpgradeMachine, type UpgradeOutcome } from "./upgrade/mod.ts";
import { handOver, type UpgradeOptions } from "./app_upgrade.ts";

export type { UpgradeOptions } from "./app_upgrade.ts";

/** A started listener, as logged in the `listening` line. */
export interface ListeningAddress {
  /** The shard's or the router's name, or "" for the admin port. */
  readonly shard: string;
  readonly role: "readers" | "writer" | "split" | "admin" | "router";
  readonly host: string;
  readonly port: number;
}

/** Logs the `listening` line of one bound listener (at startup and when a reload binds it). */
export function logListening(logger: Logger, l: ListeningAddress): void {
  const address = formatAddress(l.host, l.port);
  if (l.shard === "") logger.info("listening", { role: l.role, address });
  else logger.info("listening", { shard: l.shard, role: l.role, address });
}

/** Outcome of one reload. */
export type ReloadResult =
  | { readonly ok: true; readonly summary: string }
  | { readonly ok: false; readonly errors: readonly string[] };

/** Reload counters (exposed on the admin port). */
export class ReloadCounters {
  /** Reloads applied (a valid config, changed or not). */
  applied = 0;
  /** Reloads rejected (unreadable, invalid, or a port that cannot be bound). */
  rejected = 0;
  /** Epoch ms of the last successful reload, or 0. */
  lastAppliedAt = 0;
  /** The last reload's outcome, or null before the first. */
  last: LastReload | null = null;
}

const ROLES = ["readers", "writer", "split"] as const;

/** One shard and the parts that serve it. */
interface ShardUnit {
  readonly shard: Shard;
  readonly health: ShardHealth;
  readonly commands: CommandStats;
}

/** shardgate running in this process. */
export class App {
  /** Reload counters. */
  readonly reloads: ReloadCounters = new ReloadCounters();
  #file: string;
  #config: Config;
  #logger: Logger;
  #units = new Map<string, ShardUnit>();
  #routers = new Map<string, RouterPort>();
  #watcher: ConfigWatcher | null = null;
  #reloading: Promise<ReloadResult> | null = null;
  #again = false;
  #closed = false;
  #startedAt = Date.now();
  #tracer: CommandTracer;
  #admin: AdminServer | null = null;
  #otelMetrics: OtelMetricsHandle | null = null;
  #upgrade: UpgradeMachine | null = null;
  /** The last minutes of every shard and node, for the status page's charts. */
  #history: History = new History(() => this.adminSource().shards());

  /** Creates the app for a validated config (nothing runs until {@link start}). */
  constructor(config: Config, logger: Logger) {
    this.#file = config.file;
    this.#config = config;
    this.#logger = logger;
    this.#tracer = new CommandTracer({
      sampleRatio: config.telemetry.sampleRatio,
      version: VERSION,
      batchMs: SPAN_BATCH_MS,
    });
  }

  /** The running config. */
  get config(): Config {
    return this.#config;
  }

  /** The proxy shard called `name`. */
  shard(name: string): Shard | undefined {
    return this.#units.get(name)?.shard;
  }

  /** The health of the shard called `name`. */
  health(name: string): ShardHealth | undefined {
    return this.#units.get(name)?.health;
  }

  /**
   * Runs a first round of checks for every shard, then binds every listener;
   * throws (after closing what started) if one cannot listen.
   */
  async start(): Promise<ListeningAddress[]> {
    const units = await Promise.all(this.#config.shards.map((sc) => this.#createUnit(sc)));
    try {
      for (const u of units) {
        u.shard.start();
        this.#units.set(u.shard.name, u);
      }
      this.#applyFaults(this.#config.faults);
      for (const rc of this.#config.routers) {
        const r = new RouterPort(rc, (name) => this.shard(name), this.#logger);
        this.#bindRouter(r);
        this.#routers.set(r.name, r);
      }
      const admin = this.#config.admin;
      if (admin !== null) this.#admin = this.#listenAdmin(admin.listen);
    } catch (err) {
      await Promise.all([...this.#routers.values()].map((r) => r.close(0)));
      this.#routers.clear();
      await Promise.all(units.map((u) => this.#closeUnit(u, 0)));
      this.#units.clear();
      throw err instanceof ListenError ? new Error(await this.#describe(err)) : err;
    }
    this.#otelMetrics = registerOtelMetrics(metricsCollector(this.adminSource()), VERSION);
    this.#history.start();
    return this.listening();
  }

  /** Binds a router's address; a failure is a ListenError positioned at `routers.<name>.listen`. */
  #bindRouter(r: RouterPort): void {
    try {
      r.start();
    } catch (err) {
      throw new ListenError(`routers.${r.name}.listen`, r.config.listen, err);
    }
  }

  /** A new admin server bound to `address`; throws a positioned error when it cannot bind. */
  #listenAdmin(address: Address): AdminServer {
    const server = new AdminServer(this.adminSource(), this.#logger.child({ role: "admin" }));
    try {
      server.listen(address);
    } catch (err) {
      throw new ListenError("admin.listen", address, err);
    }
    return server;
  }

  /** Builds a shard and its health, and waits for the first round of checks. */
  async #createUnit(config: ShardConfig): Promise<ShardUnit> {
    let shard: Shard | null = null;
    const health: ShardHealth = new ShardHealth(config, {
      logger: this.#logger,
      onChange: (routes) => {
        shard?.setRoutes(routes);
        for (const r of this.#routers.values()) r.followHealth();
      },
      onEvent: (e) => this.#traceHealth(config.name, e),
      // A node's reported availability_zone places it (when the config gives it none).
      onZone: (id, zone) => {
        if (shard?.zones.learn(id, zone)) shard.setRoutes(shard.routes);
      },
    });
    const commands = new CommandStats(COMMAND_NAMES);
    const options: ShardOptions = {
      logger: this.#logger,
      onNodeError: (nodeId, kind) => health.reportError(nodeId, kind),
      server: () => health.serverIdentity(),
      commandStats: commands,
      tracer: this.#tracer,
    };
    shard = new Shard(config, options);
    await health.start();
    shard.setRoutes(health.routes());
    return { shard, health, commands };
  }

  /** Hands the fault injection rules to every shard, and says loudly that they are on. */
  #applyFaults(faults: Config["faults"]): void {
    for (const u of this.#units.values()) u.shard.setFaults(faults);
    if (faults.length === 0) this.#logger.info("no fault injection rules");
    for (const f of faults) {
      this.#logger.warn("fault injection rule active (a rehearsal, not an outage)", {
        kind: f.kind,
        percent: f.percent,
        shard: f.shard ?? "any",
        role: f.role ?? "any",
        node: f.node ?? "any",
        commands: f.commands?.join(",") ?? "any",
      });
    }
  }

  #traceHealth(shard: string, e: HealthEvent): void {
    this.#history.event(
      e.kind === "node"
        ? {
          at: Date.now(),
          shard,
          kind: "node",
          node: e.node.id,
          from: e.from,
          to: e.node.status,
          reason: e.node.reason,
        }
        : {
          at: Date.now(),
          shard,
          kind: "writer",
          node: null,
          from: e.from,
          to: e.to,
          reason: e.reason,
        },
    );
    if (e.kind === "node") {
      this.#tracer.nodeStateSpan({
        shard,
        node: e.node.id,
        from: e.from,
        to: e.node.status,
        reason: e.node.reason,
        role: publicRole(e.node.role),
        time: Date.now(),
      });
    } else {
      this.#tracer.writerSwitchSpan({ shard, ...e, time: Date.now() });
    }
  }

  async #closeUnit(u: ShardUnit, drainMs?: number): Promise<void> {
    await Promise.all([u.shard.close(drainMs), u.health.stop()]);
  }

  /** Every bound address (shards in config order, then the admin port). */
  listening(): ListeningAddress[] {
    const out: ListeningAddress[] = [];
    for (const u of this.#units.values()) {
      for (const b of u.shard.bound()) out.push({ shard: u.shard.name, ...b });
    }
    for (const r of this.#routers.values()) {
      const b = r.bound();
      if (b !== null) out.push({ shard: r.name, role: "router", ...b });
    }
    const admin = this.#admin?.bound;
    if (admin) out.push({ shard: "", role: "admin", ...admin });
    return out;
  }

  /**
   * Every bound listener with its configured address (what an upgrade hands
   * over and the new process matches): shards' readers and writer, routers,
   * the admin port.
   */
  listenSockets(): { address: string; host: string; port: number }[] {
    const out: { address: string; host: string; port: number }[] = [];
    for (const u of this.#units.values()) {
      for (const b of u.shard.bound()) {
        const a = u.shard.config[b.role];
        if (a !== null) out.push({ address: a.text, host: b.host, port: b.port });
      }
    }
    for (const r of this.#routers.values()) {
      const b = r.bound();
      if (b !== null) out.push({ address: r.config.listen.text, host: b.host, port: b.port });
    }
    const admin = this.#admin;
    if (admin?.address && admin.bound) {
      out.push({ address: admin.address.text, host: admin.bound.host, port: admin.bound.port });
    }
    return out;
  }

  /** What the admin port (and the OpenTelemetry metrics) read: snapshots, taken per call. */
  adminSource(): AdminSource {
    return {
      version: VERSION,
      startedAt: this.#startedAt,
      configFile: () => this.#file,
      stopping: () => this.#closed,
      reloads: () => ({
        applied: this.reloads.applied,
        rejected: this.reloads.rejected,
        lastSuccessAt: this.reloads.lastAppliedAt || this.#startedAt,
        last: this.reloads.last,
      }),
      history: () => this.#history.doc(),
      shards: () =>
        [...this.#units.values()].map((u): ShardSource => ({
          name: u.shard.name,
          config: u.shard.config,
          routes: u.shard.routes,
          hasReadTarget: u.shard.hasReadTarget,
          listeners: u.shard.bound(),
          nodes: u.health.snapshot(),
          stats: u.shard.stats(),
          counters: u.shard.counters,
          consistency: u.shard.gate.counters,
          commands: u.commands,
          faultRules: u.shard.faultRules(),
          zones: u.shard.zones.snapshot(u.shard.config.nodes, u.shard.config.zone),
          cache: u.shard.cache?.stats() ?? null,
        })),
      routers: () =>
        [...this.#routers.values()].map((r) => {
          const b = r.bound();
          return {
            name: r.name,
            listener: b === null ? null : { role: "router", ...b },
            distribution: r.config.distribution,
            hash: r.config.hash,
            shards: r.config.shards.map((s) => s.shard),
            sessions: r.sessions(),
          };
        }),
    };
  }

  /** Watches the config file and reloads on every change (debounced). */
  watch(): void {
    if (this.#watcher !== null) return;
    this.#watcher = watchConfig(this.#file, () => void this.reload(), {
      onError: (err) => this.#logger.warn("config watch error", { error: String(err) }),
    });
  }

  /**
   * Re-reads the config file and applies it as a diff. Reloads never
   * overlap: one asked for while another runs is done right after it, once.
   */
  reload(): Promise<ReloadResult> {
    if (this.#reloading !== null) {
      this.#again = true;
      return this.#reloading;
    }
    const run = async (): Promise<ReloadResult> => {
      let result: ReloadResult;
      do {
        this.#again = false;
        const startTime = epochMs();
        result = await this.#reloadOnce();
        this.#tracer.reloadSpan({
          file: this.#file,
          startTime,
          endTime: epochMs(),
          ...(result.ok
            ? { ok: true, summary: result.summary }
            : { ok: false, errors: result.errors }),
        });
      } while (this.#again && !this.#closed);
      this.#reloading = null;
      return result;
    };
    this.#reloading = run();
    return this.#reloading;
  }

  async #reloadOnce(): Promise<ReloadResult> {
    if (this.#closed) return { ok: false, errors: ["shutting down"] };
    const loaded = await loadConfig(this.#file);
    if (loaded.config === null) return this.#rejected(loaded.issues.map(formatIssue));
    const next = loaded.config;
    const diff = diffConfigs(this.#config, next);

    // Phase 1: everything that can fail (checks of new shards, binds). An
    // address given up by one listener and wanted by another (a renamed
    // shard, swapped ports) keeps its bound socket, handed over.
    const released = new ReleasedSockets();
    for (const sc of diff.removedShards) {
      const s = this.#units.get(sc.name)?.shard;
      if (s !== undefined) { for (const role of ROLES) released.offer(s, role); }
    }
    for (const ch of diff.changedShards) {
      const s = this.#units.get(ch.next.name)!.shard;
      if (ch.readersMoved) released.offer(s, "readers");
      if (ch.writerMoved) released.offer(s, "writer");
      if (ch.splitMoved) released.offer(s, "split");
    }
    const added: ShardUnit[] = [];
    const started: ShardUnit[] = [];
    const prepared: { commit: () => void; abort: () => void }[] = [];
    const addedRouters: RouterPort[] = [];
    const routerUpdates: { commit: () => void; abort: () => void }[] = [];
    const lookup = (name: string) =>
      this.#units.get(name)?.shard ?? added.find((u) => u.shard.name === name)?.shard;
    try {
      for (const sc of diff.addedShards) added.push(await this.#createUnit(sc));
      // From here to the commit nothing awaits: a taken-over socket serves
      // its new owner only once the reload applies.
      for (const u of added) {
        u.shard.start(released);
        started.push(u);
      }
      for (const ch of diff.changedShards) {
        prepared.push(this.#units.get(ch.next.name)!.shard.prepareUpdate(ch.next, released));
      }
      for (const rc of diff.addedRouters) {
        const r = new RouterPort(rc, lookup, this.#logger);
        this.#bindRouter(r);
        addedRouters.push(r);
      }
      for (const ch of diff.changedRouters) {
        const r = this.#routers.get(ch.next.name)!;
        try {
          routerUpdates.push(r.prepareUpdate(ch.next));
        } catch (err) {
          throw new ListenError(`routers.${r.name}.listen`, ch.next.listen, err);
        }
      }
      prepared.push(this.#prepareAdmin(next));
    } catch (err) {
      for (const p of routerUpdates) p.abort();
      await Promise.all(addedRouters.map((r) => r.close(0)));
      for (const p of prepared) p.abort();
      for (const u of started) u.shard.abandonListeners();
      await Promise.all(added.map((u) => this.#closeUnit(u, 0)));
      return this.#rejected([await this.#describe(err)]);
    }

    // Phase 2: apply; nothing here fails.
    for (const p of prepared) p.commit();
    for (const ch of diff.changedShards) this.#units.get(ch.next.name)!.health.update(ch.next);
    for (const u of added) this.#units.set(u.shard.name, u);
    for (const rc of diff.removedRouters) {
      const r = this.#routers.get(rc.name);
      this.#routers.delete(rc.name);
      void r?.close();
    }
    for (const r of addedRouters) this.#routers.set(r.name, r);
    for (const p of routerUpdates) p.commit();
    for (const sc of diff.removedShards) {
      const u = this.#units.get(sc.name);
      if (u === undefined) continue;
      this.#units.delete(sc.name);
      void this.#closeUnit(u, sc.timeouts.drainMs);
    }
    this.#config = next;
    if (diff.faultsChanged || added.length > 0) this.#applyFaults(next.faults);
    if (diff.telemetryChanged) this.#tracer.setSampleRatio(next.telemetry.sampleRatio);
    this.reloads.applied++;
    const at = Date.now();
    this.reloads.lastAppliedAt = at;
    this.reloads.last = { at, ok: true, summary: diff.summary, errors: [] };
    this.#logger.info("config reloaded", { file: this.#file, changes: diff.summary });
    const moved = diff.changedShards.filter((ch) =>
      ch.readersMoved || ch.writerMoved || ch.splitMoved
    );
    for (const u of [...added, ...moved.map((ch) => this.#units.get(ch.next.name)!)]) {
      for (const b of u.shard.bound()) logListening(this.#logger, { shard: u.shard.name, ...b });
    }
    const movedRouters = diff.changedRouters.filter((ch) => ch.listenMoved).map((ch) =>
      this.#routers.get(ch.next.name)!
    );
    for (const r of [...addedRouters, ...movedRouters]) {
      const b = r.bound();
      if (b !== null) logListening(this.#logger, { shard: r.name, role: "router", ...b });
    }
    return { ok: true, summary: diff.summary };
  }

  /**
   * Reload of `admin`: a new listen address is bound now (a failure rejects
   * the reload), the old server closes at commit; none any more closes it.
   */
  #prepareAdmin(next: Config): { commit: () => void; abort: () => void } {
    const old = this.#admin;
    const want = next.admin?.listen ?? null;
    if (want !== null && old?.address?.text === want.text) {
      return { commit: () => {}, abort: () => {} };
    }
    const fresh = want === null ? null : this.#listenAdmin(want);
    return {
      commit: () => {
        this.#admin = fresh;
        if (old !== null) void old.close();
        if (fresh?.bound) logListening(this.#logger, { shard: "", role: "admin", ...fresh.bound });
      },
      abort: () => void fresh?.close(),
    };
  }

  /**
   * The message for a failure to apply a valid config. A listen address
   * that cannot be bound is positioned like a validation error
   * (`file:line:col: shards.x.readers: cannot listen on …`).
   */
  async #describe(err: unknown): Promise<string> {
    if (!(err instanceof ListenError)) {
      return err instanceof Error ? err.message : String(err);
    }
    let text = "";
    try {
      text = await Deno.readTextFile(this.#file);
    } catch {
      // unreadable now: the issue is placed at 1:1
    }
    return formatIssue(issueAt(text, this.#file, err.configPath, err.reason));
  }

  #rejected(errors: string[]): ReloadResult {
    this.reloads.rejected++;
    this.reloads.last = { at: Date.now(), ok: false, summary: null, errors };
    this.#logger.error("config rejected; the running config stays", {
      file: this.#file,
      errors: errors.join("\n"),
    });
    return { ok: false, errors };
  }

  /** Opens the shards' node connections now (a process started by an upgrade, before it takes over). */
  warm(): void {
    for (const u of this.#units.values()) u.shard.warm();
  }

  /** Why `/readyz` would answer 503 now (empty when ready). */
  notReady(): readonly string[] {
    return readiness(this.#closed, this.adminSource().shards()).reasons;
  }

  /**
   * Hitless upgrade (SIGUSR2): starts the new process with every listening
   * socket, waits until it is ready, then stops accepting and drains at
   * command boundaries (this app is closed when it resolves with `ok`).
   * If the new process exits, fails or is not ready in time, it is stopped
   * and this one keeps serving (`ok: false`, the reason logged). Resolves
   * null when no upgrade could start (one is under way, or shutting down).
   * Each step is logged (`upgrade: …`) and traced (`shardgate upgrade`).
   */
  async upgrade(opts: UpgradeOptions): Promise<UpgradeOutcome | null> {
    const timeout = opts.readyTimeoutMs ?? UPGRADE_READY_TIMEOUT_MS;
    this.#upgrade ??= new UpgradeMachine(timeout);
    if (this.#closed) {
      this.#logger.warn("upgrade: not started", { reason: "shutting down" });
      return null;
    }
    return await handOver(
      this.#upgrade,
      {
        logger: this.#logger,
        tracer: this.#tracer,
        listenSockets: () => this.listenSockets(),
        close: (drainMs, atBoundary) => this.close(drainMs, atBoundary),
      },
      opts.binary,
      timeout,
    );
  }

  /**
   * Stops accepting, lets clients finish their in-flight replies (each
   * shard for up to its `timeouts.drain`, or `drainMs` when given) and stops
   * everything. `/readyz` answers 503 from the start; the admin port closes
   * last.
   *
   * With `atBoundary` (an upgrade handed the sockets to a new process): the
   * admin port stops accepting first (the new process answers it), and
   * each client closes at a command boundary (a pinned one when its pin
   * ends, or at the drain deadline).
   */
  async close(drainMs?: number, atBoundary = false): Promise<void> {
    this.#closed = true;
    this.#watcher?.close();
    this.#watcher = null;
    await this.#reloading;
    const routers = [...this.#routers.values()];
    this.#routers.clear();
    const units = [...this.#units.values()];
    const admin = atBoundary ? this.#admin : null;
    if (admin !== null) this.#admin = null;
    await Promise.all([
      admin?.close(),
      ...routers.map((r) => r.close(drainMs, atBoundary)),
      ...units.map((u) =>
        Promise.all([
          u.shard.close(drainMs ?? u.shard.config.timeouts.drainMs, atBoundary),
          u.health.stop(),
        ])
      ),
    ]);
    this.#units.clear();
    this.#otelMetrics?.close();
    this.#tracer.flush();
    this.#history.stop();
    this.#otelMetrics = null;
    await this.#admin?.close();
    this.#admin = null;
  }
}
