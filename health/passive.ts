/**
 * Passive health: a sliding window of errors seen on a node's traffic, and
 * the growing ejection cooldown. Pure and clock-free (callers pass `now`).
 *
 * @module
 */

/**
 * Counts errors in a sliding time window and tells when `limit` of them fell
 * within `windowMs`. Keeps only the last `limit` timestamps in a ring, so
 * recording is O(1) and allocation-free.
 */
export class ErrorWindow {
  #times: number[];
  #next = 0;
  #filled = 0;
  #windowMs: number;

  /** A window ejecting at `limit` errors within `windowMs` milliseconds. */
  constructor(limit: number, windowMs: number) {
    this.#times = new Array<number>(Math.max(1, Math.floor(limit))).fill(0);
    this.#windowMs = windowMs;
  }

  /** Records one error at `now`; returns true when the limit is reached within the window. */
  record(now: number): boolean {
    const n = this.#times.length;
    this.#times[this.#next] = now;
    this.#next = (this.#next + 1) % n;
    if (this.#filled < n) this.#filled++;
    if (this.#filled < n) return false;
    // The oldest of the last `limit` errors sits where the next one goes.
    return now - this.#times[this.#next] <= this.#windowMs;
  }

  /** Errors recorded within the window ending at `now` (at most `limit`). */
  count(now: number): number {
    const n = this.#times.length;
    let c = 0;
    for (let i = 0; i < this.#filled; i++) {
      const t = this.#times[(this.#next - 1 - i + 2 * n) % n];
      if (now - t <= this.#windowMs) c++;
    }
    return c;
  }

  /** Forgets every recorded error. */
  clear(): void {
    this.#next = 0;
    this.#filled = 0;
  }
}

/**
 * The cooldown of a node's next ejection: `baseMs` doubled once per earlier
 * ejection in its current streak, capped at `maxMs`.
 */
export function ejectionCooldownMs(baseMs: number, maxMs: number, streak: number): number {
  const cap = Math.max(baseMs, maxMs);
  // 2^31 already exceeds any sane cap; stop doubling early to stay finite.
  const factor = 2 ** Math.min(Math.max(0, streak), 31);
  return Math.min(baseMs * factor, cap);
}
