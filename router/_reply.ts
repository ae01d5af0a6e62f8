/**
 * Reading the few reply shapes a merge needs from raw RESP2/RESP3 frames:
 * errors (`-…` and RESP3 blob errors `!…`), integers, and the elements of
 * an array.
 *
 * @module
 */

import { INCOMPLETE, scanReply } from "../resp/mod.ts";

const CR = 13;
const LF = 10;
const DOLLAR = 36;
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
 * Finds the elements of an array reply of exactly `count` elements (RESP2
 * and RESP3 arrays are both `*`): element `i` is `frame[bounds[at + 2i],
 * bounds[at + 2i + 1])`. False when the frame is not that. Bulk strings and
 * nulls, what MGET answers, are read here; any other element is framed by
 * the scanner.
 */
export function arrayElements(
  frame: Uint8Array,
  count: number,
  bounds: Int32Array,
  at: number,
): boolean {
  if (frame[0] !== STAR) return false;
  const end = lineEnd(frame, 1);
  if (end < 0 || decimal(frame, 1, end) !== count) return false;
  const length = frame.length;
  let p = end + 2;
  for (let i = 0; i < count; i++) {
    const next = frame[p] === DOLLAR ? bulkEnd(frame, p) : elementEnd(frame, p);
    if (next < 0) return false;
    bounds[at + 2 * i] = p;
    bounds[at + 2 * i + 1] = next;
    p = next;
  }
  return p === length;
}

/** End of the bulk string (or `$-1` null) at `p`, or -1 when it is not a whole one. */
function bulkEnd(frame: Uint8Array, p: number): number {
  let q = p + 1;
  if (frame[q] === MINUS) {
    return frame[q + 1] === DIGIT_0 + 1 && frame[q + 2] === CR && frame[q + 3] === LF ? q + 4 : -1;
  }
  let len = 0;
  const length = frame.length;
  while (q < length && frame[q] !== CR) {
    const d = frame[q++] - DIGIT_0;
    if (d < 0 || d > 9) return -1;
    len = len * 10 + d;
  }
  if (q === p + 1 || frame[q + 1] !== LF) return -1;
  const next = q + 2 + len + 2;
  return next <= length && frame[next - 2] === CR && frame[next - 1] === LF ? next : -1;
}

/** End of any reply element at `p`, or -1 when it is not a whole, well-formed one. */
function elementEnd(frame: Uint8Array, p: number): number {
  try {
    const next = scanReply(frame, p, frame.length);
    return next === INCOMPLETE ? -1 : next;
  } catch {
    return -1;
  }
}
