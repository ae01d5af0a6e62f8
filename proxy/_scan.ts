/**
 * SCAN cursors across replicas. A cursor is a position in one node's hash
 * table, so a continuation must go back to the node that made it. The
 * readers port hands out `nodeCursor * SCAN_TAGS + tag`, where `tag`
 * (1..SCAN_TAGS-1) names the node; `0` still means "done".
 *
 * @module
 */

/** Node tags per shard; a cursor grows by about three decimal digits. */
export const SCAN_TAGS = 1024;
const TAGS = BigInt(SCAN_TAGS);

const te = new TextEncoder();
const td = new TextDecoder();

/** A client's cursor split into the node's own cursor and the node's tag. */
export interface DecodedCursor {
  /** The node's cursor (decimal), `0` for a new scan. */
  readonly cursor: string;
  /** The node's tag, 0 for a new scan. */
  readonly tag: number;
}

/** Decodes a client's cursor; null when it is not an unsigned decimal number. */
export function decodeCursor(text: string): DecodedCursor | null {
  if (!/^[0-9]{1,40}$/.test(text)) return null;
  const value = BigInt(text);
  if (value === 0n) return { cursor: "0", tag: 0 };
  return { cursor: (value / TAGS).toString(), tag: Number(value % TAGS) };
}

/** The cursor a client sees for node cursor `cursor` of the node tagged `tag`. */
export function encodeCursor(cursor: string, tag: number): string {
  const value = BigInt(cursor);
  return value === 0n ? "0" : (value * TAGS + BigInt(tag)).toString();
}

/**
 * Rewrites a SCAN-family reply `*2 $cursor <elements>` so its cursor names
 * the node tagged `tag`. Returns null when the reply has another shape (an
 * error, for one): it goes to the client as it is.
 */
export function rewriteScanReply(
  buf: Uint8Array,
  start: number,
  end: number,
  tag: number,
): Uint8Array | null {
  // "*2\r\n$" then the cursor's length line
  if (end - start < 8 || buf[start] !== 42 || buf[start + 1] !== 50 || buf[start + 4] !== 36) {
    return null;
  }
  let p = start + 5, len = 0;
  while (p < end && buf[p] !== 13) len = len * 10 + (buf[p++] - 48);
  const from = p + 2;
  const to = from + len;
  if (to + 2 > end) return null;
  const cursor = td.decode(buf.subarray(from, to));
  if (!/^[0-9]+$/.test(cursor)) return null;
  const text = te.encode(encodeCursor(cursor, tag));
  const head = te.encode(`*2\r\n$${text.length}\r\n`);
  const rest = buf.subarray(to, end); // "\r\n<elements>"
  const out = new Uint8Array(head.length + text.length + rest.length);
  out.set(head, 0);
  out.set(text, head.length);
  out.set(rest, head.length + text.length);
  return out;
}
