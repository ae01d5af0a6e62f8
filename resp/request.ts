/**
 * Client command framing, as Redis's own `processMultibulkBuffer` and
 * `processInlineBuffer` do it, with the same limits and error messages.
 * Hot path: one parser per client session, no allocation per command; the
 * offsets of the first few arguments are recorded so routing can compare
 * the command name in place.
 *
 * A command that arrives in pieces is resumed where the previous call
 * stopped (a 10 MB bulk or a million arguments in 64 KB reads cost linear
 * time). Resume state is relative to the command's start, so a caller that
 * moves its unconsumed bytes to the front of its buffer only has to pass the
 * new start.
 *
 * @module
 */

import { MAX_BULK_LENGTH, MAX_INLINE_LENGTH, MAX_MULTIBULK_LENGTH } from "./limits.ts";
import { INCOMPLETE, RespProtocolError } from "./scanner.ts";

/** Offsets are recorded for the first this-many arguments only. */
export const MAX_TRACKED_ARGS = 4;

const CR = 13;
const LF = 10;
const STAR = 42;
const DOLLAR = 36;
const MINUS = 45;
const DIGIT_0 = 48;
const DIGIT_1 = 49;
const DIGIT_9 = 57;
const SPACE = 32;
const TAB = 9;
const DQUOTE = 34;
const SQUOTE = 39;
const BACKSLASH = 92;

const IDLE = 0;
const MB_HEADER = 1; // reading "*<count>\r\n"
const MB_ARG = 2; // expecting "$<len>\r\n"
const MB_BODY = 3; // waiting for <len> bytes + CRLF
const INLINE = 4; // looking for the end of an inline line

function protocolError(message: string): never {
  throw new RespProtocolError(`Protocol error: ${message}`);
}

/**
 * Parses a decimal integer exactly as Redis's `string2ll` accepts it (no
 * sign but `-`, no leading zeros, no spaces). Returns NaN when invalid; a
 * value too big for an int64 comes back as a huge number (callers reject it
 * by their limit, with the same message Redis gives for both cases).
 */
export function parseInteger(buf: Uint8Array, from: number, to: number): number {
  if (from >= to) return NaN;
  let i = from;
  let negative = false;
  if (buf[i] === MINUS) {
    negative = true;
    i++;
    if (i === to) return NaN;
  }
  const first = buf[i];
  if (first === DIGIT_0) return !negative && to - from === 1 ? 0 : NaN;
  if (first < DIGIT_1 || first > DIGIT_9) return NaN;
  let value = 0;
  for (; i < to; i++) {
    const b = buf[i];
    if (b < DIGIT_0 || b > DIGIT_9) return NaN;
    value = value * 10 + (b - DIGIT_0);
  }
  return negative ? -value : value;
}

/**
 * Offset of the first CR in buf[from..min(end, limit)), or that bound when
 * there is none.
 */
function findCR(buf: Uint8Array, from: number, end: number, limit: number): number {
  const to = end < limit ? end : limit;
  let i = from;
  while (i < to && buf[i] !== CR) i++;
  return i;
}

/** The byte at i of a line ending at `to`, or 0 past it (C strings end in NUL). */
function byteAt(buf: Uint8Array, to: number, i: number): number {
  return i < to ? buf[i] : 0;
}

function isSpace(b: number): boolean {
  return b === SPACE || (b >= TAB && b <= CR); // \t \n \v \f \r, as C isspace()
}

function isHexDigit(b: number): boolean {
  return (b >= DIGIT_0 && b <= DIGIT_9) || (b >= 97 && b <= 102) || (b >= 65 && b <= 70);
}

function hexValue(b: number): number {
  if (b <= DIGIT_9) return b - DIGIT_0;
  return (b | 0x20) - 87;
}

/**
 * Splits an inline command line buf[from..to) (newline excluded) the way
 * Redis's `sdssplitargs` does. Records the raw span of the first
 * MAX_TRACKED_ARGS tokens in `starts`/`ends` (quotes included) and, when
 * `out` is given, pushes each decoded argument to it. Returns the argument
 * count, or -1 for unbalanced quotes. As in C, a NUL byte ends the line.
 */
