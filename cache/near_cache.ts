/**
 * One shard's near cache: answers GET and MGET (and HGET, HGETALL, EXISTS:
 * `variants.ts`) from entries filled over its tracking connection
 * ({@link Tracker}) and evicted by that node's invalidations, by writes
 * passing through this sidecar, by their own deadline, and wholesale when
 * what fed them can no longer be trusted.
 *
 * ```
 *  session: GET k ─▶ lookup() ─ hit ─▶ CacheHit ─▶ end of the turn: still live? ─┬ yes: answered
 *                          │     │                                               └ no: retract(),
 *                          │     │                                                 forwarded
 *                          │     └ in the max age's last quarter: tracker.fill(k) (a refresh:
 *                          │       the same bytes back only move the entry's deadline)
 *                          └─ miss ─▶ forwarded as usual; admission counts k;
 *                                     once hot: tracker.fill(k) ─▶ completeFill()
 *  session: HGET k f / HGETALL k / EXISTS k ─▶ the same, each under its own cache key
 *           (variants.ts), fetched with its own command; a change to k ends them all
 *  session: write k (writer port) ─▶ written(): evict k ─▶ … reply ─▶ acked(): evict k again
 *  pinned:  write k (MULTI …) ─▶ evictWritten(): evict k ─▶ … each reply ─▶ evictAgain(k)
 *  tracker: invalidate k ─▶ evict k, void its fill │ invalidate null (FLUSHALL) ─▶ evict all
 *  tracker closed / its node stops serving / reload turns it off ─▶ evict all
 *  lookup(), entries held ─▶ tracker.answering(): idle CACHE_PROBE_MS ─▶ PING
 *                            oldest in flight > CACHE_STALL_MS ─▶ stalled: forwarded
 * ```
 *
 * Only sessions of the readers port, on database 0, running as the shard's
 * own user are answered (the tracking connection is that user's: a client
 * with its own ACL user must be checked by the node).
 *
 * @module
 */

import {
  CACHE_LEAN_ABOVE,
  CACHE_LEAN_BELOW,
  CACHE_LEAN_MIN_READS,
  CACHE_LEAN_RECHECK_MIN_READS,
  CACHE_LEAN_RECHECK_MS,
  CACHE_LEAN_WINDOW_MS,
  CACHE_MAX_PENDING_FILLS,
  CACHE_RECONNECT_MAX_MS,
  CACHE_RECONNECT_MS,
  CACHE_REFRESH_AHEAD_SHARE,
  CACHE_REFUSED_MAX,
  CACHE_REFUSED_RETRY_MS,
} from "../config/defaults.ts";
import type { CacheConfig } from "../config/types.ts";
import { CommandKeys, commandNameOf, findKeys, type RequestParser } from "../resp/mod.ts";
import { Admission, hashBytes, hashKey } from "./admission.ts";
import { type CacheEntry, CacheStore, Evict, EVICT_REASONS, type EvictReason } from "./store.ts";
import { keyString, Tracker, type TrackerSink, type TrackerTarget } from "./tracker.ts";
import {
  baseKey,
  commandFrame,
  kindOf,
  resp2Of,
  type Variant,
  variantKey,
  variantOf,
} from "./variants.ts";

/** What the cache needs to know of a client session. */
export interface CacheClient {
  /** The port it came in on: only `readers` is answered. */
  readonly role: string;
  /** RESP version it speaks (nil replies differ). */
  readonly proto: 2 | 3;
  /** Its database: only 0 is cached. */
  readonly db: number;
  /** Its own ACL user, or null for the shard's. */
  readonly user: unknown;
}

