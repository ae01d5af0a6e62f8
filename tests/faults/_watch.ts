/**
 * Watching shardgate from outside while it is fed bad input: its resident
 * memory over time, lines in its log that only a crash or a bug prints, and
 * whether it still shuts down cleanly.
 *
 * @module
 */

import { rssBytes, type ShardgateProcess, withTimeout } from "../helpers/mod.ts";

/** How often {@linkcode RssSampler} reads /proc. */
export const RSS_SAMPLE_MS = 50;
/** How long a clean shutdown may take (1 s drain plus slack for a busy machine). */
export const CLEAN_EXIT_MS = 5_000;

/** Samples a process's RSS until disposed. */
export class RssSampler implements AsyncDisposable {
  /** RSS when sampling started, bytes. */
  readonly first: number;
  /** Highest RSS seen, bytes. */
  max: number;
  readonly #timer: ReturnType<typeof setInterval>;

  /** Starts sampling `pid` every {@linkcode RSS_SAMPLE_MS}. */
  constructor(pid: number) {
    this.first = this.max = rssBytes(pid);
    this.#timer = setInterval(() => {
      try {
        this.max = Math.max(this.max, rssBytes(pid));
      } catch {
        // exited: the test notices
      }
    }, RSS_SAMPLE_MS);
  }

  /** Growth over the first sample, MB. */
  get growthMb(): number {
    return (this.max - this.first) / 1048576;
  }

  /** Stops sampling. */
  [Symbol.asyncDispose](): Promise<void> {
    clearInterval(this.#timer);
    return Promise.resolve();
  }
}

/**
 * Log lines that mean something went wrong inside shardgate: anything not
 * a log record (an uncaught exception's trace) and error-level records.
 */
export function crashLines(sg: ShardgateProcess): string[] {
  const logs = sg.logs();
  return sg.records().flatMap((r, i) =>
    r.level === "raw" || r.level === "error" ? [`log: ${logs[i].slice(0, 200)}`] : []
  );
}

/** SIGTERMs `sg`; returns what went wrong (not exited 0 within {@linkcode CLEAN_EXIT_MS}). */
export async function cleanExit(sg: ShardgateProcess): Promise<string[]> {
  if (!sg.running) return ["shardgate had already exited"];
  sg.signal("SIGTERM");
  try {
    const status = await withTimeout(sg.exited, CLEAN_EXIT_MS, "shardgate exit after SIGTERM");
    return status.code === 0 ? [] : [`shardgate exited with ${JSON.stringify(status)}`];
  } catch (e) {
    return [e instanceof Error ? e.message : String(e)];
  }
}