function splitInline(
  buf: Uint8Array,
  from: number,
  to: number,
  starts: Int32Array | null,
  ends: Int32Array | null,
  out: Uint8Array[] | null,
): number {
  let p = from;
  let argc = 0;
  for (;;) {
    while (p < to && buf[p] !== 0 && isSpace(buf[p])) p++;
    if (p >= to || buf[p] === 0) return argc;
    const tokenStart = p;
    let tokenEnd = p;
    let inDouble = false;
    let inSingle = false;
    let done = false;
    const bytes: number[] | null = out === null ? null : [];
    while (!done) {
      const b = byteAt(buf, to, p);
      if (inDouble) {
        if (
          b === BACKSLASH && byteAt(buf, to, p + 1) === 120 && isHexDigit(byteAt(buf, to, p + 2)) &&
          isHexDigit(byteAt(buf, to, p + 3))
        ) {
          bytes?.push(hexValue(byteAt(buf, to, p + 2)) * 16 + hexValue(byteAt(buf, to, p + 3)));
          p += 3;
        } else if (b === BACKSLASH && byteAt(buf, to, p + 1) !== 0) {
          p++;
          const c = buf[p];
          bytes?.push(
            c === 110 ? LF : c === 114 ? CR : c === 116 ? TAB : c === 98 ? 8 : c === 97 ? 7 : c,
          );
        } else if (b === DQUOTE) {
          // The closing quote must be followed by a space or the end.
          if (byteAt(buf, to, p + 1) !== 0 && !isSpace(byteAt(buf, to, p + 1))) return -1;
          done = true;
          tokenEnd = p + 1;
        } else if (b === 0) {
          return -1;
        } else {
          bytes?.push(b);
        }
      } else if (inSingle) {
        if (b === BACKSLASH && byteAt(buf, to, p + 1) === SQUOTE) {
          p++;
          bytes?.push(SQUOTE);
        } else if (b === SQUOTE) {
          if (byteAt(buf, to, p + 1) !== 0 && !isSpace(byteAt(buf, to, p + 1))) return -1;
          done = true;
          tokenEnd = p + 1;
        } else if (b === 0) {
          return -1;
        } else {
          bytes?.push(b);
        }
      } else if (b === SPACE || b === LF || b === CR || b === TAB || b === 0) {
        done = true;
        tokenEnd = p;
      } else if (b === DQUOTE) {
        inDouble = true;
      } else if (b === SQUOTE) {
        inSingle = true;
      } else {
        bytes?.push(b);
      }
      if (byteAt(buf, to, p) !== 0) p++;
    }
    if (argc < MAX_TRACKED_ARGS && starts !== null && ends !== null) {
      starts[argc] = tokenStart;
      ends[argc] = tokenEnd;
    }
    if (bytes !== null) out?.push(Uint8Array.from(bytes));
    argc++;
  }
}

/**
 * Frames client commands (multibulk and inline). One instance per client
 * connection; after `parse()` returns a complete command, `argc`, `inline`,
 * `start`, `end`, `argStart` and `argEnd` describe it until the next call.
 */
export class RequestParser {
  /** After a successful parse: number of args (0 = empty command, e.g. `*0\r\n` or a blank inline line: ignore it). */
  argc = 0;
  /** true when the command was an inline (telnet-style) command. */
  inline = false;
  /** After a successful parse: offset of the command's first byte. */
  start = 0;
  /** After a successful parse: offset just past the command (what parse() returned). */
  end = 0;
  /**
   * Offsets into buf of the first MAX_TRACKED_ARGS args: bytes
   * [argStart[i], argEnd[i]). For inline commands too: unquoted args point
   * into buf; a quoted inline arg spans its raw text, quotes included (use
   * inlineArgs() to decode it).
   */
  readonly argStart: Int32Array = new Int32Array(MAX_TRACKED_ARGS);
  /** End offsets matching {@link RequestParser.argStart}. */
  readonly argEnd: Int32Array = new Int32Array(MAX_TRACKED_ARGS);