/** A snapshot of a near cache for /status and /metrics. */
export interface CacheStats {
  /** Reads answered from the cache. */
  readonly hits: number;
  /** Cacheable reads that were not (forwarded). */
  readonly misses: number;
  /** Entries filled (keys admitted). */
  readonly admissions: number;
  /** Entries read near their max age and fetched again ahead of it (the same bytes: kept). */
  readonly refreshes: number;
  /** Fills dropped because their key was invalidated while in flight. */
  readonly racedFills: number;
  /**
   * Fills the node answered with an error (a key of another type, a
   * permission): the key is not fetched again for `CACHE_REFUSED_RETRY_MS`.
   */
  readonly refusedFills: number;
  /** Hits retracted because their key was invalidated in the same event-loop turn. */
  readonly retractedHits: number;
  /**
   * Reads forwarded although cacheable because the tracked node had left a
   * request unanswered for over `CACHE_STALL_MS` (`config/defaults.ts`;
   * stalled: it may have changes it has not reported).
   */
  readonly stalledReads: number;
  /** Requests (fills, probes) sent on the tracking connection and not answered yet. */
  readonly inFlight: number;
  /** Keys the node invalidated (each key of each push). */
  readonly invalidations: number;
  /** Null invalidations (the node's database was flushed). */
  readonly flushes: number;
  /** Entries evicted, by reason. */
  readonly evictions: Readonly<Record<EvictReason, number>>;
  /** Entries held now. */
  readonly keys: number;
  /** Bytes held now. */
  readonly bytes: number;
  /** Configured bounds. */
  readonly maxKeys: number;
  /** Configured bounds. */
  readonly maxBytes: number;
  /** The node the tracking connection goes to, or null. */
  readonly node: string | null;
  /** True while the tracking connection is set up (fills can be sent). */
  readonly tracking: boolean;
  /**
   * True while the cache is lean: its last judged window answered too few
   * reads, so it holds only keys hot by the full threshold
   * ({@link CACHE_LEAN_BELOW}).
   */
  readonly lean: boolean;
}

const te = new TextEncoder();
const NIL2 = te.encode("$-1\r\n");
const NIL3 = te.encode("_\r\n");
const G = 103, E = 101, T = 116, M = 109;
const FLUSHES = new Set(["flushall", "flushdb", "swapdb"]);

/**
 * A read the cache can answer: its reply bytes (null: the nil reply of the
 * client's protocol, {@link nilReply}), good while `live` (every entry it
 * was made of is still held).
 */
export interface CacheHit {
  /** The reply, or null for nil. */
  readonly reply: Uint8Array | null;
  /** False once an entry it used was evicted (invalidated, written, flushed…). */
  readonly live: boolean;
}

/** The nil reply in protocol `proto`. */
export function nilReply(proto: 2 | 3): Uint8Array {
  return proto === 3 ? NIL3 : NIL2;
}

/** An entry's RESP2 form answered (`variants.ts`: HGETALL's map as an array). */
class Resp2Hit implements CacheHit {
  readonly reply: Uint8Array;
  readonly #entry: CacheEntry;
  constructor(reply: Uint8Array, entry: CacheEntry) {
    this.reply = reply;
    this.#entry = entry;
  }
  get live(): boolean {
    return this.#entry.live;
  }
}

