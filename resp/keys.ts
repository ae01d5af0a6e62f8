/**
 * Which arguments of a command are keys, from the generated Redis 7 key
 * specifications (`KEY_SPECS`), the way Redis's own `COMMAND GETKEYS`
 * finds them (`getKeysUsingKeySpecs` in db.c):
 *
 * - each spec starts at an argument index, or just after a keyword searched
 *   forwards (or backwards, for a negative `startfrom`);
 * - it then takes a range (`lastkey` relative to the start, negative from
 *   the end, or a share of the rest with `limit`, as XREAD's STREAMS), or
 *   a count read from an argument (`keynum`, as EVAL's numkeys), every
 *   `keystep` arguments;
 * - a spec that runs out of bounds, or a count that is not a number, makes
 *   the whole command "invalid": Redis then falls back to per-command code,
 *   which for well-formed commands gives the same keys, and for malformed
 *   ones an error. Here an invalid command has no keys (the node answers
 *   the error), except SORT and MIGRATE, whose specs are incomplete by
 *   design and whose keys are found as Redis's `sortGetKeys` and
 *   `migrateGetKeys` do.
 *
 * Specs flagged `not_key` (the channels of SPUBLISH, SSUBSCRIBE and
 * SUNSUBSCRIBE) are skipped unless `channels` is asked for: Redis Cluster
 * routes sharded pub/sub by them. SET and BITFIELD carry `variable_flags`,
 * which only changes the flags Redis reports, not the positions.
 *
 * Allocation-light: {@link findKeys} fills a reusable {@link CommandKeys}
 * and reads the frame in place; only inline commands are re-encoded first.
 *
 * @module
 */

import { KEY_SPECS, type KeySpecRow } from "./command_table.ts";
import { commandNameOf } from "./commands.ts";
import { encodeCommand } from "./encoder.ts";
import { argEquals, parseInteger, RequestParser } from "./request.ts";

const CR = 13;
const DIGIT_0 = 48;
/** Initial capacity of the reusable arrays; they double as needed. */
const INITIAL_CAPACITY = 16;
/** Returned by a spec that made the command invalid. */
const INVALID = -1;

/** The keys of one command; reuse one instance per session (no allocation per command). */
export class CommandKeys {
  /** How many keys were found. */
  count = 0;
  /** Argument indexes of the keys (0 is the command name), in key-spec order. */
  index: Int32Array = new Int32Array(INITIAL_CAPACITY);
  /** Byte offset in {@link CommandKeys.buf} where key i starts. */
  start: Int32Array = new Int32Array(INITIAL_CAPACITY);
  /** Byte offset in {@link CommandKeys.buf} just past key i. */
  end: Int32Array = new Int32Array(INITIAL_CAPACITY);
  /** The bytes `start`/`end` point into: the parsed buffer, or a re-encoded inline command. */
  buf: Uint8Array = new Uint8Array(0);

  /** Key `i` as a view of {@link CommandKeys.buf} (allocates the view). */
  key(i: number): Uint8Array {
    return this.buf.subarray(this.start[i], this.end[i]);
  }

  /** Appends the key at argument `arg` (internal). */
  push(arg: number, start: number, end: number): void {
    if (this.count === this.index.length) {
      this.index = grow(this.index);
      this.start = grow(this.start);
      this.end = grow(this.end);
    }
    this.index[this.count] = arg;
    this.start[this.count] = start;
    this.end[this.count] = end;
    this.count++;
  }
}

function grow(a: Int32Array): Int32Array {
  const bigger = new Int32Array(a.length * 2);
  bigger.set(a);
  return bigger;
}

/** Offsets of every argument of the command being examined (module scratch). */
let argStart = new Int32Array(INITIAL_CAPACITY);
let argEnd = new Int32Array(INITIAL_CAPACITY);

/** Walks a complete multibulk frame and records where each argument is. */
function indexArgs(parser: RequestParser, buf: Uint8Array): number {
  const argc = parser.argc;
  if (argStart.length < argc) {
    let size = argStart.length;
    while (size < argc) size *= 2;
    argStart = new Int32Array(size);
    argEnd = new Int32Array(size);
  }
  let p = parser.start + 1;
  while (buf[p] !== CR) p++;
  p += 2;
  for (let i = 0; i < argc; i++) {
    let len = 0;
    let q = p + 1;
    while (buf[q] !== CR) len = len * 10 + (buf[q++] - DIGIT_0);
    q += 2;
    argStart[i] = q;
    argEnd[i] = q + len;
    p = q + len + 2;
  }
  return argc;
}

