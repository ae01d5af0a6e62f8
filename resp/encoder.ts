/**
 * RESP encoders: commands (multibulk arrays) for the health checker and any
 * request shardgate sends itself, and the few reply types the proxy
 * answers locally. Each call allocates exactly one output buffer.
 *
 * @module
 */

const CR = 13;
const LF = 10;
const DIGIT_0 = 48;

const utf8 = new TextEncoder();

/** UTF-8 byte length of `s` as TextEncoder encodes it (lone surrogates become U+FFFD). */
function utf8Length(s: string): number {
  let n = 0;
  const len = s.length;
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < len) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else {
        n += 3;
      }
    } else n += 3;
  }
  return n;
}

/** Number of decimal digits of a non-negative integer. */
function digitCount(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/** Writes the decimal digits of a non-negative integer at `at`; returns the offset past them. */
function writeDigits(out: Uint8Array, at: number, n: number): number {
  const d = digitCount(n);
  let i = at + d;
  do {
    out[--i] = DIGIT_0 + (n % 10);
    n = Math.floor(n / 10);
  } while (n > 0);
  return at + d;
}

/** Writes `s` as UTF-8 at `at` (its encoded length is `bytes`); returns the offset past it. */
function writeString(out: Uint8Array, at: number, s: string, bytes: number): number {
  if (bytes === s.length) {
    for (let i = 0; i < bytes; i++) out[at + i] = s.charCodeAt(i);
  } else {
    utf8.encodeInto(s, out.subarray(at, at + bytes));
  }
  return at + bytes;
}

/** Encodes a command as a RESP multibulk array of bulk strings (strings as UTF-8). */
export function encodeCommand(args: readonly (string | Uint8Array)[]): Uint8Array {
  const n = args.length;
  const lengths = new Array<number>(n);
  let total = 1 + digitCount(n) + 2;
  for (let i = 0; i < n; i++) {
    const a = args[i];
    const len = typeof a === "string" ? utf8Length(a) : a.length;
    lengths[i] = len;
    total += 1 + digitCount(len) + 2 + len + 2;
  }
  const out = new Uint8Array(total);
  out[0] = 42; // *
  let p = writeDigits(out, 1, n);
  out[p++] = CR;
  out[p++] = LF;
  for (let i = 0; i < n; i++) {
    const a = args[i];
    const len = lengths[i];
    out[p++] = 36; // $
    p = writeDigits(out, p, len);
    out[p++] = CR;
    out[p++] = LF;
    if (typeof a === "string") p = writeString(out, p, a, len);
    else {
      out.set(a, p);
      p += len;
    }
    out[p++] = CR;
    out[p++] = LF;
  }
  return out;
}

/** Encodes a one-line reply `<type><text>\r\n`, CR and LF in the text folded to spaces. */
function encodeLine(type: number, text: string): Uint8Array {
  const len = utf8Length(text);
  const out = new Uint8Array(1 + len + 2);
  out[0] = type;
  writeString(out, 1, text, len);
  for (let i = 1; i <= len; i++) {
    if (out[i] === CR || out[i] === LF) out[i] = 32;
  }
  out[len + 1] = CR;
  out[len + 2] = LF;
  return out;
}

/**
 * Encodes a simple error reply `-<message>\r\n`. The message is complete
 * (e.g. `"ERR shardgate: ..."`); CR and LF in it are replaced by spaces so
 * it can never break framing.
 */
export function encodeError(message: string): Uint8Array {
  return encodeLine(45, message);
}

/** Encodes a simple string reply `+<text>\r\n` (CR and LF replaced by spaces). */
export function encodeSimple(text: string): Uint8Array {
  return encodeLine(43, text);
}

/** Encodes an integer reply `:<n>\r\n` (`n` must be an integer). */
export function encodeInteger(n: number): Uint8Array {
  if (!Number.isSafeInteger(n)) throw new RangeError(`not a safe integer: ${n}`);
  const negative = n < 0;
  const abs = negative ? -n : n;
  const out = new Uint8Array(1 + (negative ? 1 : 0) + digitCount(abs) + 2);
  out[0] = 58; // :
  let p = 1;
  if (negative) out[p++] = 45;
  p = writeDigits(out, p, abs);
  out[p++] = CR;
  out[p] = LF;
  return out;
}

/** Encodes a bulk string reply `$<len>\r\n<bytes>\r\n`, or the RESP2 null bulk `$-1\r\n` for null. */
export function encodeBulk(value: string | Uint8Array | null): Uint8Array {
  if (value === null) return Uint8Array.of(36, 45, 49, CR, LF);
  const len = typeof value === "string" ? utf8Length(value) : value.length;
  const out = new Uint8Array(1 + digitCount(len) + 2 + len + 2);
  out[0] = 36;
  let p = writeDigits(out, 1, len);
  out[p++] = CR;
  out[p++] = LF;
  if (typeof value === "string") p = writeString(out, p, value, len);
  else {
    out.set(value, p);
    p += len;
  }
  out[p++] = CR;
  out[p] = LF;
  return out;
}
