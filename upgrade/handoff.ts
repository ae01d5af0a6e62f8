/**
 * The process side of an upgrade: which command starts the new binary,
 * starting it with the listening sockets, waiting for its `ready` over an
 * IPC channel (or its exit, or the deadline), and stopping it on a rollback.
 * The new process's side is {@link announceReady}.
 *
 * ```
 *  old (SIGUSR2)                              new
 *  ─────────────                              ───
 *  find each listener's fd (sockets.ts)
 *  spawn: fds 3.. = listeners, fd n = IPC ──▶ load config, first round of checks,
 *                                             serve the inherited fds (node:net)
 *                     ◀── {type: "ready"} ─── announceReady()
 *  stop accepting, drain at command
 *  boundaries, exit 0                         (serving alone)
 * ```
 *
 * @module
 */

import type { ChildProcess } from "node:child_process";
import { UPGRADE_KILL_GRACE_MS } from "../config/defaults.ts";
import { setNonBlocking } from "./_libc.ts";
import { type HandedSocket, inheritedSockets, UPGRADE_FDS_ENV } from "./sockets.ts";

/** The message a new process sends when it serves. */
export interface ReadyMessage {
  readonly type: "shardgate-ready";
  readonly pid: number;
}

/** A listener to hand over, with this process's descriptor for it. */
export interface OwnSocket {
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** The descriptor in this process. */
  readonly fd: number;
}

/** Where a started successor stands. */
export type SuccessorResult =
  | { readonly ok: true; readonly pid: number }
  | { readonly ok: false; readonly pid: number | null; readonly reason: string };

/**
 * The command line that starts this program again: `binary` (or this
 * executable) with the same arguments. For a compiled binary that is the
 * executable and `Deno.args`; for `deno run … main.ts …` the arguments come
 * from `/proc/self/cmdline` (deno's own flags included). A file replaced on
 * disk (the usual way to roll out) shows as `… (deleted)` in the
 * executable's path; the path itself is what runs next.
 */
export function successorCommand(
  binary: string | null,
  execPath: string = Deno.execPath(),
  cmdline: string[] | null = readCmdline(),
  args: readonly string[] = Deno.args,
): { command: string; args: string[] } {
  const exe = execPath.replace(/ \(deleted\)$/, "");
  if (binary !== null) return { command: binary, args: [...args] };
  const isDeno = /(^|\/)deno$/.test(exe);
  if (isDeno && cmdline !== null && cmdline.length > 1) {
    return { command: exe, args: cmdline.slice(1) };
  }
  return { command: exe, args: [...args] };
}

function readCmdline(): string[] | null {
  try {
    const text = Deno.readTextFileSync("/proc/self/cmdline");
    return text.split("\0").filter((a, i, all) => a !== "" || i < all.length - 1);
  } catch {
    return null;
  }
}

/**
 * Starts the successor with `sockets` at its descriptors 3, 4, … and an IPC
 * channel after them, and waits until it says it is ready (ok), or exits,
 * or `readyTimeoutMs` pass (then it is stopped: SIGTERM, SIGKILL after a
 * grace). `onSpawn` gets its pid at once.
 */
export async function startSuccessor(opts: {
  command: string;
  args: readonly string[];
  sockets: readonly OwnSocket[];
  readyTimeoutMs: number;
  onSpawn?: (pid: number) => void;
}): Promise<SuccessorResult> {
  const handed: HandedSocket[] = opts.sockets.map((s, i) => ({
    address: s.address,
    host: s.host,
    port: s.port,
    fd: 3 + i,
  }));
  const env = { ...Deno.env.toObject(), [UPGRADE_FDS_ENV]: JSON.stringify(handed) };
  // Loaded here, not at start: a process that never upgrades does not load node's child_process.
  const { spawn } = await import("node:child_process");
  let child: ChildProcess;
  try {
    child = spawn(opts.command, [...opts.args], {
      stdio: ["inherit", "inherit", "inherit", ...opts.sockets.map((s) => s.fd), "ipc"],
      env,
    });
  } catch (err) {
    restoreNonBlocking(opts.sockets);
    return { ok: false, pid: null, reason: `cannot start: ${err}` };
  }
  // Before anything else runs: spawning cleared O_NONBLOCK on the sockets.
  restoreNonBlocking(opts.sockets);
  return await new Promise((resolve) => {
    const pid = child.pid ?? null;
    if (pid !== null) opts.onSpawn?.(pid);
    let settled = false;
    const finish = (r: SuccessorResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.removeAllListeners("message");
      resolve(r);
    };
    let stopping = false;
    const fail = (reason: string) => {
      if (stopping) return;
      stopping = true;
      void stopChild(child).then(() => {
        restoreNonBlocking(opts.sockets);
        finish({ ok: false, pid, reason });
      });
    };
    const timer = setTimeout(
      () => fail(`not ready within ${opts.readyTimeoutMs} ms`),
      opts.readyTimeoutMs,
    );
    child.on("message", (m: unknown) => {
      const msg = m as Partial<ReadyMessage>;
      if (msg?.type !== "shardgate-ready" || settled) return;
      try {
        child.disconnect();
      } catch {
        // already gone
      }
      child.unref();
      finish({ ok: true, pid: pid ?? msg.pid ?? 0 });
    });
    child.on("error", (err) => fail(`cannot start ${opts.command}: ${err.message}`));
    child.on("exit", (code, signal) => {
      if (settled || stopping) return;
      restoreNonBlocking(opts.sockets);
      finish({
        ok: false,
        pid,
        reason: `exited before it was ready (${
          signal !== null ? `signal ${signal}` : `code ${code}`
        })`,
      });
    });
  });
}

/** Gives the sockets their O_NONBLOCK back (see `_libc.ts`). */
function restoreNonBlocking(sockets: readonly OwnSocket[]): void {
  for (const s of sockets) setNonBlocking(s.fd);
}

/** SIGTERM, then SIGKILL after a grace; resolves once it exited. */
function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), UPGRADE_KILL_GRACE_MS);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** True in a process started by an upgrade while its channel to the old process is open. */
export async function upgradeChannel(): Promise<boolean> {
  if (!inheritedSockets.fromUpgrade) return false;
  const { default: process } = await import("node:process");
  return process.send !== undefined && process.connected === true;
}

/**
 * In a process started by an upgrade: tells the old process it serves,
 * then closes the channel. False when there is no channel (not an upgrade).
 */
export async function announceReady(): Promise<boolean> {
  if (!(await upgradeChannel())) return false;
  const { default: process } = await import("node:process");
  const send = process.send?.bind(process);
  if (send === undefined) return false;
  const msg: ReadyMessage = { type: "shardgate-ready", pid: Deno.pid };
  return await new Promise((resolve) => {
    send(msg, undefined, {}, (err: Error | null) => {
      try {
        process.disconnect?.();
      } catch {
        // gone
      }
      resolve(err === null);
    });
  });
}
