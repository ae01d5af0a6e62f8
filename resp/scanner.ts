/**
 * Reply framing: finds where one complete RESP2/RESP3 reply value ends in a
 * byte buffer without decoding it. Used per reply on the proxy hot path, so
 * it compares bytes, keeps no strings and allocates nothing per call.
 *
 * Nesting is tracked with one counter of values still owed (an aggregate of
 * n children owes n more, a map or attribute 2n) plus a small stack only for
 * RESP3 streamed aggregates (`*?` … `.`), which Redis itself never sends.
 *
 * @module
 */

import { MAX_BULK_LENGTH } from "./limits.ts";

/** Returned by the scanners and the request parser when the buffer holds only part of a frame. */
export const INCOMPLETE = -1;

/**
 * Thrown on malformed input. `message` is Redis-style text, e.g.
 * `"Protocol error: invalid bulk length"`.
 */
export class RespProtocolError extends Error {
  /** Creates the error with a Redis-style message. */
  constructor(message: string) {
    super(message);
    this.name = "RespProtocolError";
  }
}

const CR = 13;
const LF = 10;
const MINUS = 45; // -
const PLUS = 43; // +
const QUESTION = 63; // ?
const DIGIT_0 = 48;
const DIGIT_9 = 57;
/** Length digits past this value cannot be a real reply (2^53, exact in a double). */
const MAX_SAFE_LENGTH = Number.MAX_SAFE_INTEGER;

/** More length digits than this cannot be a real reply (and would never end). */
const MAX_LENGTH_DIGITS = 20;
/** Length value meaning "null" (`$-1`, `*-1`). */
const LEN_NULL = -1;
/** Length value meaning "streamed" (`$?`, `*?`). */
const LEN_STREAMED = -2;

// Second return value of readLength(): where the length line ends (the CR).
let lineCr = 0;

function fail(message: string): never {
  throw new RespProtocolError(message);
}

/** readLength() result when the line is not complete yet. */
const LEN_INCOMPLETE = -3;

/**
 * Reads the length line that starts at `from` (just after the type byte).
 * Returns the value, LEN_NULL, LEN_STREAMED or LEN_INCOMPLETE, and sets
 * `lineCr` to the offset of the line's CR.
 */
function readLength(buf: Uint8Array, from: number, end: number, what: string): number {
  let i = from;
  if (i >= end) return LEN_INCOMPLETE;
  let b = buf[i];
  if (b === QUESTION) {
    if (i + 2 >= end) return LEN_INCOMPLETE;
    if (buf[i + 1] !== CR || buf[i + 2] !== LF) fail(`Protocol error: invalid ${what} length`);
    lineCr = i + 1;
    return LEN_STREAMED;
  }
  let negative = false;
  if (b === MINUS) {
    negative = true;
    i++;
  }
  let value = 0;
  let digits = 0;
  for (; i < end; i++) {
    b = buf[i];
    if (b >= DIGIT_0 && b <= DIGIT_9) {
      value = value * 10 + (b - DIGIT_0);
      if (++digits > MAX_LENGTH_DIGITS) fail(`Protocol error: invalid ${what} length`);
      continue;
    }
    if (b !== CR || digits === 0 || value > MAX_SAFE_LENGTH) {
      fail(`Protocol error: invalid ${what} length`);
    }
    if (i + 1 >= end) return LEN_INCOMPLETE;
    if (buf[i + 1] !== LF) fail(`Protocol error: invalid ${what} length`);
    lineCr = i;
    if (negative) {
      if (value !== 1) fail(`Protocol error: invalid ${what} length`);
      return LEN_NULL;
    }
    return value;
  }
  return LEN_INCOMPLETE;
}

/**
 * A resumable reply scanner. `scan()` returns the offset just past one
 * complete reply value starting at `pos`, or INCOMPLETE; after INCOMPLETE,
 * call it again for the same reply with a longer `end` and it continues
 * where it stopped, so a huge reply arriving in chunks costs linear time
 * overall. Resume state is kept relative to `pos`: if the caller moves the
 * unconsumed bytes (compaction), passing the reply's new `pos` is enough.
 * After a complete value or an error the scanner is ready for the next one.
 */
export class ReplyScanner {
  #active = false;
  #cursor = 0; // relative to pos: start of the next item header (or chunk header)
  #lineScan = 0; // relative: where the CR search of a partial simple line resumes
  #pending = 0;
  #depth = 0;
  #stack: number[] = [];
  #inChunks = false; // inside a streamed string ($?), cursor at a chunk header
  #bytesScanned = 0;

  /** Bytes examined since construction (headers, lines and skipped payloads); for tests. */
  get bytesScanned(): number {
    return this.#bytesScanned;
  }

