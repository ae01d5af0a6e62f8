/**
 * shardgate's command line: `run` (the default), `check`, `upgrade` and `--version`.
 * Wiring only: parse arguments, load the config, start the app, handle
 * signals.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { App, logListening } from "./app.ts";
import { loadNodeHttp } from "./admin/mod.ts";
import { loadNodeNet } from "./proxy/mod.ts";
import { formatIssue, loadConfig, parseDuration, suggestKey } from "./config/mod.ts";
import { UPGRADE_READY_POLL_MS, UPGRADE_READY_TIMEOUT_MS } from "./config/defaults.ts";
import {
  announceReady,
  closeInheritedFd,
  inheritedSockets,
  sdNotify,
  upgradeChannel,
} from "./upgrade/mod.ts";
import { type LogFormat, Logger, type LogLevel } from "./telemetry/logger.ts";
import { VERSION } from "./version.ts";

const USAGE = `shardgate ${VERSION} — Redis/Valkey sidecar

Usage:
  shardgate [run] --config FILE [--log-level debug|info|warn|error] [--log-format json|text]
  shardgate check --config FILE     validate; exit 0, or 2 with file:line:col errors
  shardgate upgrade --pid PID [--timeout 60s]
                                    hitless upgrade of the running PID (SIGUSR2); exit 0 once
                                    it handed over and exited, 1 if it still runs at the timeout
  shardgate --version

run options:
  --upgrade-binary PATH   what SIGUSR2 starts, with this process's arguments
                          (default: the same command line, so a replaced file is the new version)
  --upgrade-timeout D     how long the new process may take to be ready (default 30s)
`;

const LEVELS = ["debug", "info", "warn", "error"];
const FORMATS = ["json", "text"];
const COMMANDS = ["run", "check", "upgrade"];
const OPTIONS = {
  config: { type: "string", short: "c" },
  pid: { type: "string" },
  timeout: { type: "string" },
  "upgrade-binary": { type: "string" },
  "upgrade-timeout": { type: "string" },
  "log-level": { type: "string", default: "info" },
  "log-format": { type: "string" },
  version: { type: "boolean", short: "v" },
  help: { type: "boolean", short: "h" },
} as const;

/**
 * `parseArgs`'s message, with the nearest known option when the unknown one
 * looks like a typo (`--confg` → `--config`).
 */
export function argumentError(message: string): string {
  const m = /^Unknown option '(-{1,2})([^'=]+)/.exec(message);
  if (m === null) return message;
  const near = suggestKey(m[2], Object.keys(OPTIONS));
  const first = message.split(". ")[0];
  return near === undefined ? first : `${first} (did you mean '--${near}'?)`;
}

