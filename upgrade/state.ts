/**
 * The upgrade of a running process, as a pure machine (like
 * `health/state.ts`): one explicit state, an injected clock, no I/O.
 *
 * ```
 *  idle ──start──▶ starting ──ready──▶ handing_over ──drained──▶ done
 *   ▲                 │ exited / failed / past the ready deadline
 *   └──── rollback ◀──┘  (the old process keeps serving)
 * ```
 *
 * @module
 */

/** Where an upgrade stands. */
export type UpgradeState = "idle" | "starting" | "handing_over" | "done";

/** The last finished attempt. */
export interface UpgradeOutcome {
  /** Handed over (true) or rolled back (false). */
  readonly ok: boolean;
  /** Why it rolled back, or "" when it handed over. */
  readonly reason: string;
  /** The new process's pid, when it was started. */
  readonly pid: number | null;
  /** When it started and ended, ms on the machine's clock. */
  readonly startedAt: number;
  readonly endedAt: number;
}

/** An upgrade's state and transitions. */
export class UpgradeMachine {
  #state: UpgradeState = "idle";
  #now: () => number;
  #readyTimeoutMs: number;
  #startedAt = 0;
  #pid: number | null = null;
  #last: UpgradeOutcome | null = null;

  /** A machine whose new process must be ready `readyTimeoutMs` after the start. */
  constructor(readyTimeoutMs: number, now: () => number = Date.now) {
    this.#readyTimeoutMs = readyTimeoutMs;
    this.#now = now;
  }

  /** The current state. */
  get state(): UpgradeState {
    return this.#state;
  }

  /** The last attempt that ended (rolled back or handed over), or null. */
  get last(): UpgradeOutcome | null {
    return this.#last;
  }

  /** When a starting new process must have said it is ready (ms), or null. */
  get deadline(): number | null {
    return this.#state === "starting" ? this.#startedAt + this.#readyTimeoutMs : null;
  }

  /**
   * Asks for an upgrade: from idle to starting. Returns why not when one
   * is under way or done (a process hands over once), else null.
   */
  start(): string | null {
    if (this.#state !== "idle") return `an upgrade is already ${this.#state.replace("_", " ")}`;
    this.#state = "starting";
    this.#startedAt = this.#now();
    this.#pid = null;
    return null;
  }

  /** The new process was spawned with `pid`. */
  spawned(pid: number): void {
    if (this.#state === "starting") this.#pid = pid;
  }

  /**
   * The new process said it is ready: starting → handing_over. Returns false
   * (and changes nothing) when it is too late: not starting, or past the
   * deadline (the caller rolls back with {@link fail}).
   */
  ready(): boolean {
    if (this.#state !== "starting" || this.expired()) return false;
    this.#state = "handing_over";
    return true;
  }

  /** True while starting and past the ready deadline. */
  expired(): boolean {
    const d = this.deadline;
    return d !== null && this.#now() > d;
  }

  /** Rollback: the new process exited, failed or was late; back to idle. */
  fail(reason: string): UpgradeOutcome | null {
    if (this.#state !== "starting") return null;
    this.#state = "idle";
    return this.#end(false, reason);
  }

  /** The old process drained: handing_over → done. */
  drained(): UpgradeOutcome | null {
    if (this.#state !== "handing_over") return null;
    this.#state = "done";
    return this.#end(true, "");
  }

  #end(ok: boolean, reason: string): UpgradeOutcome {
    this.#last = {
      ok,
      reason,
      pid: this.#pid,
      startedAt: this.#startedAt,
      endedAt: this.#now(),
    };
    return this.#last;
  }
}
