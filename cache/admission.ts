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
 * `roomy`): a skewed keyspace's warm tail fills free space. Once it is
 * full, a key below the hot threshold still gets in when it is read
 * clearly more often than the entry it would evict ({@link Admission.displaces},
 * the TinyLFU rule with a margin): a warm key replaces a colder one, so the
 * cache converges on the most read keys, while a uniform keyspace, whose
 * keys are all read alike, does not churn it. (An entry that expires after
 * answering reads is fetched again without asking admission:
 * `CacheStore.takeRenewal`.)
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

/** What admission asks of the cache it admits into (the near cache's store). */
export interface AdmissionTarget {
  /** True while an entry fits without evicting one. */
  readonly roomy: boolean;
  /** The entry the next admission would evict (its key's hash), if any. */
  victim(): { readonly hash: number } | undefined;
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
  /**
   * Lean (the near cache answered too few reads to pay for warm keys): only
   * keys hot by the full threshold get in — no lower bar while the cache has
   * room, no displacement.
   */
  lean = false;

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
  readHash(h: number, now: number, roomy = false): boolean {
    return this.admits(this.count(h, now), roomy);
  }

  /**
   * Counts a missed read of the key with hash `h` at `now`: true when it is
   * to be fetched into `cache`. While the cache has room: hot enough by the
   * rule above. Once it is full, a fill evicts an entry, so the key must
   * also be read clearly more often than the entry it would evict
   * ({@link Admission.displaces}), however hot it is: keys read alike — a
   * uniform keyspace's, even one read above `minReads` a second — do not
   * replace each other (each replacement costs a fill and answers nothing
   * more). Below the hot threshold a key may displace only while not
   * {@link lean}.
   */
  wants(h: number, now: number, cache: AdmissionTarget): boolean {
    const n = this.count(h, now);
    if (this.#minReads <= 1) return true;
    if (cache.roomy) return this.admits(n, true);
    if (!this.admits(n, false) && (this.lean || !this.displaces(n, 0))) return false;
    return this.#beatsVictim(n, now, cache);
  }

  /**
   * {@link wants} for one key of a read of several (an MGET): by the hot
   * threshold only, never by displacement below it (each key's chance would
   * add up), and in a full cache above the entry it would evict too.
   */
  wantsHot(h: number, now: number, cache: AdmissionTarget): boolean {
    const n = this.count(h, now);
    if (this.#minReads <= 1) return true;
    const roomy = cache.roomy;
    if (!this.admits(n, roomy)) return false;
    return roomy || this.#beatsVictim(n, now, cache);
  }

  /** A key counted `n` takes the place of `cache`'s next victim (none yet, its fills in flight: no). */
  #beatsVictim(n: number, now: number, cache: AdmissionTarget): boolean {
    const v = cache.victim();
    return v !== undefined && this.displaces(n, this.estimate(v.hash, now));
  }

  /** True when a key whose count is `n` gets in (`roomy`: the cache has room; not while {@link lean}). */
  admits(n: number, roomy: boolean): boolean {
    return this.#minReads <= 1 ||
      n >= (roomy && !this.lean ? this.#roomyThreshold : this.#threshold);
  }

  /**
   * True when a key whose count is `n` may take the place of an entry whose
   * key's count is `victim` ({@link estimate}) in a full cache: its count is
   * above `minReads + 1` and above twice the victim's plus two (TinyLFU,
   * with margins so that keys read alike, a uniform keyspace's, seldom
   * replace each other: each replacement costs a fill).
   */
  displaces(n: number, victim: number): boolean {
    return n > this.#roomyThreshold + 1 && n > 2 * victim + 2;
  }

  /** Counts one read of the key with hash `h` at `now` (ms); its count after it. */
  count(h: number, now: number): number {
    return this.#minReads <= 1 ? SATURATED : this.#touch(h, now, true);
  }

  /** The count of the key with hash `h` at `now`, without counting a read. */
  estimate(h: number, now: number): number {
    return this.#minReads <= 1 ? 0 : this.#touch(h, now, false);
  }

  /** The key's count (its four counters' minimum), after one more read when `add`. */
  #touch(h1: number, now: number, add: boolean): number {
    const base = this.#block(h1, now);
    const h2 = Math.imul(h1 ^ (h1 >>> 15), 0x2c1b3c6d) >>> 0;
    const c = this.#counts;
    const i0 = base + (h2 & 63), i1 = base + ((h2 >>> 6) & 63);
    const i2 = base + ((h2 >>> 12) & 63), i3 = base + ((h2 >>> 18) & 63);
    const min = Math.min(c[i0], c[i1], c[i2], c[i3]);
    if (!add || min === SATURATED) return min;
    // Conservative update: only the counters at the key's minimum go up, so
    // keys sharing a counter inflate each other far less than by their sum.
    if (c[i0] === min) c[i0] = min + 1;
    if (c[i1] === min) c[i1] = min + 1;
    if (c[i2] === min) c[i2] = min + 1;
    if (c[i3] === min) c[i3] = min + 1;
    return min + 1;
  }

  /** The offset of the block of hash `h`, brought up to `now`: halved once per period missed. */
  #block(h: number, now: number): number {
    if (this.#start < 0) this.#start = now;
    const block = h & BLOCK_MASK;
    const base = block << 6;
    const epoch = Math.floor((now - this.#start) / HALF_LIFE_MS) & 0xffff;
    const behind = (epoch - this.#epochs[block]) & 0xffff;
    if (behind !== 0) {
      this.#epochs[block] = epoch;
      if (behind >= 8) this.#counts.fill(0, base, base + 64);
      else for (let i = base; i < base + 64; i++) this.#counts[i] >>= behind;
    }
    return base;
  }
}