  /** Forgets any partial scan. */
  reset(): void {
    this.#active = false;
    this.#inChunks = false;
    this.#depth = 0;
  }

  /**
   * Scans one complete reply value at buf[pos..end). Returns the offset just
   * past it, or INCOMPLETE. A RESP3 attribute (`|`) is consumed together with
   * the value that follows it. Throws RespProtocolError on garbage.
   */
  scan(buf: Uint8Array, pos: number, end: number): number {
    let p: number;
    let pending: number;
    let depth: number;
    let lineScan: number;
    let inChunks: boolean;
    if (this.#active && pos + this.#cursor <= end) {
      p = pos + this.#cursor;
      pending = this.#pending;
      depth = this.#depth;
      lineScan = pos + this.#lineScan;
      inChunks = this.#inChunks;
    } else {
      p = pos;
      pending = 1;
      depth = 0;
      lineScan = pos;
      inChunks = false;
      this.#stack.length = 0;
    }
    const mark = lineScan > p ? lineScan : p; // bytes before it were scanned by earlier calls
    const stack = this.#stack;
    try {
      while (pending > 0 || depth > 0) {
        if (inChunks) {
          // Streamed string: ";<len>\r\n<bytes>\r\n" chunks, ";0\r\n" ends it.
          if (p >= end) break;
          if (buf[p] !== 59) fail("Protocol error: invalid streamed string chunk");
          const n = readLength(buf, p + 1, end, "bulk");
          if (n === LEN_INCOMPLETE) break;
          if (n < 0 || n > MAX_BULK_LENGTH) fail("Protocol error: invalid bulk length");
          if (n === 0) {
            p = lineCr + 2;
            inChunks = false;
            if (pending > 0) pending--;
            continue;
          }
          const q = lineCr + 2 + n + 2;
          if (q > end) break;
          if (buf[q - 2] !== CR || buf[q - 1] !== LF) {
            fail("Protocol error: bulk not ended by CRLF");
          }
          p = q;
          continue;
        }
        if (p >= end) break;
        // "top" = a direct child of a streamed aggregate: it owes nothing to a counter.
        const owe = pending > 0 ? 1 : 0;
        const type = buf[p];
        switch (type) {
          case 36: // $ bulk string
          case 33: // ! blob error
          case 61: { // = verbatim string
            const n = readLength(buf, p + 1, end, "bulk");
            if (n === LEN_INCOMPLETE) break;
            // No Redis string is longer: a bigger length is a broken (or hostile) node,
            // refused before shardgate buffers a byte of it.
            if (n > MAX_BULK_LENGTH) fail("Protocol error: invalid bulk length");
            if (n === LEN_STREAMED) {
              if (type !== 36) fail("Protocol error: invalid bulk length");
              p = lineCr + 2;
              inChunks = true;
              // pending is decremented when the terminating chunk arrives
              continue;
            }
            if (n === LEN_NULL) {
              p = lineCr + 2;
              pending -= owe;
              continue;
            }
            const q = lineCr + 2 + n + 2;
            if (q > end) break;
            if (buf[q - 2] !== CR || buf[q - 1] !== LF) {
              fail("Protocol error: bulk not ended by CRLF");
            }
            p = q;
            pending -= owe;
            continue;
          }
          case 42: // * array
          case 126: // ~ set
          case 62: // > push
          case 37: { // % map
            const n = readLength(buf, p + 1, end, "multibulk");
            if (n === LEN_INCOMPLETE) break;
            // A message push inside an aggregate is out of band (Redis sends
            // a pub/sub message between EXEC's array header and its
            // elements): it takes no element's place. A (un)subscribe
            // confirmation there is an element (SUBSCRIBE run by EXEC).
            let slot = owe;
            if (type === 62 && p !== pos) {
              const kind = pushKind(buf, lineCr + 2, end);
              if (kind === PUSH_UNKNOWN) break; // more bytes needed to tell
              if (kind === PUSH_MESSAGE) slot = 0;
            }
            p = lineCr + 2;
            if (n === LEN_STREAMED) {
              stack.push(pending - slot);
              depth++;
              pending = 0;
              continue;
            }
            if (n === LEN_NULL) {
              pending -= slot;
              continue;
            }
            pending += (type === 37 ? 2 * n : n) - slot;
            continue;
          }
          case 124: { // | attribute: n pairs, then the value it describes
            const n = readLength(buf, p + 1, end, "multibulk");
            if (n === LEN_INCOMPLETE) break;
            if (n < 0) fail("Protocol error: invalid multibulk length");
            p = lineCr + 2;
            pending += 2 * n; // the described value that follows owes its own slot
            continue;
          }
          case 46: { // . end of a streamed aggregate
            if (p + 2 >= end) break;
            if (buf[p + 1] !== CR || buf[p + 2] !== LF) {
              fail("Protocol error: invalid end of streamed aggregate");
            }
            if (depth === 0 || pending !== 0) {
              fail("Protocol error: unexpected end of streamed aggregate");
            }
            p += 3;
            depth--;
            pending = stack.pop() as number;
            continue;
          }
          case PLUS: // + simple string
          case MINUS: // - error
          case 58: // : integer
          case 95: // _ null
          case 44: // , double
          case 35: // # boolean
          case 40: { // ( big number
            let i = lineScan > p ? lineScan : p + 1;
            while (i < end && buf[i] !== CR) i++;
            if (i + 1 >= end) {
              lineScan = i;
              break;
            }
            if (buf[i + 1] !== LF) fail("Protocol error: expected LF after CR");
            checkLine(buf, type, p + 1, i);
            p = i + 2;
            lineScan = p;
            pending -= owe;
            continue;
          }
          default:
            fail(`Protocol error: invalid reply type byte '${String.fromCharCode(type)}'`);
        }
        break; // a case broke out: incomplete
      }
    } catch (e) {
      this.#active = false;
      this.#depth = 0;
      stack.length = 0;
      throw e;
    }
    this.#bytesScanned += (lineScan > p ? lineScan : p) - mark;
    if (pending === 0 && depth === 0) {
      this.#active = false;
      return p;
    }
    this.#active = true;
    this.#cursor = p - pos;
    this.#lineScan = (lineScan > p ? lineScan : p) - pos;
    this.#pending = pending;
    this.#depth = depth;
    this.#inChunks = inChunks;
    return INCOMPLETE;
  }
}

