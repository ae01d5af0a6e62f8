/**
 * Random and mutated client input for the bad-input fuzz test: valid
 * commands from a small corpus, then truncated, with wrong or negative or
 * huge lengths and counts, deeply nested, replaced by binary garbage, or
 * sent as inline lines of extreme length. Every case comes from a seeded
 * {@linkcode Prng}, so a failing run replays from its seed.
 *
 * The corpus only reads, writes `fz:` keys (refused by a read-only replica
 * anyway), or changes connection state; nothing in it can touch the
 * dataset the well-behaved clients check, or stop a node.
 *
 * @module
 */

import { frame } from "../_raw.ts";
import type { Prng } from "./_prng.ts";

const te = new TextEncoder();

/** Commands the fuzzer starts from (argument lists). */
const CORPUS: readonly (readonly string[])[] = [
  ["GET", "key:1"],
  ["GET", "fz:missing"],
  ["MGET", "key:1", "key:2", "fz:x"],
  ["EXISTS", "key:3"],
  ["STRLEN", "key:4"],
  ["PING"],
  ["PING", "hello"],
  ["ECHO", "fuzz"],
  ["SET", "fz:a", "b"],
  ["INCR", "fz:n"],
  ["SELECT", "0"],
  ["SELECT", "1"],
  ["HELLO", "3"],
  ["HELLO", "2"],
  ["CLIENT", "SETNAME", "fuzzer"],
  ["SUBSCRIBE", "fz:ch"],
  ["MULTI"],
  ["EXEC"],
  ["AUTH", "nobody"],
  ["QUIT"],
  ["NOSUCHCOMMAND", "x"],
];

/** Largest random garbage case, bytes. */
const MAX_GARBAGE = 64 * 1024;
/** Deepest nesting of `*1` headers. */
const MAX_DEPTH = 50_000;
/** Inline lines around Redis's 64 KB inline limit. */
const INLINE_LENGTHS = [1_000, 65_535, 65_536, 65_537, 200_000, 1_100_000];
/** Counts and lengths at the edges of what parsers accept. */
const EDGE_NUMBERS = [
  "-1",
  "-2",
  "-9223372036854775808",
  "0",
  "00",
  "+1",
  " 1",
  "1 ",
  "2147483647",
  "2147483648",
  "536870912",
  "536870913",
  "9223372036854775807",
  "99999999999999999999999",
  "1e3",
  "0x10",
  "",
];

/** One fuzz case: the bytes, in the pieces they are written in. */
export interface FuzzCase {
  /** What kind of input (for the log of a failing run). */
  readonly kind: string;
  /** The input, split into writes. */
  readonly pieces: readonly Uint8Array[];
  /** Half-close after writing (the client says it sent everything). */
  readonly shutdownWrite: boolean;
}

function valid(rng: Prng): string {
  const args = rng.pick(CORPUS);
  return rng.chance(0.8) ? frame(...args) : `${args.join(" ")}\r\n`;
}

function pipeline(rng: Prng, n: number): string {
  let out = "";
  for (let i = 0; i < n; i++) out += valid(rng);
  return out;
}

/** Flips, inserts, deletes or duplicates a few random bytes. */
function mutate(rng: Prng, input: Uint8Array): Uint8Array {
  const bytes = [...input];
  const edits = 1 + rng.int(4);
  for (let e = 0; e < edits && bytes.length > 0; e++) {
    const at = rng.int(bytes.length);
    switch (rng.int(4)) {
      case 0:
        bytes[at] ^= 1 << rng.int(8);
        break;
      case 1:
        bytes.splice(at, 0, rng.pick([13, 10, 42, 36, 45, 48, 0, 32, rng.int(256)]));
        break;
      case 2:
        bytes.splice(at, 1);
        break;
      default:
        bytes.splice(at, 0, ...bytes.slice(at, at + rng.int(16)));
    }
  }
  return Uint8Array.from(bytes);
}

/** Splits `bytes` into 1 to 8 random pieces (a frame arriving in parts). */
function split(rng: Prng, bytes: Uint8Array): Uint8Array[] {
  const n = Math.min(bytes.length, 1 + rng.int(8));
  const cuts = new Set<number>();
  while (cuts.size < n - 1) cuts.add(1 + rng.int(bytes.length - 1));
  const sorted = [...cuts].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...sorted, bytes.length]) {
    out.push(bytes.subarray(prev, c));
    prev = c;
  }
  return out;
}

/** The input of one case of a kind drawn at random. */
function body(rng: Prng): { kind: string; bytes: Uint8Array } {
  const kind = rng.pick([
    "valid",
    "truncated",
    "wrong length",
    "edge count",
    "edge length",
    "nesting",
    "garbage",
    "long inline",
    "mutated",
  ]);
  switch (kind) {
    case "valid":
      return { kind, bytes: te.encode(pipeline(rng, 1 + rng.int(20))) };
    case "truncated": {
      const full = te.encode(pipeline(rng, 1 + rng.int(5)));
      return { kind, bytes: full.subarray(0, rng.int(full.length)) };
    }
    case "wrong length": {
      const v = "x".repeat(rng.int(20));
      const declared = Math.max(0, v.length + rng.int(7) - 3);
      return {
        kind,
        bytes: te.encode(`*2\r\n$4\r\nECHO\r\n$${declared}\r\n${v}\r\n` + valid(rng)),
      };
    }
    case "edge count":
      return { kind, bytes: te.encode(`*${rng.pick(EDGE_NUMBERS)}\r\n` + valid(rng)) };
    case "edge length":
      return {
        kind,
        bytes: te.encode(`*2\r\n$4\r\nECHO\r\n$${rng.pick(EDGE_NUMBERS)}\r\nabc\r\n` + valid(rng)),
      };
    case "nesting": {
      const depth = 1 + rng.int(MAX_DEPTH);
      const head = rng.pick(["*1\r\n", "*2\r\n", "%1\r\n", ">1\r\n", "~1\r\n"]);
      return { kind, bytes: te.encode(head.repeat(depth) + valid(rng)) };
    }
    case "garbage":
      return { kind, bytes: rng.bytes(1 + rng.int(MAX_GARBAGE)) };
    case "long inline": {
      const n = rng.pick(INLINE_LENGTHS);
      const line = `PING ${"a".repeat(n)}`;
      return { kind, bytes: te.encode(rng.chance(0.5) ? line + "\r\n" : line) };
    }
    default:
      return { kind, bytes: mutate(rng, te.encode(pipeline(rng, 1 + rng.int(5)))) };
  }
}

/** One random case: a body, maybe split into pieces, maybe followed by a half-close. */
export function fuzzCase(rng: Prng): FuzzCase {
  const { kind, bytes } = body(rng);
  const pieces = rng.chance(0.3) && bytes.length > 1 ? split(rng, bytes) : [bytes];
  return { kind, pieces, shutdownWrite: rng.chance(0.3) };
}
