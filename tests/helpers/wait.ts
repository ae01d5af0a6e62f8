/**
 * Condition waits with deadlines (never a bare sleep as synchronisation).
 *
 * @module
 */

import { POLL_INTERVAL_MS, WAIT_FOR_TIMEOUT_MS } from "./_defaults.ts";

/** Options of {@linkcode waitFor}. */
export interface WaitForOptions {
  /** Deadline; default 10 s. */
  timeoutMs?: number;
  /** Pause between two evaluations; default 25 ms. */
  intervalMs?: number;
  /** What was awaited, for the error message. */
  message?: string;
}

/** Resolves after `ms` milliseconds (for pacing, not for synchronisation). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Evaluates `cond` until it returns true; throws a clear error at the deadline.
 * A `cond` that throws counts as false; its last error is quoted on timeout.
 */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  opts: WaitForOptions = {},
): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? WAIT_FOR_TIMEOUT_MS;
  const intervalMs = opts.intervalMs ?? POLL_INTERVAL_MS;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = undefined;
  for (;;) {
    try {
      if (await cond()) return;
      lastError = undefined;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) break;
    await delay(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
  const what = opts.message ?? "condition";
  const why = lastError === undefined ? "" : `; last error: ${errorText(lastError)}`;
  throw new Error(`waitFor: timed out after ${timeoutMs} ms waiting for ${what}${why}`);
}

/**
 * Resolves or rejects like `promise`, or rejects with `message` after `ms`.
 * The timer is cleared either way (no leaked op).
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} (after ${ms} ms)`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A short text for any thrown value. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
