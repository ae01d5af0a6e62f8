/**
 * The near cache's tracking connection to one node: RESP3, `CLIENT
 * TRACKING on`, so the node remembers every key read on it and sends an
 * `invalidate` push, in-band and in order with the replies, when one
 * changes (for a replica: when it applies the change from its primary), or
 * a null one when the database is flushed.
 *
 * Every cache fill goes over it as `GET key` + `PTTL key`, pipelined: the
 * GET reply is the entry, the PTTL bounds its deadline. A change to the key
 * between the two (or before the replies are read) arrives as an
 * invalidation before the PTTL reply, which voids the fill's token in the
 * store, so no fill can outlive a change the node reported.
 *
 * A probe ({@link Tracker.answering}) is a `PING` in the same stream: its
 * reply says the node is answering, and every invalidation it sent before
 * has been read.
 *
 * ```
 *  fill(key) ─▶ GET key, PTTL key ─▶ node
 *  answering(), nothing in flight ─▶ PING ─▶ node
 *  node ─▶ frames ─┬─ push ">2 invalidate [keys…]|null" ─▶ sink.invalidated()
 *                  └─ reply ─▶ oldest fill: GET reply, then PTTL ─▶ sink.filled()
 *                             oldest probe: PONG (nothing to report)
 *  EOF / error / close() ─▶ every fill in flight abandoned ─▶ sink.closed()
 * ```
 *
 * @module
 */

import { CACHE_PROBE_MS, CACHE_STALL_MS } from "../config/defaults.ts";
import { encodeCommand, INCOMPLETE, ReplyScanner, RespProtocolError } from "../resp/mod.ts";

/** The socket of a tracking connection (a `Deno.Conn`, TCP or TLS). */
export interface TrackerSocket {
  /** Reads into `p`; null at EOF. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes from `p`; the bytes written. */
  write(p: Uint8Array): Promise<number>;
  /** Closes it. */
  close(): void;
}

/** A node the cache may track (the proxy's view of it). */
export interface TrackerTarget {
  /** Node id (`host:port`). */
  readonly id: string;
  /** The AUTH frame to send first, or null. */
  readonly auth: Uint8Array | null;
  /** Opens a socket to the node. */
  dial(): Promise<TrackerSocket>;
}

/** What a tracking connection reports (the near cache). */
export interface TrackerSink {
  /** A fill's replies: the GET reply (null: nil) and the key's PTTL (ms; -1 none, -2 missing). */
  filled(
    t: Tracker,
    key: string,
    token: number,
    reply: Uint8Array | null,
    pttl: number,
    sentAt: number,
  ): void;
  /**
   * A fill got no value to keep: the node answered it with an error
   * (`refusedAt`: when the fill was sent, data-path ms), or the connection
   * ended (`refusedAt` absent).
   */
  abandoned(t: Tracker, key: string, token: number, refusedAt?: number): void;
  /** The node invalidated `keys` (latin1), or everything (null: a flush). */
  invalidated(t: Tracker, keys: string[] | null): void;
  /** Setup answered: fills may be sent. */
  ready(t: Tracker): void;
  /** The connection ended (it never reopens). */
  closed(t: Tracker, reason: string): void;
}

/** Keys up to this many bytes are made from {@link keyUnits}. */
const SHORT_KEY = 128;
const keyUnits: number[] = [];

/**
 * Key bytes `buf[start, end)` as a string of one UTF-16 unit per byte
 * (U+0000..U+00FF, so distinct keys stay distinct), without an op call.
 */
export function keyString(buf: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= SHORT_KEY) {
    // From a reused array: apply() over a typed array view is the slow path of spreading.
    const units = keyUnits;
    units.length = n;
    for (let i = 0; i < n; i++) units[i] = buf[start + i];
    return String.fromCharCode.apply(null, units);
  }
  if (n <= 8192) {
    return String.fromCharCode.apply(null, buf.subarray(start, end) as unknown as number[]);
  }
  let s = "";
  for (let i = start; i < end; i += 8192) {
    const part = buf.subarray(i, Math.min(end, i + 8192));
    s += String.fromCharCode.apply(null, part as unknown as number[]);
  }
  return s;
}
const HELLO3 = encodeCommand(["HELLO", "3"]);
const TRACKING_ON = encodeCommand(["CLIENT", "TRACKING", "on"]);
const SETNAME = encodeCommand(["CLIENT", "SETNAME", "shardgate-cache"]);
const PING = encodeCommand(["PING"]);
const MINUS = 45, DOLLAR = 36, UNDERSCORE = 95, COLON = 58, GT = 62, STAR = 42, CR = 13;
const PERCENT = 37;

/** What a fill's first reply must be to be kept: a bulk string or nil (GET, HGET). */
export const BULK = 0;
/** … a map (HGETALL). */
export const MAP = 1;
/** … an integer (EXISTS). */
export const INT = 2;