/** An MGET answered from several entries. */
class MgetHit implements CacheHit {
  readonly reply: Uint8Array;
  readonly #entries: CacheEntry[];
  constructor(reply: Uint8Array, entries: CacheEntry[]) {
    this.reply = reply;
    this.#entries = entries;
  }
  get live(): boolean {
    for (const e of this.#entries) if (!e.live) return false;
    return true;
  }
}

/**
 * What a cache tells of its tracking connection, for the shard's log: when
 * it starts feeding entries, and when it ends and takes them with it.
 */
export interface CacheEvents {
  /** The tracking connection to `node` is set up: entries are filled from it. */
  tracking(node: string): void;
  /**
   * The tracking connection to `node` ended (`reason`); its `dropped`
   * entries went with it. `streak`: connections in a row that ended without
   * being set up since the last that was (1: the first end after one that
   * worked, or the first attempt); the next attempt waits
   * {@link reconnectDelay} of it.
   */
  trackingEnded(node: string, reason: string, dropped: number, streak: number): void;
}

/** Events nobody listens to. */
const NO_EVENTS: CacheEvents = { tracking() {}, trackingEnded() {} };

/**
 * How long the cache waits before opening its tracking connection again
 * after the `streak`-th end in a row without a setup answered:
 * {@link CACHE_RECONNECT_MS}, doubling, at most {@link CACHE_RECONNECT_MAX_MS}
 * (a node that refuses tracking is not asked ten times a second forever).
 */
export function reconnectDelay(streak: number): number {
  return Math.min(CACHE_RECONNECT_MS * 2 ** Math.max(0, streak - 1), CACHE_RECONNECT_MAX_MS);
}

/** The near cache of one shard. */
export class NearCache implements TrackerSink {
  /** Reads answered from the cache. */
  hits = 0;
  /** Cacheable reads forwarded. */
  misses = 0;
  /** Hits retracted at the end of their turn (see {@link retract}). */
  retracted = 0;
  /** Reads forwarded while the tracked node was stalled (see {@link lookup}). */
  stalled = 0;
  /** Keys invalidated by the node. */
  invalidations = 0;
  /** Null invalidations. */
  flushes = 0;
  /** Fills the node answered with an error. */
  refused = 0;
  /** Keys (cache keys) whose fill the node refused, and until when they are not fetched again. */
  #refusedUntil = new Map<string, number>();
  #cfg: CacheConfig;
  /** How long before an uncapped entry's deadline a hit fetches it again. */
  #refreshLead: number;
  #store: CacheStore;
  #adm: Admission;
  #tracker: Tracker | null = null;
  #targets: readonly TrackerTarget[] = [];
  #next = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  /** Tracking connections in a row that ended before their setup was answered (see {@link reconnectDelay}). */
  #streak = 0;
  #closed = false;
  #keys = new CommandKeys();
  /** Scratch: an MGET's missing keys as start, end pairs. */
  #missing: number[] = [];
  #writes = new WeakMap<object, string[] | null>();
  /** The end of the window being counted (data-path ms), -1 before the first read. */
  #windowEnd = -1;
  /** {@link hits} and {@link misses} when the window began. */
  #windowHits = 0;
  #windowMisses = 0;
  #events: CacheEvents;

  /**
   * A cache with settings `cfg` (enabled); it tracks once {@link serving}
   * names nodes, and tells `events` when its tracking connection starts and ends.
   */
  constructor(cfg: CacheConfig, events: CacheEvents = NO_EVENTS) {
    this.#cfg = cfg;
    this.#events = events;
    this.#refreshLead = cfg.maxAgeMs * CACHE_REFRESH_AHEAD_SHARE;
    this.#store = new CacheStore(cfg.maxKeys, cfg.maxBytes);
    this.#adm = new Admission(cfg.minReads);
  }

