/**
 * Socket plumbing shared by client sessions and node connections: a read
 * buffer that grows for big frames and shrinks back, and a writer that
 * coalesces every write of one event-loop turn into one socket write.
 *
 * @module
 */

import { READ_BUFFER_SIZE } from "../config/defaults.ts";

/** A byte stream socket: what Deno.TcpConn / Deno.TlsConn give us. */
export interface Socket {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
}

/**
 * Input buffer: bytes [start, end) are unconsumed. `space()` makes room at
 * the end, moving the unconsumed tail to the front or doubling the buffer.
 */
export class ReadBuffer {
  /** The backing bytes (replaced when grown). */
  buf: Uint8Array = new Uint8Array(READ_BUFFER_SIZE);
  /** First unconsumed byte. */
  start = 0;
  /** One past the last received byte. */
  end = 0;

  /**
   * Returns a view with free space at the end. Returns `moved` true when the
   * unconsumed bytes moved (so offsets into the old layout are void).
   */
  space(): { view: Uint8Array; moved: boolean } {
    let moved = false;
    if (this.end === this.buf.length) {
      const used = this.end - this.start;
      if (this.start > 0 && used < this.buf.length / 2) {
        this.buf.copyWithin(0, this.start, this.end);
      } else {
        const next = new Uint8Array(this.buf.length * 2);
        next.set(this.buf.subarray(this.start, this.end));
        this.buf = next;
      }
      moved = this.start !== 0;
      this.start = 0;
      this.end = used;
    }
    return { view: this.buf.subarray(this.end), moved };
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
 * Coalescing writer: `write()` copies bytes into a pending buffer and
 * schedules one flush per event-loop turn (a microtask). While a socket
 * write is under way new bytes go to a second buffer (double buffering).
 */
export class ByteWriter {
  #sock: Socket | null;
  #buf: Uint8Array<ArrayBuffer> = new Uint8Array(READ_BUFFER_SIZE);
  #len = 0;
  #spare: Uint8Array<ArrayBuffer> | null = new Uint8Array(READ_BUFFER_SIZE);
  #inFlight = 0;
  #scheduled = false;
  #closed = false;
  #flush = (): void => {
    this.#scheduled = false;
    void this.#drain();
  };
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
    if (this.#len > 0 && !this.#scheduled && this.#inFlight === 0) {
      this.#scheduled = true;
      queueMicrotask(this.#flush);
    }
  }

  /** Bytes buffered or being written. */
  get pending(): number {
    return this.#len + this.#inFlight;
  }

  /** Queues bytes `src[start, end)` (copied). */
  write(src: Uint8Array, start = 0, end: number = src.length): void {
    if (this.#closed) return;
    const n = end - start;
    if (this.#len + n > this.#buf.length) this.#grow(this.#len + n);
    this.#buf.set(n === src.length ? src : src.subarray(start, end), this.#len);
    this.#len += n;
    if (!this.#scheduled && this.#inFlight === 0 && this.#sock !== null) {
      this.#scheduled = true;
      queueMicrotask(this.#flush);
    }
  }

  /** Stops writing; buffered bytes are dropped. */
  close(): void {
    this.#closed = true;
    this.#len = 0;
  }

  #grow(need: number): void {
    let size = this.#buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  async #drain(): Promise<void> {
    const sock = this.#sock;
    if (sock === null) return;
    while (this.#len > 0 && !this.#closed) {
      const out = this.#buf;
      const len = this.#len;
      this.#buf = this.#spare ?? new Uint8Array(READ_BUFFER_SIZE);
      this.#spare = null;
      this.#len = 0;
      this.#inFlight = len;
      try {
        let off = 0;
        while (off < len) off += await sock.write(out.subarray(off, len));
      } catch (err) {
        this.#inFlight = 0;
        if (!this.#closed) {
          this.#closed = true;
          this.onError(err);
        }
        return;
      }
      this.#inFlight = 0;
      // Keep one spare; drop buffers a big reply grew.
      this.#spare = out.length > READ_BUFFER_SIZE ? new Uint8Array(READ_BUFFER_SIZE) : out;
    }
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
