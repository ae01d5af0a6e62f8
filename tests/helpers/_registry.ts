/**
 * Every process the harness starts is registered here until it is stopped,
 * so `stopAll()` can clean up after a test that forgot, and an `unload`
 * handler kills whatever is still running when the test module ends.
 *
 * @module
 */

/** Something the harness started that must not outlive the test module. */
export interface Tracked {
  /** Stops gracefully and removes temp files; idempotent. */
  stop(): Promise<void>;
  /** Last resort at module unload: SIGKILL and remove temp files synchronously. */
  killSync(): void;
}

const live = new Set<Tracked>();
let unloadHooked = false;

/** Registers `t` until `untrack(t)`. */
export function track(t: Tracked): void {
  if (!unloadHooked) {
    unloadHooked = true;
    globalThis.addEventListener("unload", () => {
      for (const x of live) {
        try {
          x.killSync();
        } catch {
          // best effort at exit
        }
      }
      live.clear();
    });
  }
  live.add(t);
}

/** Forgets `t` (it stopped). */
export function untrack(t: Tracked): void {
  live.delete(t);
}

/** How many started processes are still registered. */
export function liveCount(): number {
  return live.size;
}

/** Stops every process still registered, in parallel; never throws for one failing. */
export async function stopAll(): Promise<void> {
  const all = [...live];
  const results = await Promise.allSettled(all.map((t) => t.stop()));
  for (const t of all) live.delete(t);
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed.length > 0) {
    throw new AggregateError(failed.map((f) => f.reason), `stopAll: ${failed.length} failed`);
  }
}

/** Sends `signal` to `pid`, ignoring "no such process". */
export function signalPid(pid: number, signal: Deno.Signal): boolean {
  try {
    Deno.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Removes `path` recursively, ignoring a missing path. */
export function removeSyncQuiet(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch {
    // already gone
  }
}

/** Removes `path` recursively, ignoring a missing path. */
export async function removeQuiet(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}