  /**
   * The cached answer to the read `parser` just parsed from `buf` (GET,
   * MGET) when every key it reads is cached, else null (forward it).
   * `now`: data-path ms. The session answers a hit at the end of the
   * event-loop turn, and only if it is still {@link CacheHit.live} then.
   *
   * A cache is only as fresh as its tracked node is heard from: a replica
   * that stops answering (a fork, a slow script, a starved CPU) also stops
   * sending invalidations, and reads straight from it would wait and then
   * get what it applied meanwhile. So while entries are held, a read with
   * nothing in flight on the tracking connection for `CACHE_PROBE_MS`
   * sends a probe, and while the oldest request in flight is unanswered
   * for over `CACHE_STALL_MS` (both in `config/defaults.ts`), reads are
   * forwarded (and counted as {@link CacheStats.stalledReads}).
   */
  lookup(
    parser: RequestParser,
    buf: Uint8Array,
    client: CacheClient,
    now: number,
  ): CacheHit | null {
    if (client.db !== 0 || client.user !== null || client.role !== "readers" || parser.inline) {
      return null;
    }
    if (now >= this.#windowEnd) this.#judge(now);
    const s = parser.argStart[0];
    const len = parser.argEnd[0] - s;
    const get = len === 3 && parser.argc === 2 && (buf[s] | 32) === G &&
      (buf[s + 1] | 32) === E && (buf[s + 2] | 32) === T;
    const mget = !get && len === 4 && parser.argc >= 2 && (buf[s] | 32) === M &&
      (buf[s + 1] | 32) === G && (buf[s + 2] | 32) === E && (buf[s + 3] | 32) === T;
    const v = get || mget ? undefined : variantOf(parser, buf);
    if (!get && !mget && v === undefined) return null; // not a read the cache answers
    const t = this.#tracker;
    if (t !== null && this.#store.size > 0 && !t.answering(now)) {
      this.stalled++;
      this.misses++;
      return null;
    }
    if (get) {
      const ks = parser.argStart[1], ke = parser.argEnd[1];
      const e = this.#get(buf, ks, ke, now);
      if (e !== undefined) {
        this.hits++;
        return e;
      }
      this.misses++;
      return null;
    }
    return mget
      ? this.#mget(parser, buf, client, now)
      : this.#variant(v!, parser, buf, client, now);
  }

  /**
   * Another read (`variants.ts`: HGET, HGETALL, EXISTS): answered from its
   * own entry, in the client's protocol; a miss counts for admission like
   * a GET's, and a hot one is fetched with the same command.
   */
  #variant(
    v: Variant,
    parser: RequestParser,
    buf: Uint8Array,
    client: CacheClient,
    now: number,
  ): CacheHit | null {
    const ck = variantKey(v, parser, buf);
    const e = this.#store.get(ck, now);
    if (e !== undefined) {
      if (this.#due(e, now)) this.#fillVariant(v, parser, buf, ck, now);
      this.hits++;
      const resp2 = client.proto === 2 ? this.#store.resp2(e) : undefined;
      return resp2 === undefined ? e : new Resp2Hit(resp2, e);
    }
    const renew = this.#store.takeRenewal();
    if (this.#adm.wants(hashKey(ck), now, this.#store) || renew) {
      this.#fillVariant(v, parser, buf, ck, now);
    }
    this.misses++;
    return null;
  }

  /** Fetches the read `parser` parsed from `buf` (a `v`, cache key `ck`) over the tracking connection. */
  #fillVariant(v: Variant, parser: RequestParser, buf: Uint8Array, ck: string, now: number): void {
    const t = this.#tracker;
    if (t === null || !t.ready || t.pending >= CACHE_MAX_PENDING_FILLS) return;
    if (this.#refusedUntil.size > 0 && this.#refusedNow(ck, now)) return;
    const token = this.#store.beginFill(ck);
    if (token === 0) return;
    const frame = commandFrame(parser, buf);
    t.fillCommand(frame, buf, parser.argStart[1], parser.argEnd[1], ck, token, v.kind, now);
  }

  /**
   * A hit {@link lookup} returned is not answered after all: an entry it
   * used left the cache (an invalidation read in the same turn) before the
   * turn ended. The read is forwarded; it counts as a miss.
   */
  retract(): void {
    this.hits--;
    this.misses++;
    this.retracted++;
  }

  /**
   * An MGET: answered when every key is cached. Its missing keys are
   * fetched only when each of them is hot enough: an MGET over a keyspace
   * larger than the cache (a few of its keys hot by chance, never all) does
   * not fill entries that could never answer it. (A GET's key may also
   * displace a colder entry, {@link Admission.wants}; an MGET's may not.)
   * The walk stops at the first key that is missing and not wanted.
   */
  #mget(
    parser: RequestParser,
    buf: Uint8Array,
    client: CacheClient,
    now: number,
  ): CacheHit | null {
    // MGET's arguments after its name are all keys: walked in place (`$len\r\nkey\r\n` each).
    const n = parser.argc - 1;
    const entries: CacheEntry[] = [];
    const missing = this.#missing;
    missing.length = 0;
    let allHot = true;
    let size = 0;
    let p = parser.argEnd[0] + 2;
    for (let i = 0; i < n; i++) {
      let len = 0;
      for (p++; buf[p] !== 13; p++) len = len * 10 + buf[p] - 48;
      const ks = p + 2, ke = ks + len;
      p = ke + 2;
      const h = hashBytes(buf, ks, ke);
      const e = this.#store.find(buf, ks, ke, h, now);
      if (e === undefined) {
        // By the hot threshold only, no displacement below it: an MGET fills only when all its
        // missing keys are wanted, so each key's small chance of displacing adds up tenfold.
        const renew = this.#store.takeRenewal();
        if (!this.#adm.wantsHot(h, now, this.#store) && !renew) {
          // Neither answered nor filled: its later keys are neither looked up nor counted (over a
          // cold keyspace they were most of an MGET's cost; their GETs count for them).
          allHot = false;
          break;
        }
        missing.push(ks, ke);
        continue;
      }
      this.#refreshIfDue(e, buf, ks, ke, now);
      entries.push(e);
      size += e.reply === null ? nilReply(client.proto).length : e.reply.length;
    }
    if (entries.length < n || n === 0) {
      if (allHot) {
        for (let i = 0; i < missing.length; i += 2) {
          this.#fill(buf, missing[i], missing[i + 1], now);
        }
      }
      this.misses++;
      return null;
    }
    this.hits++;
    const head = te.encode(`*${n}\r\n`);
    const out = new Uint8Array(head.length + size);
    out.set(head, 0);
    let o = head.length;
    for (const e of entries) {
      const r = e.reply ?? nilReply(client.proto);
      out.set(r, o);
      o += r.length;
    }
    return new MgetHit(out, entries);
  }