  #state = IDLE;
  #cursor = 0; // relative to the command start: next unread byte
  #scan = 0; // relative: where the newline search of the current line resumes
  #remaining = 0; // multibulk args still to read
  #index = 0; // index of the arg being read
  #bulkLen = 0;
  #bytesScanned = 0;

  /** Bytes examined since construction; tests use it to prove resumption is linear. */
  get bytesScanned(): number {
    return this.#bytesScanned;
  }

  /** Forgets resume state (call after an error or to start over on other data). */
  reset(): void {
    this.#state = IDLE;
    this.#cursor = 0;
    this.#scan = 0;
  }

  /**
   * Parses one client command starting at `pos`. Returns the offset just
   * past the complete command, or INCOMPLETE: call again later with the
   * same command start (the same `pos`, or its new offset if the bytes were
   * moved) and a longer `end`; parsing resumes where it stopped. Throws
   * RespProtocolError with Redis's own messages; a header declaring a bulk
   * or a count past the limits is refused as soon as its line is complete.
   */
  parse(buf: Uint8Array, pos: number, end: number): number {
    let state = this.#state;
    if (state !== IDLE && pos + this.#scan > end) state = IDLE; // not a continuation
    if (state === IDLE) {
      if (pos >= end) return INCOMPLETE;
      this.#cursor = 0;
      if (buf[pos] === STAR) {
        state = MB_HEADER;
        this.#scan = 1;
      } else {
        state = INLINE;
        this.#scan = 0;
      }
    }
    try {
      if (state === INLINE) return this.#parseInline(buf, pos, end);
      return this.#parseMultibulk(buf, pos, end, state);
    } catch (e) {
      this.reset();
      throw e;
    }
  }

  #parseMultibulk(buf: Uint8Array, pos: number, end: number, state: number): number {
    const starts = this.argStart;
    const ends = this.argEnd;
    let cursor = pos + this.#cursor;
    let scan = pos + this.#scan;
    const scanFrom = scan;
    if (state === MB_HEADER) {
      scan = findCR(buf, scan, end, pos + MAX_INLINE_LENGTH + 1);
      if (scan - pos > MAX_INLINE_LENGTH) protocolError("too big mbulk count string");
      if (scan + 1 >= end) return this.#suspend(state, pos, cursor, scan, scanFrom);
      const count = parseInteger(buf, pos + 1, scan);
      if (!(count <= MAX_MULTIBULK_LENGTH)) protocolError("invalid multibulk length");
      cursor = scan + 2;
      scan = cursor;
      if (count <= 0) {
        this.#bytesScanned += cursor - scanFrom;
        return this.#complete(pos, cursor, 0, false);
      }
      this.#remaining = count;
      this.#index = 0;
      state = MB_ARG;
    }
    let remaining = this.#remaining;
    let index = this.#index;
    let bulkLen = this.#bulkLen;
    while (remaining > 0) {
      if (state === MB_ARG) {
        if (cursor >= end) break;
        if (buf[cursor] !== DOLLAR) {
          protocolError(`expected '$', got '${String.fromCharCode(buf[cursor])}'`);
        }
        if (scan <= cursor) scan = cursor + 1;
        scan = findCR(buf, scan, end, cursor + MAX_INLINE_LENGTH + 1);
        if (scan - cursor > MAX_INLINE_LENGTH) protocolError("too big bulk count string");
        if (scan + 1 >= end) break; // no CR yet, or no LF after it
        bulkLen = parseInteger(buf, cursor + 1, scan);
        if (!(bulkLen >= 0 && bulkLen <= MAX_BULK_LENGTH)) protocolError("invalid bulk length");
        cursor = scan + 2;
        state = MB_BODY;
      }
      // MB_BODY: the payload and its CRLF (not checked, as Redis skips two bytes).
      const next = cursor + bulkLen + 2;
      if (next > end) {
        scan = cursor;
        break;
      }
      if (index < MAX_TRACKED_ARGS) {
        starts[index] = cursor - pos;
        ends[index] = cursor + bulkLen - pos;
      }
      index++;
      remaining--;
      cursor = next;
      scan = cursor;
      state = MB_ARG;
    }
    this.#remaining = remaining;
    this.#index = index;
    this.#bulkLen = bulkLen;
    if (remaining > 0) return this.#suspend(state, pos, cursor, scan, scanFrom);
    this.#bytesScanned += cursor - scanFrom;
    const argc = index;
    const tracked = argc < MAX_TRACKED_ARGS ? argc : MAX_TRACKED_ARGS;
    for (let i = 0; i < tracked; i++) {
      starts[i] += pos;
      ends[i] += pos;
    }
    return this.#complete(pos, cursor, argc, false);
  }

