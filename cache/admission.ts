/**
 * Admission for the near cache: a key gets in only once it is read at least
 * `minReads` times within one second, so a scan over cold keys does not
 * churn the cache (nor cost the node a tracking entry per key).
 *
 * Counting is a count-min sketch (4 rows of 16-bit counters) that starts
 * over every second: bounded memory (2 MiB a shard) whatever the keyspace, few collisions up to ~100k reads/s, one hash per
 * read, never an underestimate (a hot key is never refused; a cold key may
 * rarely get in early, which costs one fill).
 *
 * @module
 */

/** Counters per row (a power of two). */
const WIDTH = 262_144;
const MASK = WIDTH - 1;
const ROWS = 4;
/** The counting window (ms). */
const WINDOW_MS = 1000;

/** FNV-1a over the UTF-16 code units of `s` (keys are latin1 strings: one unit per byte). */
export function hashKey(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Reads-per-second admission over a count-min sketch. */
export class Admission {
  /** Reads of one key within a second before it is admitted. */
  minReads: number;
  #counts = new Uint16Array(ROWS * WIDTH);
  #windowEnd = 0;

  /** An admission rule letting in keys read `minReads` times within a second. */
  constructor(minReads: number) {
    this.minReads = minReads;
  }

  /**
   * Counts one read of `key` at `now` (ms); true when the key has now been
   * read `minReads` times in the current second.
   */
  read(key: string, now: number): boolean {
    if (this.minReads <= 1) return true;
    if (now >= this.#windowEnd) {
      this.#counts.fill(0);
      this.#windowEnd = now + WINDOW_MS;
    }
    const h1 = hashKey(key);
    const h2 = (Math.imul(h1 ^ (h1 >>> 16), 0x85ebca6b) >>> 0) | 1;
    const c = this.#counts;
    let min = 0xffff;
    for (let r = 0; r < ROWS; r++) {
      const i = r * WIDTH + ((h1 + r * h2) & MASK);
      const v = c[i] < 0xffff ? ++c[i] : c[i];
      if (v < min) min = v;
    }
    return min >= this.minReads;
  }
}