  /**
   * The live entry of the key `buf[start, end)`, or undefined: then the
   * read is counted for admission, and a key hot enough is fetched. A hit
   * may refresh its entry (`#refreshIfDue`).
   */
  #get(buf: Uint8Array, start: number, end: number, now: number): CacheEntry | undefined {
    const h = hashBytes(buf, start, end);
    const e = this.#store.find(buf, start, end, h, now);
    if (e !== undefined) {
      this.#refreshIfDue(e, buf, start, end, now);
      return e;
    }
    const renew = this.#store.takeRenewal();
    if (this.#adm.wants(h, now, this.#store) || renew) this.#fill(buf, start, end, now);
    return undefined;
  }

  /**
   * A hit on `e` (the key `buf[start, end)`) in the last
   * {@link CACHE_REFRESH_AHEAD_SHARE} of its max age fetches the key again;
   * an entry its key's own TTL ends first is left to expire with it.
   */
  #refreshIfDue(e: CacheEntry, buf: Uint8Array, start: number, end: number, now: number): void {
    if (this.#due(e, now)) this.#fill(buf, start, end, now);
  }

  /** True when a hit on `e` at `now` is in the last share of its max age (a refresh is due). */
  #due(e: CacheEntry, now: number): boolean {
    return !e.capped && now >= e.deadline - this.#refreshLead;
  }

  /** Fetches the key `buf[start, end)` over the tracking connection (unless one is under way). */
  #fill(buf: Uint8Array, start: number, end: number, now: number): void {
    const t = this.#tracker;
    if (t === null || !t.ready || t.pending >= CACHE_MAX_PENDING_FILLS) return;
    const key = keyString(buf, start, end);
    if (this.#refusedUntil.size > 0 && this.#refusedNow(key, now)) return;
    const token = this.#store.beginFill(key);
    if (token !== 0) t.fill(buf, start, end, key, token, now);
  }