  #parseInline(buf: Uint8Array, pos: number, end: number): number {
    let nl = pos + this.#scan;
    const scanFrom = nl;
    const limit = Math.min(end, pos + MAX_INLINE_LENGTH + 1);
    while (nl < limit && buf[nl] !== LF) nl++;
    if (nl - pos > MAX_INLINE_LENGTH) protocolError("too big inline request");
    if (nl >= end) return this.#suspend(INLINE, pos, pos, nl, scanFrom);
    this.#bytesScanned += nl + 1 - scanFrom;
    const argc = splitInline(buf, pos, nl, this.argStart, this.argEnd, null);
    if (argc < 0) protocolError("unbalanced quotes in request");
    return this.#complete(pos, nl + 1, argc, true);
  }

  #suspend(state: number, pos: number, cursor: number, scan: number, scanFrom: number): number {
    this.#bytesScanned += scan - scanFrom;
    this.#state = state;
    this.#cursor = cursor - pos;
    this.#scan = scan - pos;
    return INCOMPLETE;
  }

  #complete(pos: number, next: number, argc: number, inline: boolean): number {
    this.#state = IDLE;
    this.#cursor = 0;
    this.#scan = 0;
    this.argc = argc;
    this.inline = inline;
    this.start = pos;
    this.end = next;
    return next;
  }

  /**
   * Every argument of the command just parsed (multibulk or inline), copied
   * out of `buf`. Allocates: for the rare commands whose later arguments
   * matter (HELLO ... AUTH).
   */
  args(buf: Uint8Array): Uint8Array[] {
    if (this.inline) return this.inlineArgs(buf, this.start, this.end);
    const out: Uint8Array[] = [];
    let p = this.start + 1;
    while (buf[p] !== CR) p++;
    p += 2;
    for (let i = 0; i < this.argc; i++) {
      let len = 0;
      let q = p + 1;
      while (buf[q] !== CR) len = len * 10 + (buf[q++] - 48);
      q += 2;
      out.push(buf.slice(q, q + len));
      p = q + len + 2;
    }
    return out;
  }

  /**
   * For inline commands: the full decoded argument list of the command at
   * buf[start..end) (newline included or not), handling `"quoted \x41
   * strings"` and `'single quotes'` like Redis's sdssplitargs. Allocates;
   * inline is rare. Throws RespProtocolError on unbalanced quotes.
   */
  inlineArgs(buf: Uint8Array, start: number, end: number): Uint8Array[] {
    let to = end;
    if (to > start && buf[to - 1] === LF) to--;
    if (to > start && buf[to - 1] === CR) to--;
    const out: Uint8Array[] = [];
    if (splitInline(buf, start, to, null, null, out) < 0) {
      protocolError("unbalanced quotes in request");
    }
    return out;
  }
}

/**
 * Case-insensitive compare of buf[start..end) to an UPPERCASE ASCII
 * literal, without allocating.
 */
export function argEquals(buf: Uint8Array, start: number, end: number, upper: string): boolean {
  const n = upper.length;
  if (end - start !== n) return false;
  for (let i = 0; i < n; i++) {
    let b = buf[start + i];
    if (b >= 97 && b <= 122) b -= 32;
    if (b !== upper.charCodeAt(i)) return false;
  }
  return true;
}