const PUSH_UNKNOWN = 0, PUSH_MESSAGE = 1, PUSH_OTHER = 2;
const MESSAGE_KINDS = ["message", "pmessage", "smessage", "invalidate"].map((s) =>
  new TextEncoder().encode(s)
);

/**
 * What a push whose elements start at `p` carries: a message (out of band),
 * something else, or unknown yet (its first element is not all in).
 */
function pushKind(buf: Uint8Array, p: number, end: number): number {
  if (p >= end) return PUSH_UNKNOWN;
  if (buf[p] !== 36 && buf[p] !== 43) return PUSH_OTHER; // $bulk or +simple
  let q = p + 1, len = 0;
  if (buf[p] === 36) {
    while (q < end && buf[q] !== CR) len = len * 10 + (buf[q++] - DIGIT_0);
    if (q + 1 >= end) return PUSH_UNKNOWN;
    q += 2;
  } else {
    let e = q;
    while (e < end && buf[e] !== CR) e++;
    if (e >= end) return PUSH_UNKNOWN;
    len = e - q;
  }
  if (q + len > end) return PUSH_UNKNOWN;
  for (const name of MESSAGE_KINDS) {
    if (name.length !== len) continue;
    let same = true;
    for (let i = 0; i < len && same; i++) same = (buf[q + i] | 0x20) === name[i];
    if (same) return PUSH_MESSAGE;
  }
  return PUSH_OTHER;
}

/** Validates the payload of the line types whose syntax is cheap to check. */
function checkLine(buf: Uint8Array, type: number, from: number, to: number): void {
  if (type === 58) { // integer: [+-]digits
    let i = from;
    if (i < to && (buf[i] === MINUS || buf[i] === PLUS)) i++;
    if (i === to) fail("Protocol error: invalid integer");
    for (; i < to; i++) {
      const b = buf[i];
      if (b < DIGIT_0 || b > DIGIT_9) fail("Protocol error: invalid integer");
    }
  } else if (type === 95) { // null: empty
    if (to !== from) fail("Protocol error: invalid null");
  } else if (type === 35) { // boolean: t or f
    if (to !== from + 1 || (buf[from] !== 116 && buf[from] !== 102)) {
      fail("Protocol error: invalid boolean");
    }
  }
}

const shared = new ReplyScanner();

/**
 * Scans ONE complete reply value at buf[pos..end) without decoding payloads.
 * Returns the offset just past it, or INCOMPLETE. Stateless (each call starts
 * from `pos`); use a {@link ReplyScanner} to resume huge replies linearly.
 * RESP2 and RESP3 types: `+ - : $ * _ , # ! = ( % ~ > |` and streamed
 * aggregates/strings (`*?` … `.`, `$?` … `;0`). An attribute is consumed
 * together with the value that follows it. Null bulk `$-1` and null
 * aggregates `*-1` are valid. Throws RespProtocolError on garbage.
 */
export function scanReply(buf: Uint8Array, pos: number, end: number): number {
  shared.reset();
  return shared.scan(buf, pos, end);
}