  /** True while `key`'s last fill was refused less than `CACHE_REFUSED_RETRY_MS` ago. */
  #refusedNow(key: string, now: number): boolean {
    const until = this.#refusedUntil.get(key);
    if (until === undefined) return false;
    if (now < until) return true;
    this.#refusedUntil.delete(key);
    return false;
  }

  /**
   * A write (`parser` just parsed from `buf`) is being sent for `slot` to
   * the primary: its keys are evicted now (and their fills voided), and
   * again by {@link acked} when its reply comes, before the client gets it.
   */
  written(parser: RequestParser, buf: Uint8Array, slot: object): void {
    const list = this.evictWritten(parser, buf);
    if (list === null || list.length > 0) this.#writes.set(slot, list);
    else this.#writes.delete(slot);
  }

  /**
   * A write (`parser` just parsed from `buf`) is being sent to the primary
   * on a session's own connection (a transaction, a blocking command): its
   * keys are evicted now, and returned for {@link evictAgain} when its
   * reply (for a transaction: EXEC's) comes. Null for a flush (everything
   * went), `[]` for a command without keys.
   */
  evictWritten(parser: RequestParser, buf: Uint8Array): string[] | null {
    const keys = findKeys(parser, buf, this.#keys);
    if (keys.count === 0) {
      const name = commandNameOf(parser, buf);
      if (name === undefined || !FLUSHES.has(name)) return [];
      this.#store.clear(Evict.flush);
      return null;
    }
    const list: string[] = [];
    for (let i = 0; i < keys.count; i++) {
      const key = keyString(keys.buf, keys.start[i], keys.end[i]);
      list.push(key);
      this.#store.invalidate(key, Evict.write);
    }
    return list;
  }

  /** Evicts `keys` again (null: everything), before the client sees the reply of their write. */
  evictAgain(keys: readonly string[] | null): void {
    if (keys === null) this.#store.clear(Evict.flush);
    else for (const key of keys) this.#store.invalidate(key, Evict.write);
  }

  /** The reply of a write {@link written} for `slot` arrived: its keys are evicted again. */
  acked(slot: object): void {
    const list = this.#writes.get(slot);
    if (list === undefined) return;
    this.#writes.delete(slot);
    this.evictAgain(list);
  }

  /**
   * The nodes that serve the shard's reads now, preferred first. The
   * tracking connection stays on its node while that node is among them;
   * otherwise every entry goes and it moves to the first.
   */
  serving(targets: readonly TrackerTarget[]): void {
    const before = this.#targets;
    this.#targets = targets;
    if (
      this.#timer !== null &&
      (before.length !== targets.length || before.some((x, i) => x.id !== targets[i].id))
    ) {
      // Other nodes than the ones that failed in a row: no reason to wait out their backoff.
      clearTimeout(this.#timer);
      this.#timer = null;
      this.#streak = 0;
    }
    const t = this.#tracker;
    if (t !== null && !targets.some((x) => x.id === t.target.id)) {
      this.#tracker = null;
      const dropped = this.#store.size;
      this.#store.clear(Evict.node);
      t.close("node stopped serving");
      this.#streak = 0;
      this.#events.trackingEnded(t.target.id, "node stopped serving", dropped, 1);
    }
    if (this.#tracker === null && this.#timer === null) this.#open();
  }

  /** New settings of a reload (still enabled). */
  configure(cfg: CacheConfig): void {
    if (cfg.maxAgeMs < this.#cfg.maxAgeMs) this.#store.clear(Evict.config);
    this.#cfg = cfg;
    this.#refreshLead = cfg.maxAgeMs * CACHE_REFRESH_AHEAD_SHARE;
    this.#store.resize(cfg.maxKeys, cfg.maxBytes);
    this.#adm.minReads = cfg.minReads;
  }

  /** Stops tracking and forgets every entry (the shard closed, or a reload turned it off). */
  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#store.clear(Evict.config);
    const t = this.#tracker;
    this.#tracker = null;
    t?.close("cache closed");
  }

  /** The node entries come from (its tracking connection is set up), or null. */
  get trackedNode(): string | null {
    const t = this.#tracker;
    return t !== null && t.ready ? t.target.id : null;
  }

  /**
   * Ends the window of reads counted since {@link CACHE_LEAN_WINDOW_MS} ago:
   * when it had enough reads, a share answered below
   * {@link CACHE_LEAN_BELOW} makes the cache lean (its entries go: held
   * keys read alike with the rest are what made it cost more than it
   * answers; hot ones come back by the threshold within seconds), and a
   * share at {@link CACHE_LEAN_ABOVE} ends it (judged every
   * {@link CACHE_LEAN_RECHECK_MS} while lean; never with `min_reads: 1`,
   * which admits every key read). A lean cache holds a subset
   * of what a full one would, so it answers no more: it does not flap.
   */
  #judge(now: number): void {
    // Reads forwarded because the tracked node stalled say nothing of what the cache is worth.
    const misses = this.misses - this.stalled;
    const hits = this.hits - this.#windowHits;
    const reads = hits + misses - this.#windowMisses;
    // `min_reads: 1` asks for every key at its first read: there is no hotter bar to fall back to.
    const adm = this.#adm;
    const enough = adm.lean ? CACHE_LEAN_RECHECK_MIN_READS : CACHE_LEAN_MIN_READS;
    if (this.#windowEnd >= 0 && reads >= enough && adm.minReads > 1) {
      const share = hits / reads;
      if (!adm.lean && share < CACHE_LEAN_BELOW) {
        adm.lean = true;
        this.#store.clear(Evict.lean);
      } else if (adm.lean && share >= CACHE_LEAN_ABOVE) adm.lean = false;
    }
    this.#windowHits = this.hits;
    this.#windowMisses = misses;
    this.#windowEnd = now + (adm.lean ? CACHE_LEAN_RECHECK_MS : CACHE_LEAN_WINDOW_MS);
  }

  /** A snapshot for /status and /metrics. */
  stats(): CacheStats {
    const s = this.#store;
    const evictions = Object.fromEntries(
      EVICT_REASONS.map((r, i) => [r, s.evictions[i]]),
    ) as Record<EvictReason, number>;
    return {
      hits: this.hits,
      misses: this.misses,
      admissions: s.fills,
      refreshes: s.refreshes,
      racedFills: s.raced,
      refusedFills: this.refused,
      retractedHits: this.retracted,
      stalledReads: this.stalled,
      inFlight: this.#tracker?.pending ?? 0,
      invalidations: this.invalidations,
      flushes: this.flushes,
      evictions,
      keys: s.size,
      bytes: s.bytes,
      maxKeys: s.maxKeys,
      maxBytes: s.maxBytes,
      node: this.#tracker?.target.id ?? null,
      tracking: this.#tracker?.ready ?? false,
      lean: this.#adm.lean,
    };
  }

  #open(): void {
    if (this.#closed || this.#targets.length === 0) return;
    const target = this.#targets[this.#next++ % this.#targets.length];
    this.#tracker = new Tracker(target, this);
  }

  // ---- TrackerSink ----

  /** @inheritdoc */
  filled(
    t: Tracker,
    key: string,
    token: number,
    reply: Uint8Array | null,
    pttl: number,
    sentAt: number,
  ): void {
    if (t !== this.#tracker || pttl === 0) return this.#store.abandonFill(key, token);
    let deadline = sentAt + this.#cfg.maxAgeMs;
    const capped = pttl > 0 && sentAt + pttl < deadline;
    if (capped) deadline = sentAt + pttl;
    if (baseKey(key) !== null) {
      // Another read's reply stands as it came (a missing key's HGETALL is an empty map).
      const kind = kindOf(key);
      this.#store.completeFill(key, token, reply, deadline, capped, resp2Of(kind, reply));
      return;
    }
    // PTTL -2: the key does not exist (GET said nil); -1: no TTL.
    this.#store.completeFill(key, token, pttl === -2 ? null : reply, deadline, capped);
  }

  /** @inheritdoc */
  abandoned(_t: Tracker, key: string, token: number, refusedAt?: number): void {
    this.#store.abandonFill(key, token);
    if (refusedAt === undefined) return;
    // Asked again at the next read, a key of another type would cost the node a refused fill on
    // every read: it waits a while (its reads go on being forwarded).
    this.refused++;
    if (this.#refusedUntil.size >= CACHE_REFUSED_MAX) this.#refusedUntil.clear();
    this.#refusedUntil.set(key, refusedAt + CACHE_REFUSED_RETRY_MS);
  }

  /** @inheritdoc */
  invalidated(t: Tracker, keys: string[] | null): void {
    if (t !== this.#tracker) return;
    if (keys === null) {
      this.flushes++;
      this.#store.clear(Evict.flush);
      return;
    }
    this.invalidations += keys.length;
    for (const k of keys) this.#store.invalidate(k, Evict.invalidated);
  }

  /** @inheritdoc */
  ready(t: Tracker): void {
    this.#next = 0;
    this.#streak = 0;
    if (t === this.#tracker) this.#events.tracking(t.target.id);
  }

  /** @inheritdoc */
  closed(t: Tracker, reason: string): void {
    if (t !== this.#tracker) return;
    // Whatever it fed may have changed unseen: everything goes.
    this.#tracker = null;
    const dropped = this.#store.size;
    this.#store.clear(Evict.connection);
    if (this.#closed) return;
    this.#streak++;
    this.#events.trackingEnded(t.target.id, reason, dropped, this.#streak);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#tracker === null) this.#open();
    }, reconnectDelay(this.#streak));
  }
}

/**
 * The cache a shard has after its settings became `cfg`: `current`
 * reconfigured, a new one, or null (off; `current` is closed).
 */
export function updateCache(
  current: NearCache | null,
  cfg: CacheConfig,
  events?: CacheEvents,
): NearCache | null {
  if (!cfg.enabled) {
    current?.close();
    return null;
  }
  if (current === null) return new NearCache(cfg, events);
  current.configure(cfg);
  return current;
}
