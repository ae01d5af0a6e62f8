/**
 * Socket plumbing shared by client sessions and node connections: a read
 * buffer that grows for big frames and shrinks back, and a writer that
 * coalesces every write of one event-loop turn into one socket write.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import {
  READ_BUFFER_SIZE,
  WRITE_CHUNK_POOL,
  WRITE_CHUNK_SIZE,
  WRITE_SHARED_MIN,
} from "../config/defaults.ts";
import { copyBytes } from "../resp/mod.ts";

/**
 * The data path's clock reading of the current event-loop turn
 * (`performance.now()`, ms), taken once per socket read so replies and
 * commands of one read share it instead of each reading the clock.
 */
export const turn: { now: number } = { now: 0 };

/** A byte stream socket: what Deno.TcpConn / Deno.TlsConn give us. */
export interface Socket {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
}

/**
 * Input buffer: bytes [start, end) are unconsumed. `space()` makes room at
 * the end, moving the unconsumed tail to the front or doubling the buffer.
 * It starts small (an idle client costs little) and keeps what it grew to,
 * up to READ_BUFFER_SIZE; bigger growth for one huge frame is given back.
 */
export class ReadBuffer {
  /** The backing bytes (replaced when grown). */
  buf: Uint8Array;
  /** First unconsumed byte. */
  start = 0;
  /** One past the last received byte. */
  end = 0;
  /** True when the last `space()` moved the unconsumed bytes (offsets into them are void). */
  moved = false;

  /** Creates a buffer of `initial` bytes. */
  constructor(initial: number = READ_BUFFER_SIZE) {
    this.buf = new Uint8Array(initial);
  }

  /** Returns a view of the free space at the end, making some if there is none. */
  space(): Uint8Array {
    this.moved = false;
    if (this.end === 0) return this.buf;
    if (this.end === this.buf.length) {
      const used = this.end - this.start;
      if (this.start > 0 && used < this.buf.length / 2) {
        this.buf.copyWithin(0, this.start, this.end);
      } else {
        const next = new Uint8Array(this.buf.length * 2);
        next.set(this.buf.subarray(this.start, this.end));
        this.buf = next;
      }
      this.moved = this.start !== 0;
      this.start = 0;
      this.end = used;
    }
    return this.buf.subarray(this.end);
  }

  /** Marks everything before `pos` consumed; resets (and shrinks) when empty. */
  consume(pos: number): void {
    this.start = pos;
    if (pos === this.end) {
      this.start = this.end = 0;
      if (this.buf.length > READ_BUFFER_SIZE) this.buf = new Uint8Array(READ_BUFFER_SIZE);
    }
  }
}

/**
 * Output chunks shared by every writer: a writer holds chunks only while it
 * has bytes to send, so an idle connection costs no output buffer at all.
 */
const chunkPool: Uint8Array<ArrayBuffer>[] = [];

function takeChunk(min: number): Uint8Array<ArrayBuffer> {
  if (min <= WRITE_CHUNK_SIZE) {
    const c = chunkPool.pop();
    if (c !== undefined) return c;
  }
  return new Uint8Array(Math.max(WRITE_CHUNK_SIZE, min));
}

/** Bytes queued without a copy ({@link ByteWriter.writeShared}): never pooled, never written into. */
const shared = new WeakSet<Uint8Array>();

function giveChunk(c: Uint8Array): void {
  if (
    c.buffer.byteLength === WRITE_CHUNK_SIZE && chunkPool.length < WRITE_CHUNK_POOL &&
    !shared.has(c)
  ) {
    chunkPool.push(new Uint8Array(c.buffer as ArrayBuffer));
  }
}

/**
 * Writers with bytes to flush this event-loop iteration. One `setImmediate`
 * (after the iteration's I/O callbacks) flushes them all, so every command
 * and reply of one iteration leaves in one write per socket. Work that must
 * see every I/O callback of the iteration first ({@link atTurnEnd}) runs
 * just before, and what it writes leaves in the same flush.
 */
let dirty: ByteWriter[] = [];
let spareDirty: ByteWriter[] = [];
let turnEnd: (() => void)[] = [];
let spareTurnEnd: (() => void)[] = [];
let flushScheduled = false;
function flushAll(): void {
  // What the turn-end work writes joins this flush (no second one is scheduled for it), and
  // so does turn-end work it adds (a session whose input resumes may find more hits).
  while (turnEnd.length > 0) {
    const fns = turnEnd;
    turnEnd = spareTurnEnd;
    spareTurnEnd = fns;
    for (let i = 0; i < fns.length; i++) fns[i]();
    fns.length = 0;
  }
  flushScheduled = false;
  const list = dirty;
  dirty = spareDirty;
  spareDirty = list;
  for (let i = 0; i < list.length; i++) list[i].flush();
  list.length = 0;
}
function scheduleFlush(w: ByteWriter): void {
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flushAll);
  }
  dirty.push(w);
}

/**
 * Runs `fn` once at the end of this event-loop iteration, after every I/O
 * callback of it and before its writes leave (the near cache's hits wait
 * for the invalidations read in the same iteration).
 */
export function atTurnEnd(fn: () => void): void {
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flushAll);
  }
  turnEnd.push(fn);
}