/** Runs the CLI with `args`; resolves to the process exit code. */
export async function cli(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: OPTIONS });
  } catch (err) {
    console.error(`shardgate: ${argumentError((err as Error).message)}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    console.log(`shardgate ${VERSION} (deno ${Deno.version.deno})`);
    return 0;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const command = positionals[0] ?? "run";
  if (positionals.length > 1 || !COMMANDS.includes(command)) {
    const near = positionals.length === 1 ? suggestKey(command, COMMANDS) : undefined;
    const hint = near === undefined ? "" : ` (did you mean '${near}'?)`;
    console.error(`shardgate: unknown command '${positionals.join(" ")}'${hint}\n\n${USAGE}`);
    return 2;
  }
  if (command === "upgrade") return await upgradeCommand(values.pid, values.timeout ?? "60s");
  let upgradeTimeoutMs = UPGRADE_READY_TIMEOUT_MS;
  try {
    if (values["upgrade-timeout"] !== undefined) {
      upgradeTimeoutMs = parseDuration(values["upgrade-timeout"]);
    }
  } catch (err) {
    console.error(`shardgate: --upgrade-timeout: ${(err as Error).message}`);
    return 2;
  }
  if (values.config === undefined) {
    console.error(`shardgate: --config FILE is required\n\n${USAGE}`);
    return 2;
  }
  const level = values["log-level"]!;
  const format = values["log-format"];
  if (!LEVELS.includes(level) || (format !== undefined && !FORMATS.includes(format))) {
    console.error(
      `shardgate: --log-level is one of ${LEVELS.join("|")}, --log-format one of ${
        FORMATS.join("|")
      }`,
    );
    return 2;
  }

  const result = await loadConfig(values.config);
  if (result.config === null) {
    for (const issue of result.issues) console.error(formatIssue(issue));
    return 2;
  }
  if (command === "check") {
    const n = result.config.shards.length;
    console.log(`${values.config}: ok (${n} shard${n === 1 ? "" : "s"})`);
    return 0;
  }

  const logger = new Logger(level as LogLevel, format as LogFormat | undefined);
  // Inherited listeners are served with node:net and node:http, loaded only then.
  if (inheritedSockets.any) await Promise.all([loadNodeNet(), loadNodeHttp()]);
  const app = new App(result.config, logger);
  try {
    for (const l of await app.start()) logListening(logger, l);
  } catch (err) {
    logger.error("startup failed", { error: (err as Error).message });
    return 1;
  }
  // Signal handlers and the watcher are in place before `ready`: a SIGHUP or
  // SIGTERM sent as soon as that line appears is handled, not fatal.
  app.watch();
  Deno.addSignalListener("SIGHUP", () => {
    logger.info("SIGHUP: reloading", { config: values.config });
    void app.reload();
  });
  const exitCode = new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      // A second signal (Ctrl-C reaches a process group, then a supervisor's
      // SIGTERM) does not cut the drain short: it is bounded by timeouts.drain.
      if (stopping) return;
      stopping = true;
      const drainMs = Math.max(0, ...app.config.shards.map((s) => s.timeouts.drainMs));
      logger.info("shutting down", { signal, drainMs });
      const t0 = Date.now();
      app.close().then(() => {
        logger.info("stopped", { signal, ms: Date.now() - t0 });
        resolve(0);
      }, (err) => {
        logger.error("shutdown failed", { error: String(err) });
        resolve(1);
      });
    };
    Deno.addSignalListener("SIGINT", () => stop("SIGINT"));
    Deno.addSignalListener("SIGTERM", () => stop("SIGTERM"));
    Deno.addSignalListener("SIGUSR2", () => {
      if (stopping) return;
      logger.info("SIGUSR2: upgrading", { pid: Deno.pid });
      void app.upgrade({
        binary: values["upgrade-binary"] ?? null,
        readyTimeoutMs: upgradeTimeoutMs,
      }).then((outcome) => {
        if (outcome?.ok !== true) return;
        stopping = true;
        logger.info("stopped", { signal: "SIGUSR2", pid: Deno.pid });
        resolve(0);
      }, (err) => logger.error("upgrade failed", { error: String(err) }));
    });
  });
  // Sockets handed over for listeners this config no longer has: not ours to keep open.
  for (const s of inheritedSockets.left()) {
    logger.info("upgrade: inherited listener not in the config; closed", { address: s.address });
    await closeInheritedFd(s.fd);
  }
  if (await upgradeChannel()) {
    // Started by an upgrade: take over only once this process could serve
    // every port (what /readyz checks); the old one stops waiting at its deadline.
    app.warm();
    let logged = "";
    for (let why = app.notReady(); why.length > 0; why = app.notReady()) {
      if (why.join("\n") !== logged) {
        logged = why.join("\n");
        logger.warn("upgrade: not ready yet", { reasons: logged });
      }
      await new Promise((r) => setTimeout(r, UPGRADE_READY_POLL_MS));
    }
  }
  logger.info("ready", { version: VERSION, config: values.config, pid: Deno.pid });
  if (await announceReady()) {
    logger.info("upgrade: told the old process this one is ready", { pid: Deno.pid });
  } else {
    const why = await sdNotify(["READY=1", `MAINPID=${Deno.pid}`]);
    if (why !== null) logger.warn("systemd not told", { error: why });
  }
  return await exitCode;
}

/**
 * `shardgate upgrade --pid PID`: sends SIGUSR2 and waits for PID to exit
 * (it exits once the new process serves and it drained). Exit 0 then; 1
 * if it still runs after `timeout` (it rolled back, or still drains: its
 * `upgrade` log lines say which); 2 for bad arguments.
 */
async function upgradeCommand(pidText: string | undefined, timeoutText: string): Promise<number> {
  const pid = Number(pidText);
  let timeoutMs: number;
  try {
    timeoutMs = parseDuration(timeoutText);
  } catch (err) {
    console.error(`shardgate: --timeout: ${(err as Error).message}`);
    return 2;
  }
  if (!Number.isInteger(pid) || pid <= 1) {
    console.error(`shardgate: upgrade needs --pid PID of the running shardgate\n\n${USAGE}`);
    return 2;
  }
  try {
    Deno.kill(pid, "SIGUSR2");
  } catch (err) {
    console.error(`shardgate: cannot signal ${pid}: ${(err as Error).message}`);
    return 1;
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive(pid)) {
      console.log(`shardgate: ${pid} handed over and exited`);
      return 0;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  console.error(
    `shardgate: ${pid} still runs after ${timeoutText}: the upgrade rolled back or still drains` +
      ` (see its "upgrade" log lines)`,
  );
  return 1;
}

/** True while `pid` runs (a zombie counts as exited). */
function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

if (import.meta.main) {
  Deno.exit(await cli(Deno.args));
}
