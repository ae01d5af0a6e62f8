/**
 * Admission for the near cache: a key gets in only once it is read about
 * `minReads` times a second, so a scan or a uniform spread over a keyspace
 * larger than the cache does not churn it (nor cost the node a tracking
 * entry, and the sidecar a fill, per key).
 *
 * Counting is a count-min sketch whose counts halve every two seconds: a
 * key read `r` times a second settles at a count of about `4r`, and it is
 * admitted once its count reaches `4 × minReads − 1` — a burst of that many
 * reads within two seconds, or `minReads` a second kept up for several
 * seconds. A key read at half that rate (a uniform keyspace read at tens
 * of thousands of reads a second) almost never gets there by chance, which
 * a count that starts over every second let happen to one key in seventy.
 * While the cache has room, nothing is evicted by an admission, so a key
 * gets in at a lower count, `minReads` ({@link Admission.readHash}'s
 * `roomy`): a skewed keyspace's warm tail fills free space.
 *
 * The sketch is blocked: a key's four 8-bit counters share one 64-byte
 * block (one cache line), so a read costs one memory miss, not four; it is
 * updated conservatively (only the counters at the key's minimum go up), so
 * keys sharing a counter inflate each other little.
 * Halving is lazy, per block (each block remembers the second it was last
 * halved for), so no pass over the whole sketch ever stalls the data path.
 * 512 KiB a shard whatever the keyspace; never an underestimate (a hot key is
 * never refused; a cold key may rarely get in early, which costs one fill).
 *
 * @module
 */

/**
 * Blocks of 64 one-byte counters (a power of two): 512 KiB, which keeps a
 * uniform 200,000-key keyspace read 400,000 times a second (MGET of 10 at
 * 40,000/s) below 5% false admissions in five seconds (`admission_test.ts`).
 */
const BLOCKS = 8_192;
const BLOCK_MASK = BLOCKS - 1;
/** The aging period: counts halve once per this many ms. */
const HALF_LIFE_MS = 2000;
const SATURATED = 255;

/** FNV-1a over the UTF-16 code units of `s` (keys are latin1 strings: one unit per byte). */
export function hashKey(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** FNV-1a over the bytes `buf[start, end)`: equal to {@link hashKey} of the same key as latin1. */
export function hashBytes(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    h ^= buf[i];
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Reads-per-second admission over a decaying, blocked count-min sketch. */
export class Admission {
  #minReads = 0;
  #threshold = 0;
  #roomyThreshold = 0;
  #counts = new Uint8Array(BLOCKS * 64);
  /** Per block: the aging period it was last brought up to (mod 65,536: 18 hours). */
  #epochs = new Uint16Array(BLOCKS);
  #start = -1;

  /** An admission rule letting in keys read about `minReads` times a second. */
  constructor(minReads: number) {
    this.minReads = minReads;
  }

  /** Reads a second a key needs (1: every key at once). */
  get minReads(): number {
    return this.#minReads;
  }

  set minReads(n: number) {
    this.#minReads = n;
    this.#threshold = Math.min(SATURATED, 4 * n - 1);
    this.#roomyThreshold = Math.min(SATURATED, n);
  }

  /** Counts one read of `key` at `now` (ms); true when the key is now hot enough to get in. */
  read(key: string, now: number, roomy = false): boolean {
    return this.readHash(hashKey(key), now, roomy);
  }

  /**
   * {@link read} for a key given by its {@link hashKey} / {@link hashBytes};
   * `roomy`: the cache has room (admitting evicts nothing), the lower
   * threshold applies.
   */
  readHash(h1: number, now: number, roomy = false): boolean {
    if (this.#minReads <= 1) return true;
    if (this.#start < 0) this.#start = now;
    const h2 = Math.imul(h1 ^ (h1 >>> 15), 0x2c1b3c6d) >>> 0;
    const block = h1 & BLOCK_MASK;
    const base = block << 6;
    const c = this.#counts;
    // Bring the block up to the current period: halve once per period missed.
    const epoch = Math.floor((now - this.#start) / HALF_LIFE_MS) & 0xffff;
    const behind = (epoch - this.#epochs[block]) & 0xffff;
    if (behind !== 0) {
      this.#epochs[block] = epoch;
      if (behind >= 8) c.fill(0, base, base + 64);
      else for (let i = base; i < base + 64; i++) c[i] >>= behind;
    }
    // Conservative update: only the counters at the key's minimum go up, so
    // keys sharing a counter inflate each other far less than by their sum.
    const i0 = base + (h2 & 63), i1 = base + ((h2 >>> 6) & 63);
    const i2 = base + ((h2 >>> 12) & 63), i3 = base + ((h2 >>> 18) & 63);
    const min = Math.min(c[i0], c[i1], c[i2], c[i3]);
    if (min === SATURATED) return true;
    if (c[i0] === min) c[i0] = min + 1;
    if (c[i1] === min) c[i1] = min + 1;
    if (c[i2] === min) c[i2] = min + 1;
    if (c[i3] === min) c[i3] = min + 1;
    return min + 1 >= (roomy ? this.#roomyThreshold : this.#threshold);
  }
}
