/**
 * Watching the config file for changes.
 *
 * Editors rarely write a file in place: many write a temporary file and
 * rename it over the original, and Kubernetes-style deployments swap a
 * symlink. So the watcher watches directories, not the file: the file's own
 * directory and, when the path goes through symlinks, the directory of its
 * final target (re-resolved after every change). Any event there starts (or
 * restarts) a debounce timer; when it fires the file is read and
 * `onChange()` is called only if its content differs from the last content
 * seen. A burst of writes thus gives one call, and a touch, a rewrite with
 * the same bytes or noise from other files in the directory gives none.
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import {
  CONFIG_RELOAD_DEBOUNCE_MS,
  CONFIG_RELOAD_MAX_WAIT_MS,
  CONFIG_WATCH_RETRY_MS,
} from "./defaults.ts";

/** Options of {@link watchConfig}. */
export interface WatchOptions {
  /** Quiet time after the last event before the file is compared, in ms. */
  readonly debounceMs?: number;
  /**
   * Longest time from a burst's first event to the comparison, however
   * long the burst goes on (default {@link CONFIG_RELOAD_MAX_WAIT_MS}, at
   * least 4 debounces).
   */
  readonly maxWaitMs?: number;
  /**
   * Called when watching fails (e.g. a watched directory disappears; it is
   * retried) or `onChange` throws. Default: `console.error`.
   */
  readonly onError?: (err: unknown) => void;
}

/** A running config watcher. */
export interface ConfigWatcher {
  /** Stops watching; no `onChange` call happens after it. Idempotent. */
  close(): void;
  /** Settles once the watcher has released every resource after {@link close}. */
  readonly closed: Promise<void>;
}

function readOrNull(file: string): Uint8Array | null {
  try {
    return Deno.readFileSync(file);
  } catch {
    return null;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The directories to watch for `file`: its own and its symlink target's. */
function directoriesOf(file: string): string[] {
  const dirs = [dirname(file)];
  try {
    const target = dirname(Deno.realPathSync(file));
    if (!dirs.includes(target)) dirs.push(target);
  } catch {
    // Missing file or dangling link: its directory alone will see it come back.
  }
  return dirs;
}

/**
 * Watches `file` and calls `onChange()` once per burst of changes to its
 * content, `debounceMs` (default {@link CONFIG_RELOAD_DEBOUNCE_MS}) after
 * the last event, or `maxWaitMs` after the first when events in the
 * directory never stop. A file that is briefly missing (between an unlink and a
 * rename) is not a change; its return with new content is.
 *
 * @throws when the file's directory cannot be watched.
 */
export function watchConfig(
  file: string,
  onChange: () => void,
  opts: WatchOptions = {},
): ConfigWatcher {
  const path = resolve(file);
  const debounceMs = opts.debounceMs ?? CONFIG_RELOAD_DEBOUNCE_MS;
  const maxWaitMs = opts.maxWaitMs ?? Math.max(CONFIG_RELOAD_MAX_WAIT_MS, 4 * debounceMs);
  const onError = opts.onError ??
    ((err: unknown) => console.error(`shardgate: watching ${file}:`, err));
  let last = readOrNull(path);
  let dirs = directoriesOf(path);
  let watcher: Deno.FsWatcher | null = null;
  const pumps = new Set<Promise<void>>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let isClosed = false;

  /** When the burst of events the pending comparison waits out began. */
  let burstStart = 0;
  const schedule = () => {
    if (isClosed) return;
    const now = performance.now();
    if (timer === undefined) burstStart = now;
    else clearTimeout(timer);
    timer = setTimeout(settle, Math.max(0, Math.min(debounceMs, burstStart + maxWaitMs - now)));
  };

  const pump = async (w: Deno.FsWatcher) => {
    try {
      for await (const event of w) {
        if (w !== watcher) break;
        // Opens and closes are not changes (a write also gives "modify").
        if (event.kind !== "access") schedule();
      }
    } catch (err) {
      if (w === watcher && !isClosed) onError(err);
    }
    // Ended without close() (e.g. the directory went away): watch afresh.
    if (w === watcher && !isClosed) {
      watcher = null;
      schedule();
    }
  };

  const start = () => {
    const w = Deno.watchFs(dirs, { recursive: false });
    watcher = w;
    const p = pump(w).finally(() => pumps.delete(p));
    pumps.add(p);
  };

  function settle() {
    timer = undefined;
    if (isClosed) return;
    // A swapped symlink may now point into another directory.
    const now = directoriesOf(path);
    if (watcher === null || now.join("\0") !== dirs.join("\0")) {
      const old = watcher;
      dirs = now;
      try {
        start();
        old?.close();
      } catch (err) {
        onError(err);
        watcher = old;
        if (watcher === null) {
          // Nothing watches now: try again later rather than go deaf.
          timer = setTimeout(settle, Math.max(debounceMs, CONFIG_WATCH_RETRY_MS));
        }
      }
    }
    const content = readOrNull(path);
    if (content === null) return;
    if (last !== null && sameBytes(last, content)) return;
    last = content;
    try {
      onChange();
    } catch (err) {
      onError(err);
    }
  }

  start();
  let resolveClosed = () => {};
  const closed = new Promise<void>((r) => resolveClosed = r);
  return {
    closed,
    close() {
      if (isClosed) return;
      isClosed = true;
      if (timer !== undefined) clearTimeout(timer);
      const w = watcher;
      watcher = null;
      w?.close();
      Promise.all([...pumps]).then(() => resolveClosed());
    },
  };
}
