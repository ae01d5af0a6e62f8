/**
 * The near cache's entries: exact reply bytes by key, bounded in keys and
 * bytes, each with a deadline (the earlier of its maximum age and the key's
 * own TTL), and the fills in flight, each with a token that any
 * invalidation of its key voids (so a reply read before an invalidation
 * never fills after it).
 *
 * A fill of a key that is held (a refresh, {@link CacheStore.completeFill})
 * that brings the same bytes only moves the entry's deadline: it stays
 * live, so the hits already taken from it stand.
 *
 * Eviction is CLOCK (second chance): a hit only sets a flag, so the hit
 * path never reorders anything; when over a bound, the entry at the hand
 * (the oldest not passed over since) is evicted unless it was hit since,
 * else the hand passes it, clearing the flag. The entries form a ring:
 *
 *          hand (next candidate) ──▶ e1 ─▶ e2 ─▶ … ─▶ eN ─┐
 *            ▲  a fill goes in here, just behind the hand  │
 *            └─────────────────────────────────────────────┘
 *
 * Passing an entry moves one pointer, so a sweep over entries a uniform
 * keyspace's hits all flagged costs nothing but the walk.
 *
 * Entries are indexed by their key's hash only (no `Map` by key string): a
 * read finds its entry from the key's bytes as they came in, compared in
 * place ({@link CacheStore.find}), so no string is made of a key to read
 * it; an invalidation or a write finds it by the key string's hash.
 *
 * @module
 */

import { CACHE_ENTRY_OVERHEAD } from "../config/defaults.ts";
import { sameBytes } from "../resp/mod.ts";
import { hashKey } from "./admission.ts";
import { baseKey } from "./variants.ts";

/** Buckets of the hash index at first; it doubles to keep at least two per entry. */
const INITIAL_BUCKETS = 1024;

/** Why entries left the cache (the `reason` label of the evictions metric). */
export const EVICT_REASONS = [
  "invalidated",
  "write",
  "expired",
  "size",
  "flush",
  "connection",
  "node",
  "config",
  "lean",
] as const;
/** One of {@link EVICT_REASONS}. */
export type EvictReason = typeof EVICT_REASONS[number];
/** Index of each reason in {@link CacheStore.evictions}. */
export const Evict: { readonly [K in EvictReason]: number } = Object.fromEntries(
  EVICT_REASONS.map((r, i) => [r, i]),
) as { readonly [K in EvictReason]: number };

/** One cached key. */
export class CacheEntry {
  /** The key (latin1: one UTF-16 unit per key byte). */
  readonly key: string;
  /** The node's reply as it was (a bulk string; `variants.ts`: others), or null for a nil reply. */
  readonly reply: Uint8Array | null;
  /** Not served at or after this time (data-path ms); a refresh moves it. */
  deadline: number;
  /** The deadline is the key's own TTL (not the max age): a refresh would not move it. */
  capped: boolean;
  /** Bytes counted against the bound. */
  readonly bytes: number;
  /** Hit since the clock hand last passed it. */
  ref = false;
  /** Hit at least once since its fill. */
  used = false;
  /** Held by the store: false once evicted (a hit taken from it is then retracted). */
  live = true;
  /** {@link hashKey} of the key. */
  readonly hash: number;
  /** The next held entry in the same bucket of the store's hash index (another key, same low bits). */
  next: CacheEntry | undefined = undefined;
  /** The next entry in the CLOCK ring (itself when alone; itself too once evicted). */
  newer: CacheEntry = this;
  /** The previous entry in the CLOCK ring. */
  older: CacheEntry = this;

  /**
   * An entry for `key` (a cache key: `variants.ts`) answering `reply` until
   * `deadline` (`capped`: the key's TTL), counted as `extra` bytes more
   * (a RESP2 form the store keeps beside it).
   */
  constructor(key: string, reply: Uint8Array | null, deadline: number, capped = false, extra = 0) {
    this.key = key;
    this.reply = reply;
    this.deadline = deadline;
    this.capped = capped;
    this.hash = hashKey(key);
    this.bytes = key.length + (reply === null ? 0 : reply.length) + extra + CACHE_ENTRY_OVERHEAD;
  }
}

