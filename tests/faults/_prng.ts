/**
 * A small seeded PRNG (mulberry32), so a fuzz run that fails can be
 * replayed exactly from the seed it printed.
 *
 * @module
 */

/** Environment variable that fixes the seed of a fuzz run (decimal). */
export const SEED_ENV = "FUZZ_SEED";

/** A deterministic random source. */
export class Prng {
  /** The seed it started from. */
  readonly seed: number;
  #state: number;

  /** A generator starting at `seed` (a 32-bit integer). */
  constructor(seed: number) {
    this.seed = seed >>> 0;
    this.#state = this.seed;
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

/** The seed from `FUZZ_SEED`, or a fresh random one. */
export function seedFromEnv(): number {
  const fixed = Deno.env.get(SEED_ENV);
  if (fixed !== undefined && fixed !== "") {
    const n = Number(fixed);
    if (!Number.isInteger(n)) throw new Error(`${SEED_ENV}=${fixed} is not an integer`);
    return n >>> 0;
  }
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/** The seed of this run (see {@linkcode seedFromEnv}), printed with how to replay it. */
export function announceSeed(what: string): number {
  const seed = seedFromEnv();
  console.log(`${what}: seed ${seed} (replay with ${SEED_ENV}=${seed})`);
  return seed;
}