interface Fill {
  key: string;
  token: number;
  sentAt: number;
  /** The GET reply once read (null: nil), undefined before. */
  reply: Uint8Array | null | undefined;
  /** The GET reply was an error: the fill is dropped after its PTTL reply. */
  failed: boolean;
  /** A probe (PING): one reply, nothing to report. */
  probe: boolean;
  /** What its first reply must be to be kept: a bulk string or nil, a map, an integer (`variants.ts`). */
  kind: number;
}

/** Parses the decimal integer in `buf[from, to)`. */
function intAt(buf: Uint8Array, from: number, to: number): number {
  let n = 0, neg = false, i = from;
  if (buf[i] === MINUS) {
    neg = true;
    i++;
  }
  for (; i < to; i++) n = n * 10 + (buf[i] - 48);
  return neg ? -n : n;
}

/** Index of the CR ending the line that starts at `from`. */
function lineEnd(buf: Uint8Array, from: number, end: number): number {
  let i = from;
  while (i < end && buf[i] !== CR) i++;
  return i;
}

/**
 * The keys of an `invalidate` push `buf[start, end)` (a complete frame),
 * null for a flush, or undefined for another push.
 */
export function parseInvalidation(
  buf: Uint8Array,
  start: number,
  end: number,
): string[] | null | undefined {
  let p = lineEnd(buf, start, end) + 2; // past ">2"
  if (buf[p] !== DOLLAR) return undefined;
  let e = lineEnd(buf, p, end);
  const n = intAt(buf, p + 1, e);
  p = e + 2;
  if (keyString(buf, p, p + n) !== "invalidate") return undefined;
  p += n + 2;
  if (buf[p] === UNDERSCORE) return null;
  if (buf[p] !== STAR) return undefined;
  e = lineEnd(buf, p, end);
  const count = intAt(buf, p + 1, e);
  if (count < 0) return null;
  p = e + 2;
  const keys: string[] = [];
  for (let i = 0; i < count; i++) {
    e = lineEnd(buf, p, end);
    const len = intAt(buf, p + 1, e);
    p = e + 2;
    keys.push(keyString(buf, p, p + len));
    p += len + 2;
  }
  return keys;
}

const CONNECTING = 0, READY = 1, CLOSED = 2;

/** One tracking connection. */
export class Tracker {
  /** The node tracked. */
  readonly target: TrackerTarget;
  #sink: TrackerSink;
  #state = CONNECTING;
  #sock: TrackerSocket | null = null;
  #setup = 0;
  #fills: Fill[] = [];
  #fillHead = 0;
  #out: Uint8Array[] = [];
  #outBytes = 0;
  #writing = false;
  #buf = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;
  #scanner = new ReplyScanner();
  #lastSentAt = Number.NEGATIVE_INFINITY;

  /** Connects to `target` and sets tracking up; reports to `sink`. */
  constructor(target: TrackerTarget, sink: TrackerSink) {
    this.target = target;
    this.#sink = sink;
    if (target.auth !== null) this.#queue(target.auth);
    this.#queue(HELLO3);
    this.#queue(SETNAME);
    this.#queue(TRACKING_ON);
    this.#setup = target.auth !== null ? 4 : 3;
    void this.#run();
  }

  /** True once setup was answered and until closed. */
  get ready(): boolean {
    return this.#state === READY;
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#state === CLOSED;
  }

  /** Fills and probes sent and not answered yet. */
  get pending(): number {
    return this.#fills.length - this.#fillHead;
  }

  /**
   * Whether the node is answering at `now`: false while the oldest request
   * in flight has gone unanswered for over {@link CACHE_STALL_MS} (it is
   * stalled, and may have changes it has not reported). With nothing in
   * flight for {@link CACHE_PROBE_MS}, it first sends a `PING` (a probe):
   * once answered, the node was answering, and its earlier pushes are read.
   */
  answering(now: number): boolean {
    if (this.#fillHead < this.#fills.length) {
      return now - this.#fills[this.#fillHead].sentAt <= CACHE_STALL_MS;
    }
    if (now - this.#lastSentAt >= CACHE_PROBE_MS && this.#state === READY) {
      this.#sent("", 0, BULK, now, true);
      this.#queue(PING);
    }
    return true;
  }

  /** Sends a fill of the key `buf[start, end)` (`key` as latin1) with the store's `token`. */
  fill(buf: Uint8Array, start: number, end: number, key: string, token: number, now: number): void {
    const get = encodeCommand(["GET", buf.subarray(start, end)]);
    this.fillCommand(get, buf, start, end, key, token, BULK, now);
  }

  /**
   * Sends a fill of a read: `frame` (the command, framed), then PTTL of its
   * key `buf[start, end)`, pipelined (written together); `ck` is the
   * entry's cache key, `kind` the reply it expects (`variants.ts`).
   */
  fillCommand(
    frame: Uint8Array,
    buf: Uint8Array,
    start: number,
    end: number,
    ck: string,
    token: number,
    kind: number,
    now: number,
  ): void {
    this.#sent(ck, token, kind, now);
    this.#queue(frame);
    this.#queue(encodeCommand(["PTTL", buf.subarray(start, end)]));
  }