/** True when two replies (null: nil) are the same bytes. */
function sameReply(a: Uint8Array | null, b: Uint8Array | null): boolean {
  return a === null || b === null ? a === b : sameBytes(a, b);
}

/** True when `key` (latin1) is the bytes `buf[start, end)`. */
function sameKey(key: string, buf: Uint8Array, start: number, end: number): boolean {
  if (key.length !== end - start) return false;
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) !== buf[start + i]) return false;
  return true;
}

/** Bounded entries plus the fills in flight. */
export class CacheStore {
  /** Maximum entries. */
  maxKeys: number;
  /** Maximum bytes (see {@link CacheEntry.bytes}). */
  maxBytes: number;
  /** Bytes held now. */
  bytes = 0;
  /** Entries filled (admitted) since start. */
  fills = 0;
  /** Fills dropped because their key was invalidated while they were in flight. */
  raced = 0;
  /** Fills of a held key that brought its bytes again: the entry's deadline moved. */
  refreshes = 0;
  /** Evicted entries by reason, indexed by {@link Evict}. */
  readonly evictions: Float64Array = new Float64Array(EVICT_REASONS.length);
  /** Entries held. */
  #count = 0;
  /** The CLOCK hand: the next entry to evict unless hit since, or undefined when empty. */
  #hand: CacheEntry | undefined = undefined;
  /**
   * Every entry in the bucket of its hash's low bits, chained through
   * {@link CacheEntry.next}: a read finds its entry from the key's bytes,
   * with no string made of them ({@link find}). A plain array of at least
   * two buckets per entry, so a miss usually costs one read of one slot
   * (a `Map` cost three or four dependent memory reads, measured in a live
   * process as most of the lookup's time).
   */
  #buckets: (CacheEntry | undefined)[] = new Array(INITIAL_BUCKETS).fill(undefined);
  #mask = INITIAL_BUCKETS - 1;
  #inflight = new Map<string, number>();
  /** Other reads' entries held (`variants.ts`), by the key they are of: its change evicts them all. */
  #variants = new Map<string, Set<CacheEntry>>();
  /**
   * What RESP2 clients get from an entry whose reply differs in RESP2 (an
   * HGETALL's map as an array): beside the entries, so a GET's entry
   * carries nothing for it.
   */
  #resp2 = new Map<CacheEntry, Uint8Array>();
  /** Other reads' fills in flight, by the key they are of (their cache keys). */
  #variantFills = new Map<string, string[]>();
  #token = 0;
  #renew = false;

  /** A store holding at most `maxKeys` keys and `maxBytes` bytes. */
  constructor(maxKeys: number, maxBytes: number) {
    this.maxKeys = maxKeys;
    this.maxBytes = maxBytes;
  }

  /** True while another entry fits without evicting one (by count; bytes with a margin). */
  get roomy(): boolean {
    return this.#count + this.#inflight.size < this.maxKeys &&
      this.bytes < this.maxBytes - (this.maxBytes >> 4);
  }

  /** Entries held now. */
  get size(): number {
    return this.#count;
  }

  /**
   * The live entry for `key` at `now`, or undefined. An expired one is
   * evicted; when it had answered reads, {@link takeRenewal} says so next.
   */
  get(key: string, now: number): CacheEntry | undefined {
    return this.#live(this.#held(key), now);
  }

