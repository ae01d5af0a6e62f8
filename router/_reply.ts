/**
 * Reading the few reply shapes a merge needs from raw RESP2/RESP3 frames:
 * errors (`-…` and RESP3 blob errors `!…`), integers, and the elements of
 * an array.
 *
 * @module
 */

import { INCOMPLETE, scanReply } from "../resp/mod.ts";

const CR = 13;
const MINUS = 45;
const BANG = 33;
const COLON = 58;
const STAR = 42;
const DIGIT_0 = 48;

const decoder = new TextDecoder();

/** Offset of the first CR at or after `from`, or -1. */
function lineEnd(frame: Uint8Array, from: number): number {
  return frame.indexOf(CR, from);
}

/** A non-negative decimal at frame[from..to), or -1. */
function decimal(frame: Uint8Array, from: number, to: number): number {
  if (from >= to) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = frame[i] - DIGIT_0;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** The message of an error reply (`-ERR …` or a blob error), or null for any other reply. */
export function errorMessage(frame: Uint8Array): string | null {
  if (frame[0] === MINUS) {
    const end = lineEnd(frame, 1);
    return decoder.decode(frame.subarray(1, end < 0 ? frame.length : end));
  }
  if (frame[0] === BANG) {
    const end = lineEnd(frame, 1);
    const len = decimal(frame, 1, end);
    if (len < 0) return null;
    return decoder.decode(frame.subarray(end + 2, end + 2 + len));
  }
  return null;
}

/** The value of an integer reply, or null for any other reply. */
export function integerValue(frame: Uint8Array): number | null {
  if (frame[0] !== COLON) return null;
  const end = lineEnd(frame, 1);
  if (end < 0) return null;
  const negative = frame[1] === MINUS;
  const n = decimal(frame, negative ? 2 : 1, end);
  if (n < 0) return null;
  return negative ? -n : n;
}

/**
 * The [start, end) offsets of the elements of an array reply of exactly
 * `count` elements (RESP2 and RESP3 arrays are both `*`), or null when the
 * frame is not that.
 */
export function arrayElements(frame: Uint8Array, count: number): Int32Array | null {
  if (frame[0] !== STAR) return null;
  const end = lineEnd(frame, 1);
  if (end < 0 || decimal(frame, 1, end) !== count) return null;
  const bounds = new Int32Array(count * 2);
  let p = end + 2;
  for (let i = 0; i < count; i++) {
    let next: number;
    try {
      next = scanReply(frame, p, frame.length);
    } catch {
      return null;
    }
    if (next === INCOMPLETE) return null;
    bounds[2 * i] = p;
    bounds[2 * i + 1] = next;
    p = next;
  }
  return p === frame.length ? bounds : null;
}