  /** Records a fill (or a `probe`) sent now: its replies are read in order. */
  #sent(key: string, token: number, kind: number, now: number, probe = false): void {
    this.#lastSentAt = now;
    this.#fills.push({ key, token, sentAt: now, reply: undefined, failed: false, probe, kind });
  }

  /** Closes the connection; fills in flight are abandoned. */
  close(reason = "closed"): void {
    if (this.#state === CLOSED) return;
    this.#state = CLOSED;
    try {
      this.#sock?.close();
    } catch {
      // closed by the peer already
    }
    const fills = this.#fills.slice(this.#fillHead);
    this.#fills = [];
    this.#fillHead = 0;
    for (const f of fills) if (!f.probe) this.#sink.abandoned(this, f.key, f.token);
    this.#sink.closed(this, reason);
  }

  #queue(b: Uint8Array): void {
    this.#out.push(b);
    this.#outBytes += b.length;
    if (!this.#writing && this.#sock !== null) {
      this.#writing = true;
      queueMicrotask(() => void this.#write());
    }
  }

  async #write(): Promise<void> {
    try {
      while (this.#out.length > 0 && this.#state !== CLOSED) {
        const chunk = new Uint8Array(this.#outBytes);
        let o = 0;
        for (const b of this.#out) {
          chunk.set(b, o);
          o += b.length;
        }
        this.#out = [];
        this.#outBytes = 0;
        for (let w = 0; w < chunk.length;) w += await this.#sock!.write(chunk.subarray(w));
      }
    } catch {
      this.close("connection lost");
    } finally {
      this.#writing = false;
    }
  }

  async #run(): Promise<void> {
    let sock: TrackerSocket;
    try {
      sock = await this.target.dial();
    } catch {
      this.close("connect failed");
      return;
    }
    if (this.#state === CLOSED) {
      sock.close();
      return;
    }
    this.#sock = sock;
    this.#writing = true;
    void this.#write();
    try {
      while (this.#state !== CLOSED) {
        if (this.#buf.length - this.#end < 16 * 1024) this.#compact();
        const n = await sock.read(this.#buf.subarray(this.#end));
        if (n === null) break;
        this.#end += n;
        this.#frames();
      }
    } catch (err) {
      this.close(err instanceof RespProtocolError ? "protocol error" : "connection lost");
      return;
    }
    this.close("connection lost");
  }

  #compact(): void {
    const live = this.#end - this.#start;
    if (live + 16 * 1024 <= this.#buf.length) this.#buf.copyWithin(0, this.#start, this.#end);
    else {
      const next = new Uint8Array(this.#buf.length * 2);
      next.set(this.#buf.subarray(this.#start, this.#end), 0);
      this.#buf = next;
    }
    this.#start = 0;
    this.#end = live;
  }

  #frames(): void {
    const buf = this.#buf;
    while (this.#start < this.#end && this.#state !== CLOSED) {
      const pos = this.#start;
      const next = this.#scanner.scan(buf, pos, this.#end);
      if (next === INCOMPLETE) return;
      this.#start = next;
      if (buf[pos] === GT) {
        const keys = parseInvalidation(buf, pos, next);
        if (keys !== undefined) this.#sink.invalidated(this, keys);
        continue;
      }
      if (this.#setup > 0) {
        this.#setup--;
        if (buf[pos] === MINUS) return this.close("setup refused");
        if (this.#setup === 0) {
          this.#state = READY;
          this.#sink.ready(this);
        }
        continue;
      }
      const f = this.#fills[this.#fillHead];
      if (f === undefined) return this.close("protocol error");
      if (f.reply === undefined && !f.failed && !f.probe) {
        const t = buf[pos];
        if (f.kind === BULK) {
          if (t === UNDERSCORE || (t === DOLLAR && buf[pos + 1] === MINUS)) f.reply = null;
          else if (t === DOLLAR) f.reply = buf.slice(pos, next);
          else f.failed = true;
        } else if ((f.kind === MAP && t === PERCENT) || (f.kind === INT && t === COLON)) {
          f.reply = buf.slice(pos, next);
        } else f.failed = true;
        continue;
      }
      this.#fills[this.#fillHead++] = undefined as unknown as Fill;
      if (this.#fillHead > 1024 && this.#fillHead * 2 > this.#fills.length) {
        this.#fills = this.#fills.slice(this.#fillHead);
        this.#fillHead = 0;
      }
      if (f.probe) continue;
      if (f.failed || buf[pos] !== COLON) this.#sink.abandoned(this, f.key, f.token, f.sentAt);
      else {
        const pttl = intAt(buf, pos + 1, lineEnd(buf, pos, next));
        this.#sink.filled(this, f.key, f.token, f.reply ?? null, pttl, f.sentAt);
      }
    }
    if (this.#start === this.#end) this.#start = this.#end = 0;
  }
}