  /** The entry held for `key` (live or past its deadline), found by its hash. */
  #held(key: string): CacheEntry | undefined {
    const hash = hashKey(key);
    let e = this.#buckets[hash & this.#mask];
    while (e !== undefined && (e.hash !== hash || e.key !== key)) e = e.next;
    return e;
  }

  /**
   * {@link get} for the key `buf[start, end)` with `hash` its `hashBytes()`,
   * compared byte by byte: the hit path makes no string of its key.
   */
  find(
    buf: Uint8Array,
    start: number,
    end: number,
    hash: number,
    now: number,
  ): CacheEntry | undefined {
    let e = this.#buckets[hash & this.#mask];
    while (e !== undefined && (e.hash !== hash || !sameKey(e.key, buf, start, end))) e = e.next;
    return this.#live(e, now);
  }

  /** `e` if it may answer at `now` (marked hit); an expired one is evicted. */
  #live(e: CacheEntry | undefined, now: number): CacheEntry | undefined {
    if (e === undefined) return undefined;
    if (now >= e.deadline) {
      this.#remove(e, Evict.expired);
      this.#renew = e.used;
      return undefined;
    }
    e.ref = true;
    e.used = true;
    return e;
  }

  /**
   * True once after a {@link get} found its key's entry past its deadline
   * (max age or the key's TTL) after it had answered reads: the key is
   * still read, so it is fetched again without earning admission anew — an
   * entry in use costs one refill per max age, not a run of misses while
   * the sketch counts it back up. Its place is the one the expiry freed.
   */
  takeRenewal(): boolean {
    const r = this.#renew;
    this.#renew = false;
    return r;
  }

  /** What a RESP2 client gets from `e` when that differs from its reply (else undefined). */
  resp2(e: CacheEntry): Uint8Array | undefined {
    return this.#resp2.size === 0 ? undefined : this.#resp2.get(e);
  }

  /** Starts a fill of `key`: its token, or 0 when one is in flight already. */
  beginFill(key: string): number {
    if (this.#inflight.has(key)) return 0;
    const t = ++this.#token;
    this.#inflight.set(key, t);
    const base = baseKey(key);
    if (base !== null) {
      const list = this.#variantFills.get(base);
      if (list === undefined) this.#variantFills.set(base, [key]);
      else list.push(key);
    }
    return t;
  }

  /** A fill ended without a value to keep (an error reply, a lost connection). */
  abandonFill(key: string, token: number): void {
    if (this.#inflight.get(key) === token) this.#endFill(key);
  }

  /** `key`'s fill is no longer in flight. */
  #endFill(key: string): void {
    this.#inflight.delete(key);
    const base = baseKey(key);
    if (base === null) return;
    const list = this.#variantFills.get(base);
    if (list === undefined) return;
    const i = list.indexOf(key);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#variantFills.delete(base);
  }

  /**
   * A fill's reply: kept unless an invalidation voided `token` meanwhile
   * (then false). Entries past a bound are evicted. A fill of a held key
   * (a refresh) that brings the same bytes only moves that entry's
   * deadline: it stays live where it is. (Different bytes with no
   * invalidation between cannot come from a node that tracks the key, but
   * would replace the entry, voiding hits taken from it this turn.)
   */
  completeFill(
    key: string,
    token: number,
    reply: Uint8Array | null,
    deadline: number,
    capped = false,
    resp2: Uint8Array | null = null,
  ): boolean {
    if (this.#inflight.get(key) !== token) {
      this.raced++;
      return false;
    }
    this.#endFill(key);
    const old = this.#held(key);
    if (old !== undefined) {
      if (sameReply(old.reply, reply)) {
        old.deadline = deadline;
        old.capped = capped;
        this.refreshes++;
        return true;
      }
      this.#remove(old, Evict.invalidated);
    }
    const e = new CacheEntry(key, reply, deadline, capped, resp2 === null ? 0 : resp2.length);
    if (e.bytes > this.maxBytes) return false;
    const base = baseKey(key);
    if (base !== null) {
      const set = this.#variants.get(base);
      if (set === undefined) this.#variants.set(base, new Set([e]));
      else set.add(e);
      if (resp2 !== null) this.#resp2.set(e, resp2);
    }
    if ((this.#count + 1) * 2 > this.#buckets.length) this.#grow();
    this.#count++;
    const at = e.hash & this.#mask;
    e.next = this.#buckets[at];
    this.#buckets[at] = e;
    const hand = this.#hand;
    if (hand === undefined) this.#hand = e;
    else {
      // Just behind the hand: the last the hand comes to.
      e.newer = hand;
      e.older = hand.older;
      hand.older.newer = e;
      hand.older = e;
    }
    this.bytes += e.bytes;
    this.fills++;
    this.#shrink();
    return true;
  }

  /**
   * Evicts `key` and voids its fill in flight, and so for every other
   * read's entry of it (`variants.ts`); true when an entry was held.
   */
  invalidate(key: string, reason: number): boolean {
    this.#inflight.delete(key);
    let held = false;
    if (this.#variantFills.size > 0) {
      const fills = this.#variantFills.get(key);
      if (fills !== undefined) {
        this.#variantFills.delete(key);
        for (const ck of fills) this.#inflight.delete(ck);
      }
    }
    if (this.#variants.size > 0) {
      const set = this.#variants.get(key);
      if (set !== undefined) {
        // Taken whole: a hash with thousands of fields cached goes at once, not one lookup each.
        this.#variants.delete(key);
        for (const v of set) this.#remove(v, reason, false);
        held = true;
      }
    }
    const e = this.#held(key);
    if (e === undefined) return held;
    this.#remove(e, reason);
    return true;
  }

  /** Evicts everything and voids every fill in flight; returns how many entries went. */
  clear(reason: number): number {
    const n = this.#count;
    this.evictions[reason] += n;
    for (const e of this.#entries()) e.live = false;
    this.#count = 0;
    this.#hand = undefined;
    // Back to the first size: an empty cache's misses read one small array (it grows as it fills).
    this.#buckets = new Array(INITIAL_BUCKETS).fill(undefined);
    this.#mask = INITIAL_BUCKETS - 1;
    this.#inflight.clear();
    this.#variants.clear();
    this.#variantFills.clear();
    this.#resp2.clear();
    this.bytes = 0;
    return n;
  }

  /** New bounds (a reload): evicts down to them. */
  resize(maxKeys: number, maxBytes: number): void {
    this.maxKeys = maxKeys;
    this.maxBytes = maxBytes;
    this.#shrink(Evict.config);
  }

  #remove(e: CacheEntry, reason: number, listed = true): void {
    e.live = false;
    this.#count--;
    if (e.newer === e) this.#hand = undefined;
    else {
      if (this.#hand === e) this.#hand = e.newer;
      e.older.newer = e.newer;
      e.newer.older = e.older;
      e.newer = e.older = e;
    }
    this.#unindex(e);
    this.bytes -= e.bytes;
    this.evictions[reason]++;
    if (this.#variants.size > 0 || !listed) {
      // Another read's entry (`variants.ts`): out of its key's set (`listed: false`, the caller
      // took the set whole), and its RESP2 form with it.
      const base = baseKey(e.key);
      if (base === null) return;
      if (listed) {
        const set = this.#variants.get(base);
        if (set !== undefined && set.delete(e) && set.size === 0) this.#variants.delete(base);
      }
      this.#resp2.delete(e);
    }
  }

  #unindex(e: CacheEntry): void {
    const at = e.hash & this.#mask;
    let head = this.#buckets[at];
    if (head === e) this.#buckets[at] = e.next;
    else {
      while (head !== undefined && head.next !== e) head = head.next;
      if (head !== undefined) head.next = e.next;
    }
    e.next = undefined;
  }

  /** Doubles the buckets and puts every held entry in its new one. */
  #grow(): void {
    const n = this.#buckets.length * 2;
    const buckets: (CacheEntry | undefined)[] = new Array(n).fill(undefined);
    const mask = n - 1;
    for (const e of this.#entries()) {
      const at = e.hash & mask;
      e.next = buckets[at];
      buckets[at] = e;
    }
    this.#buckets = buckets;
    this.#mask = mask;
  }

  /**
   * The entry at the CLOCK hand (the oldest one not passed over since), the
   * next to go unless it was hit since; undefined when empty. Read only: it
   * is asked on misses, far more often than anything is evicted.
   */
  victim(): CacheEntry | undefined {
    return this.#hand;
  }

  /** CLOCK: the entry at the hand goes unless it was hit since; a hit one is passed over. */
  #shrink(reason: number = Evict.size): void {
    while (this.#count > this.maxKeys || this.bytes > this.maxBytes) {
      const e = this.#hand as CacheEntry;
      if (e.ref) {
        e.ref = false;
        this.#hand = e.newer;
      } else this.#remove(e, reason);
    }
  }

  /** Every held entry, from the hand round the ring (a snapshot: safe to change the store while walking it). */
  #entries(): CacheEntry[] {
    const out: CacheEntry[] = [];
    const hand = this.#hand;
    if (hand === undefined) return out;
    let e = hand;
    do {
      out.push(e);
      e = e.newer;
    } while (e !== hand);
    return out;
  }
}
