/**
 * Replication offsets from `ROLE` replies, read in place: a primary's
 * `master_repl_offset` (`*3 master <offset> [replicas]`), a replica's
 * applied offset (`*5 slave <host> <port> <state> <offset>`).
 *
 * @module
 */

/** `ROLE` as a command frame. */
export const ROLE_FRAME: Uint8Array = new TextEncoder().encode("*1\r\n$4\r\nROLE\r\n");

const CR = 13;
const COLON = 58;
const DOLLAR = 36;
const PLUS = 43;
const STAR = 42;

/** Where the line starting at `pos` ends (its CR), or -1. */
function lineEnd(buf: Uint8Array, pos: number, end: number): number {
  for (let i = pos; i < end - 1; i++) if (buf[i] === CR) return i;
  return -1;
}

/** The integer of `buf[from, to)`, or NaN. */
function int(buf: Uint8Array, from: number, to: number): number {
  let n = 0, sign = 1, i = from;
  if (buf[i] === 45) {
    sign = -1;
    i++;
  }
  if (i >= to) return NaN;
  for (; i < to; i++) {
    const d = buf[i] - 48;
    if (d < 0 || d > 9) return NaN;
    n = n * 10 + d;
  }
  return sign * n;
}

/**
 * The replication offset a `ROLE` reply `buf[start, end)` reports: the
 * primary's for `master`, the applied one for `slave`; -1 for anything
 * else (an error, a sentinel, a reply it cannot read).
 */
export function roleOffset(buf: Uint8Array, start: number, end: number): number {
  if (buf[start] !== STAR) return -1;
  let pos = lineEnd(buf, start, end);
  if (pos < 0) return -1;
  pos += 2;
  let role = "";
  let ints = 0;
  let element = 0;
  while (pos < end) {
    const kind = buf[pos];
    const e = lineEnd(buf, pos, end);
    if (e < 0) return -1;
    if (kind === DOLLAR || kind === PLUS) {
      let from = pos + 1, to = e;
      if (kind === DOLLAR) {
        const len = int(buf, pos + 1, e);
        from = e + 2;
        to = from + len;
        if (!(len >= 0) || to + 2 > end) return -1;
      }
      if (element === 0) role = String.fromCharCode(...buf.subarray(from, to));
      pos = to + 2;
    } else if (kind === COLON) {
      const v = int(buf, pos + 1, e);
      ints++;
      if (role === "master" && ints === 1) return v;
      if (role === "slave" && ints === 2) return v;
      pos = e + 2;
    } else return -1; // a nested array: the primary's replica list, past its offset
    element++;
  }
  return -1;
}