/** Adds the keys of one spec to `out`; returns INVALID when it makes the command invalid. */
function applySpec(spec: KeySpecRow, buf: Uint8Array, argc: number, out: CommandKeys): number {
  const [begin, find] = spec;
  let first = 0;
  if (begin[0] === "index") {
    first = begin[1];
  } else if (begin[0] === "keyword") {
    const keyword = begin[1];
    const from = begin[2];
    if (from > 0) {
      for (let i = from; i < argc - 1; i++) {
        if (argEquals(buf, argStart[i], argEnd[i], keyword)) {
          first = i + 1;
          break;
        }
      }
    } else {
      for (let i = argc + from; i >= 1 && i < argc; i--) {
        if (argEquals(buf, argStart[i], argEnd[i], keyword)) {
          first = i + 1;
          break;
        }
      }
    }
    if (first === 0) return 0; // keyword not there: this spec has no keys
  } else {
    return INVALID;
  }
  let last: number;
  let step: number;
  if (find[0] === "range") {
    const [, lastkey, keystep, limit] = find;
    step = keystep;
    if (lastkey >= 0) last = first + lastkey;
    else if (limit === 0) last = argc + lastkey;
    else last = first + (Math.trunc((argc - first) / limit) + lastkey);
  } else if (find[0] === "keynum") {
    const [, keynumidx, firstkey, keystep] = find;
    step = keystep;
    const at = first + keynumidx;
    if (at >= argc || at < 0) return INVALID;
    const numkeys = parseInteger(buf, argStart[at], argEnd[at]);
    if (!(numkeys >= 0)) return INVALID;
    first += firstkey;
    last = first + numkeys - 1;
  } else {
    return INVALID;
  }
  if (last >= argc || last < first || first >= argc) return INVALID;
  for (let i = first; i <= last; i += step) out.push(i, argStart[i], argEnd[i]);
  return 0;
}

/** SORT's keys as Redis's sortGetKeys finds them: the key, and the argument after the last STORE. */
function sortKeys(buf: Uint8Array, argc: number, readOnly: boolean, out: CommandKeys): void {
  out.push(1, argStart[1], argEnd[1]);
  if (readOnly) return;
  let store = -1;
  for (let i = 2; i < argc; i++) {
    const s = argStart[i];
    const e = argEnd[i];
    if (argEquals(buf, s, e, "LIMIT")) i += 2;
    else if (argEquals(buf, s, e, "GET") || argEquals(buf, s, e, "BY")) i += 1;
    else if (argEquals(buf, s, e, "STORE") && i + 1 < argc) store = i + 1;
  }
  if (store > 0) out.push(store, argStart[store], argEnd[store]);
}

/** MIGRATE's keys as Redis's migrateGetKeys finds them: argument 3, or those after KEYS. */
function migrateKeys(buf: Uint8Array, argc: number, out: CommandKeys): void {
  let first = 3;
  let num = 1;
  for (let i = 6; i < argc; i++) {
    const s = argStart[i];
    const e = argEnd[i];
    if (argEquals(buf, s, e, "KEYS")) {
      if (argEnd[3] > argStart[3]) return; // KEYS with a non-empty key argument: an error
      first = i + 1;
      num = argc - first;
      break;
    }
    if (argEquals(buf, s, e, "AUTH")) i += 1;
    else if (argEquals(buf, s, e, "AUTH2")) i += 2;
  }
  for (let i = first; i < first + num && i < argc; i++) out.push(i, argStart[i], argEnd[i]);
}

/** Commands whose specs Redis itself cannot use (unknown or incomplete): keys come from code. */
const SORT = "sort";
const SORT_RO = "sort_ro";
const MIGRATE = "migrate";

/** Fills `out` from the arguments indexed in argStart/argEnd. */
function collect(
  name: string | undefined,
  buf: Uint8Array,
  argc: number,
  out: CommandKeys,
  channels: boolean,
): void {
  if (name === undefined) return;
  if (name === SORT || name === SORT_RO) {
    if (argc >= 2) sortKeys(buf, argc, name === SORT_RO, out);
    return;
  }
  if (name === MIGRATE) {
    if (argc >= 6) migrateKeys(buf, argc, out);
    return;
  }
  const specs = KEY_SPECS[name];
  if (specs === undefined) return;
  for (const spec of specs) {
    if (!channels && spec[2].includes("not_key")) continue;
    if (applySpec(spec, buf, argc, out) === INVALID) {
      out.count = 0;
      return;
    }
  }
}

const inlineParser = new RequestParser();

/**
 * Finds the keys of the command `parser` just parsed from `buf` and leaves
 * them in `out` (cleared first), which is also returned. With `channels`,
 * the shard channels of SPUBLISH / SSUBSCRIBE / SUNSUBSCRIBE count as keys.
 * A command Redis does not know, or one that is malformed, has no keys.
 */
export function findKeys(
  parser: RequestParser,
  buf: Uint8Array,
  out: CommandKeys,
  channels = false,
): CommandKeys {
  out.count = 0;
  if (parser.argc === 0) {
    out.buf = buf;
    return out;
  }
  let p = parser;
  let b = buf;
  if (parser.inline) {
    b = encodeCommand(parser.inlineArgs(buf, parser.start, parser.end));
    inlineParser.reset();
    inlineParser.parse(b, 0, b.length);
    p = inlineParser;
  }
  out.buf = b;
  const argc = indexArgs(p, b);
  collect(commandNameOf(p, b), b, argc, out, channels);
  return out;
}

/**
 * The argument indexes of the keys of a command given as its arguments
 * (name first), e.g. `[1, 2]` for `MGET a b`. Allocates; for the slow path
 * and tests. See {@link findKeys}.
 */
export function keyIndexes(args: readonly (string | Uint8Array)[], channels = false): number[] {
  if (args.length === 0) return [];
  const frame = encodeCommand(args);
  const parser = new RequestParser();
  parser.parse(frame, 0, frame.length);
  const keys = findKeys(parser, frame, new CommandKeys(), channels);
  return Array.from(keys.index.subarray(0, keys.count));
}
