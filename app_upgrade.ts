/**
 * The hand-over of an upgrade (SIGUSR2, `shardgate upgrade`): start the
 * new binary with this process's listening sockets, wait until it is
 * ready, then stop accepting and drain at command boundaries — or roll
 * back and keep serving. Each step is logged and traced.
 *
 * ```
 *  idle ─start()─▶ starting ─spawned─▶ ready ─drained─▶ done (this process exits)
 *                     └──── not ready / exited / no socket ───▶ rolled back (keeps serving)
 * ```
 *
 * @module
 */

import { formatAddress } from "./config/mod.ts";
import { type CommandTracer, epochMs, type Logger } from "./telemetry/mod.ts";
import {
  listeningFd,
  type OwnSocket,
  sdNotify,
  startSuccessor,
  successorCommand,
  type UpgradeMachine,
  type UpgradeOutcome,
} from "./upgrade/mod.ts";

/** How an upgrade starts the new process (`App.upgrade`). */
export interface UpgradeOptions {
  /** The binary to start with this process's arguments; null: the same command line. */
  readonly binary: string | null;
  /** How long the new process may take to say it is ready; default UPGRADE_READY_TIMEOUT_MS. */
  readonly readyTimeoutMs?: number;
}

/** What a hand-over needs of the running program. */
export interface UpgradeHost {
  /** The program's logger. */
  readonly logger: Logger;
  /** Traces the upgrade's span. */
  readonly tracer: CommandTracer;
  /** Every listening socket to hand over. */
  listenSockets(): { address: string; host: string; port: number }[];
  /** Stops accepting and drains (at command boundaries when `atBoundary`). */
  close(drainMs: number | undefined, atBoundary: boolean): Promise<void>;
}

/**
 * Runs one upgrade through `machine`: the new process is `binary` (null:
 * this command line again), ready within `timeoutMs`. Resolves with the
 * outcome, or null when none could start (one is under way).
 */
export async function handOver(
  machine: UpgradeMachine,
  host: UpgradeHost,
  binary: string | null,
  timeoutMs: number,
): Promise<UpgradeOutcome | null> {
  const timeout = timeoutMs;
  const refused = machine.start();
  if (refused !== null) {
    host.logger.warn("upgrade: not started", { reason: refused });
    return null;
  }
  const startTime = epochMs();
  const steps: { name: string; time: number }[] = [];
  const { command, args } = successorCommand(binary);
  const sockets: OwnSocket[] = [];
  const missing: string[] = [];
  for (const s of host.listenSockets()) {
    const fd = listeningFd(s.host, s.port);
    if (fd === null) missing.push(formatAddress(s.host, s.port));
    else sockets.push({ ...s, fd });
  }
  const end = (outcome: UpgradeOutcome, pid: number | null) => {
    host.tracer.upgradeSpan({
      command,
      sockets: sockets.length,
      pid,
      startTime,
      endTime: epochMs(),
      ok: outcome.ok,
      ...(outcome.ok ? {} : { reason: outcome.reason }),
      steps,
    });
    return outcome;
  };
  if (missing.length > 0) {
    const reason = `no descriptor found for the listener(s) ${missing.join(", ")}`;
    host.logger.error("upgrade rolled back; this process keeps serving", { reason });
    return end(machine.fail(reason)!, null);
  }
  host.logger.info("upgrade: starting the new process", {
    command: [command, ...args].join(" "),
    sockets: sockets.length,
    readyTimeoutMs: timeout,
  });
  const r = await startSuccessor({
    command,
    args,
    sockets,
    readyTimeoutMs: timeout,
    onSpawn: (pid) => {
      machine.spawned(pid);
      steps.push({ name: "spawned", time: epochMs() });
      host.logger.info("upgrade: new process started", { pid });
    },
  });
  if (!r.ok) {
    steps.push({ name: "rolled back", time: epochMs() });
    host.logger.error("upgrade rolled back; this process keeps serving", {
      reason: r.reason,
      pid: r.pid,
    });
    return end(machine.fail(r.reason)!, r.pid);
  }
  machine.ready();
  steps.push({ name: "ready", time: epochMs() });
  const t0 = Date.now();
  host.logger.info("upgrade: new process ready; this one stops accepting and drains", {
    pid: r.pid,
  });
  const notified = await sdNotify([`MAINPID=${r.pid}`]);
  if (notified !== null) host.logger.warn("upgrade: systemd not told", { error: notified });
  await host.close(undefined, true);
  steps.push({ name: "drained", time: epochMs() });
  host.logger.info("upgrade: handed over", { pid: r.pid, drainMs: Date.now() - t0 });
  return end(machine.drained()!, r.pid);
}