/**
 * Coalescing writer: `write()` copies bytes into the current chunk and
 * schedules one flush per event-loop turn (a microtask). Full chunks queue
 * up behind it, so a slow reader costs what it is owed plus one chunk, never
 * a doubled buffer; a write under way never blocks new writes.
 */
export class ByteWriter {
  #sock: Socket | null;
  #queued: Uint8Array[] = [];
  #queuedBytes = 0;
  #cur: Uint8Array<ArrayBuffer> | null = null;
  #curLen = 0;
  #inFlight = 0;
  #writing = false;
  #scheduled = false;
  #closed = false;
  /** Runs the flush this writer asked for (called by the shared flush turn). */
  flush(): void {
    this.#scheduled = false;
    void this.#drain();
  }
  /** Called once when a socket write fails. */
  onError: (err: unknown) => void = () => {};
  /** Called when every buffered byte has been written. */
  onDrain: (() => void) | null = null;

  /** Creates a writer for `sock`; with null, bytes wait until {@link attach}. */
  constructor(sock: Socket | null) {
    this.#sock = sock;
  }

  /** Sets the socket of a writer created before it was connected, and flushes. */
  attach(sock: Socket): void {
    this.#sock = sock;
    this.#schedule();
  }

  /** Bytes buffered or being written. */
  get pending(): number {
    return this.#curLen + this.#queuedBytes + this.#inFlight;
  }

  /** Queues bytes `src[start, end)` (copied). */
  write(src: Uint8Array, start = 0, end: number = src.length): void {
    if (this.#closed) return;
    const n = end - start;
    let cur = this.#cur;
    if (cur === null || this.#curLen + n > cur.length) {
      if (cur !== null) {
        this.#queued.push(cur.subarray(0, this.#curLen));
        this.#queuedBytes += this.#curLen;
      }
      cur = this.#cur = takeChunk(n);
      this.#curLen = 0;
    }
    copyBytes(cur, this.#curLen, src, start, end);
    this.#curLen += n;
    if (!this.#scheduled && !this.#writing && this.#sock !== null) {
      this.#scheduled = true;
      scheduleFlush(this);
    }
  }

  /**
   * Queues `bytes`, which nobody changes afterwards (a near-cache entry's
   * reply): from {@link WRITE_SHARED_MIN} bytes on they go to the socket as
   * they are, after what is queued before them; smaller ones are copied like
   * {@link write}'s.
   */
  writeShared(bytes: Uint8Array): void {
    if (bytes.length < WRITE_SHARED_MIN) return this.write(bytes);
    if (this.#closed) return;
    if (this.#cur !== null && this.#curLen > 0) {
      this.#queued.push(this.#cur.subarray(0, this.#curLen));
      this.#queuedBytes += this.#curLen;
      this.#cur = null;
      this.#curLen = 0;
    }
    shared.add(bytes);
    this.#queued.push(bytes);
    this.#queuedBytes += bytes.length;
    this.#schedule();
  }

  /** Stops writing; buffered bytes are dropped. */
  close(): void {
    this.#closed = true;
    for (const q of this.#queued) giveChunk(q);
    this.#queued = [];
    this.#queuedBytes = 0;
    if (this.#cur !== null && !this.#writing) giveChunk(this.#cur);
    this.#cur = null;
    this.#curLen = 0;
  }

  #schedule(): void {
    if (!this.#scheduled && !this.#writing && this.#sock !== null && this.pending > 0) {
      this.#scheduled = true;
      scheduleFlush(this);
    }
  }

  /** The next bytes to write: queued chunks first, then the current chunk. */
  #take(): Uint8Array | null {
    const q = this.#queued.shift();
    if (q !== undefined) {
      this.#queuedBytes -= q.length;
      return q;
    }
    if (this.#curLen === 0 || this.#cur === null) return null;
    const out = this.#cur.subarray(0, this.#curLen);
    this.#cur = null;
    this.#curLen = 0;
    return out;
  }

  async #drain(): Promise<void> {
    const sock = this.#sock;
    if (sock === null || this.#writing) return;
    this.#writing = true;
    for (let out = this.#take(); out !== null && !this.#closed; out = this.#take()) {
      const len = out.length;
      this.#inFlight = len;
      try {
        let off = 0;
        while (off < len) off += await sock.write(off === 0 ? out : out.subarray(off));
      } catch (err) {
        this.#inFlight = 0;
        this.#writing = false;
        if (!this.#closed) {
          this.close();
          this.onError(err);
        }
        return;
      }
      this.#inFlight = 0;
      giveChunk(out);
    }
    this.#writing = false;
    if (!this.#closed && this.onDrain !== null) this.onDrain();
  }
}

/** A pause switch for a read loop: `wait()` returns a promise while closed. */
export class Gate {
  #promise: Promise<void> | null = null;
  #release: (() => void) | null = null;

  /** True while reading is paused. */
  get paused(): boolean {
    return this.#promise !== null;
  }

  /** Pauses (idempotent). */
  pause(): void {
    if (this.#promise === null) {
      this.#promise = new Promise((r) => this.#release = r);
    }
  }

  /** Resumes (idempotent). */
  resume(): void {
    const r = this.#release;
    this.#promise = null;
    this.#release = null;
    if (r !== null) r();
  }

  /** The promise to await while paused, or null. */
  wait(): Promise<void> | null {
    return this.#promise;
  }
}
