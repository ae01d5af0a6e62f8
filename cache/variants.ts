/**
 * Single-key reads the near cache answers besides GET and MGET: `HGET key
 * field`, `HGETALL key` and `EXISTS key` (one key). Each is an entry of its
 * own, under a cache key that no plain key can equal: a tag unit above
 * U+00FF (plain keys are latin1 strings), the key, and for HGET the field
 * after a separator that is above U+00FF too. A change to the key (the
 * node's invalidation, a write through this sidecar) evicts every entry
 * of it (`store.ts`).
 *
 * ```
 *  HGET k f   ─▶ "\u0101" + k + "\u0100" + f   reply: bulk string or nil
 *  HGETALL k  ─▶ "\u0102" + k                  reply: RESP3 map; RESP2 clients get an array
 *  EXISTS k   ─▶ "\u0103" + k                  reply: integer (the same in both protocols)
 * ```
 *
 * @module
 */

import { encodeCommand, type RequestParser } from "../resp/mod.ts";
import { BULK, INT, keyString, MAP } from "./tracker.ts";

export { BULK, INT, MAP };

/** A read cached besides GET and MGET. */
export interface Variant {
  /** Command name (upper case). */
  readonly name: string;
  /** Arguments with the name (only this form is cached). */
  readonly argc: number;
  /** Reply kind ({@link BULK}, {@link MAP}, {@link INT}). */
  readonly kind: number;
  /** The cache key's first unit. */
  readonly tag: string;
}

/** The reads cached besides GET and MGET. */
export const VARIANTS: readonly Variant[] = [
  { name: "HGET", argc: 3, kind: BULK, tag: "\u0101" },
  { name: "HGETALL", argc: 2, kind: MAP, tag: "\u0102" },
  { name: "EXISTS", argc: 2, kind: INT, tag: "\u0103" },
];

/** Separates a key from a field in a cache key. */
const SEP = "\u0100";
const CR = 13, PERCENT = 37;

/** The variant the command `parser` parsed from `buf` is (by name and argument count), if any. */
export function variantOf(parser: RequestParser, buf: Uint8Array): Variant | undefined {
  const s = parser.argStart[0], len = parser.argEnd[0] - s;
  for (const v of VARIANTS) {
    if (v.name.length !== len || v.argc !== parser.argc) continue;
    let i = 0;
    while (i < len && (buf[s + i] & 0xdf) === v.name.charCodeAt(i)) i++;
    if (i === len) return v;
  }
  return undefined;
}

/** The cache key of the read `parser` parsed from `buf`, a `v`. */
export function variantKey(v: Variant, parser: RequestParser, buf: Uint8Array): string {
  const key = keyString(buf, parser.argStart[1], parser.argEnd[1]);
  if (v.argc === 2) return v.tag + key;
  return v.tag + key + SEP + keyString(buf, parser.argStart[2], parser.argEnd[2]);
}

/** The key a cache key is of, or null for a plain key (a GET's entry). */
export function baseKey(ck: string): string | null {
  if (ck.length === 0 || ck.charCodeAt(0) <= 0xff) return null;
  const sep = ck.indexOf(SEP, 1);
  return sep < 0 ? ck.slice(1) : ck.slice(1, sep);
}

/** The reply kind of the entry under cache key `ck`. */
export function kindOf(ck: string): number {
  const tag = ck.charCodeAt(0);
  for (const v of VARIANTS) if (v.tag.charCodeAt(0) === tag) return v.kind;
  return BULK;
}

/** The command `parser` parsed from `buf`, framed again (a RESP array of bulk strings). */
export function commandFrame(parser: RequestParser, buf: Uint8Array): Uint8Array {
  const args: Uint8Array[] = [];
  for (let i = 0; i < parser.argc; i++) {
    args.push(buf.subarray(parser.argStart[i], parser.argEnd[i]));
  }
  return encodeCommand(args);
}

/**
 * What a RESP2 client gets for `reply` (the node's RESP3 reply, of `kind`),
 * or null when it is the same bytes. A map of bulk strings (HGETALL's)
 * becomes an array of twice as many: only its header differs.
 */
export function resp2Of(kind: number, reply: Uint8Array | null): Uint8Array | null {
  if (kind !== MAP || reply === null || reply[0] !== PERCENT) return null;
  let i = 1, n = 0;
  while (reply[i] !== CR) n = n * 10 + reply[i++] - 48;
  const head = `*${2 * n}`;
  const out = new Uint8Array(head.length + reply.length - i);
  for (let j = 0; j < head.length; j++) out[j] = head.charCodeAt(j);
  out.set(reply.subarray(i), head.length);
  return out;
}
