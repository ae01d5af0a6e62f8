/**
 * Multi-key commands over shards: MGET, MSET, DEL, UNLINK, EXISTS and TOUCH
 * are split into one sub-command per shard (not per key), sent in
 * parallel, and their replies merged back in the client's key order.
 *
 * ```
 * MGET a b c d            a, c → shard 0      *2 $1 A $1 C ──┐
 *   split ─────────────▶  b    → shard 1      *1 $1 B ───────┼─ merge ─▶ *4 A B C D
 *                         d    → shard 2      *1 $1 D ───────┘
 * ```
 *
 * Partial failure: MGET answers an error element in place of each key of a
 * shard that failed; MSET, DEL, UNLINK, EXISTS and TOUCH answer one error
 * naming the failed shards (the write ones also say how many shards applied
 * their part: a split write is not atomic). Replies are raw RESP2 or RESP3
 * frames; nulls and attributes inside MGET's elements are copied as sent.
 *
 * @module
 */

import {
  copyBytes,
  encodeCommand,
  encodeError,
  encodeInteger,
  sameBytes,
  slabBytes,
} from "../resp/mod.ts";
import { bareReason, RouterErrorText, type ShardFailureText } from "./_errors.ts";
import { arrayElements, errorMessage, integerValue } from "./_reply.ts";

/** The commands split per shard. */
export type SplitCommand = "mget" | "mset" | "del" | "unlink" | "exists" | "touch";

/** How each split command takes its arguments and merges its replies. */
const SHAPES: Readonly<Record<SplitCommand, { readonly pairs: boolean; readonly merge: Merge }>> = {
  mget: { pairs: false, merge: "array" },
  mset: { pairs: true, merge: "ok" },
  del: { pairs: false, merge: "sum-write" },
  unlink: { pairs: false, merge: "sum-write" },
  touch: { pairs: false, merge: "sum-write" },
  exists: { pairs: false, merge: "sum-read" },
};
type Merge = "array" | "ok" | "sum-write" | "sum-read";

/** True for the commands {@link splitByShard} splits (lowercase name). */
export function isSplitCommand(name: string): name is SplitCommand {
  return Object.hasOwn(SHAPES, name);
}

/** One shard's part of a split command. */
export interface SplitPart {
  /** Index of the shard (in the router's distribution). */
  readonly shard: number;
  /** The sub-command to send to it, as RESP bytes. */
  readonly frame: Uint8Array;
  /** Positions (0-based, in the client's key order) of the keys it holds. */
  readonly positions: readonly number[];
}

/** A command split per shard. */
export interface SplitPlan {
  readonly command: SplitCommand;
  /** How many keys the client's command has. */
  readonly keyCount: number;
  /** One part per shard, in order of each shard's first key. */
  readonly parts: readonly SplitPart[];
}

/** A shard that gave no reply: the error message (without `-`), e.g. from proxy/errors.ts. */
export interface ShardFailure {
  readonly error: string;
}

/** What came back from one part: its reply frame, or why there is none. */
export type ShardReply = Uint8Array | ShardFailure;

const utf8 = new TextEncoder();
const OK = utf8.encode("+OK\r\n");

/**
 * Splits `args` (the client's command, name first) per shard, with
 * `shardOf` telling the shard index of a key. Returns null when the command
 * is not one of the split ones, has the wrong number of arguments (the
 * node will say so), or has all its keys on one shard (send it whole).
 */
export function splitByShard(
  args: readonly Uint8Array[],
  shardOf: (key: Uint8Array) => number,
): SplitPlan | null {
  if (args.length < 2) return null;
  const name = new TextDecoder().decode(args[0]).toLowerCase();
  if (!isSplitCommand(name)) return null;
  const stride = SHAPES[name].pairs ? 2 : 1;
  if ((args.length - 1) % stride !== 0) return null;
  const keyCount = (args.length - 1) / stride;
  const order: number[] = [];
  const byShard = new Map<number, { args: Uint8Array[]; positions: number[] }>();
  for (let k = 0; k < keyCount; k++) {
    const at = 1 + k * stride;
    const shard = shardOf(args[at]);
    let part = byShard.get(shard);
    if (part === undefined) {
      part = { args: [args[0]], positions: [] };
      byShard.set(shard, part);
      order.push(shard);
    }
    for (let i = 0; i < stride; i++) part.args.push(args[at + i]);
    part.positions.push(k);
  }
  if (order.length === 1) return null;
  return {
    command: name,
    keyCount,
    parts: order.map((shard) => {
      const part = byShard.get(shard)!;
      return { shard, frame: encodeCommand(part.args), positions: part.positions };
    }),
  };
}

/** Each split command's name argument, as it starts every part. */
const NAME_ARGS: Readonly<Record<SplitCommand, Uint8Array>> = {
  mget: utf8.encode("$4\r\nMGET\r\n"),
  mset: utf8.encode("$4\r\nMSET\r\n"),
  del: utf8.encode("$3\r\nDEL\r\n"),
  unlink: utf8.encode("$6\r\nUNLINK\r\n"),
  exists: utf8.encode("$6\r\nEXISTS\r\n"),
  touch: utf8.encode("$5\r\nTOUCH\r\n"),
};

/**
 * {@link splitByShard} on the client's multibulk frame itself (the hot path):
 * key `i`'s bytes are `buf[starts[i], ends[i])` (the payloads of its bulk
 * arguments) and `shards[i]` its shard. Each part's frame is cut from one
 * buffer for the whole command by copying the client's argument bytes as
 * they are. Returns null when all keys are on one shard or the arguments
 * do not fit the command (the node will say so).
 */
export function splitFrame(
  command: SplitCommand,
  buf: Uint8Array,
  count: number,
  starts: Int32Array,
  ends: Int32Array,
  shards: Int32Array,
): SplitPlan | null {
  const pairs = SHAPES[command].pairs;
  // Each key's whole argument span ($len header to CRLF; with its value for MSET) and its part.
  const spanStart = scratch.ints(0, count);
  const spanEnd = scratch.ints(1, count);
  const partOf = scratch.ints(2, count);
  // Each part's shard, key count and argument bytes; parts in order of their first key.
  const partShard = scratch.ints(3, count);
  const partKeys = scratch.ints(4, count);
  const partBytes = scratch.ints(5, count);
  let partCount = 0;
  for (let k = 0; k < count; k++) {
    let h = starts[k] - 3;
    while (h > 0 && buf[h] !== DOLLAR) h--;
    let e = ends[k] + 2;
    if (pairs) {
      if (buf[e] !== DOLLAR) return null;
      let len = 0, q = e + 1;
      while (q < buf.length && buf[q] !== CR) len = len * 10 + (buf[q++] - 48);
      e = q + 2 + len + 2;
    }
    spanStart[k] = h;
    spanEnd[k] = e;
    let p = 0;
    while (p < partCount && partShard[p] !== shards[k]) p++;
    if (p === partCount) {
      partShard[p] = shards[k];
      partKeys[p] = partBytes[p] = 0;
      partCount++;
    }
    partOf[k] = p;
    partKeys[p]++;
    partBytes[p] += e - h;
  }
  if (partCount < 2) return null;
  const name = NAME_ARGS[command];
  const stride = pairs ? 2 : 1;
  let total = 0;
  for (let p = 0; p < partCount; p++) {
    total += headLength(1 + stride * partKeys[p]) + name.length + partBytes[p];
  }
  // One buffer for all parts: each part's header and name, then its keys copied in key order.
  const out = slabBytes(total);
  const partAt = scratch.ints(6, partCount);
  const positions = new Array<number[]>(partCount);
  let at = 0;
  for (let p = 0; p < partCount; p++) {
    at = writeHead(out, at, 1 + stride * partKeys[p]);
    out.set(name, at);
    partAt[p] = at += name.length;
    at += partBytes[p];
    positions[p] = new Array<number>(partKeys[p]);
    partKeys[p] = 0; // now: keys placed so far
  }
  for (let k = 0; k < count; k++) {
    const p = partOf[k];
    copyBytes(out, partAt[p], buf, spanStart[k], spanEnd[k]);
    partAt[p] += spanEnd[k] - spanStart[k];
    positions[p][partKeys[p]++] = k;
  }
  const parts = new Array<SplitPart>(partCount);
  let from = 0;
  for (let p = 0; p < partCount; p++) {
    parts[p] = {
      shard: partShard[p],
      frame: out.subarray(from, partAt[p]),
      positions: positions[p],
    };
    from = partAt[p];
  }
  return { command, keyCount: count, parts };
}

const DOLLAR = 36;
const CR = 13;

/**
 * Reusable integer arrays for one split or merge at a time (both run to the
 * end without yielding): a typed array costs a native allocation, however
 * small.
 */
class Scratch {
  #arrays: Int32Array[] = Array.from({ length: 7 }, () => new Int32Array(64));

  /** Array number `which` (0-6), with room for `n` integers (contents undefined). */
  ints(which: number, n: number): Int32Array {
    let a = this.#arrays[which];
    if (a.length < n) a = this.#arrays[which] = new Int32Array(Math.max(n, 2 * a.length));
    return a;
  }
}
const scratch = new Scratch();

/** Length of an aggregate header `*<n>\r\n`. */
function headLength(n: number): number {
  let digits = 1;
  for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
  return digits + 3;
}

/** Writes `*<n>\r\n` at `at` (no string built); returns the offset after it. */
function writeHead(out: Uint8Array, at: number, n: number): number {
  const end = at + headLength(n);
  out[at] = 42; // *
  let p = end - 3;
  for (let x = n;; x = Math.floor(x / 10)) {
    out[p--] = 48 + (x % 10);
    if (x < 10) break;
  }
  out[end - 2] = CR;
  out[end - 1] = 10;
  return end;
}

/** Why a part failed (an error reply, or no reply), or null when it has a reply to merge. */
function failureOf(reply: ShardReply): string | null {
  if (!(reply instanceof Uint8Array)) return bareReason(reply.error);
  return errorMessage(reply);
}

/**
 * MGET: the elements of each part's array, placed at their keys' positions
 * (copied straight into one buffer, no view per element).
 */
function mergeArray(
  plan: SplitPlan,
  replies: readonly ShardReply[],
  names: readonly string[],
): Uint8Array {
  const parts = plan.parts;
  const keyCount = plan.keyCount;
  // Element bounds of every part, one part after another (the parts' keys add up to keyCount).
  const bounds = scratch.ints(0, 2 * keyCount);
  // Per key: its part, and where its element's bounds are (-1: the part failed).
  const owner = scratch.ints(1, keyCount);
  const element = scratch.ints(2, keyCount);
  const errors = new Array<Uint8Array | null>(parts.length);
  let total = 0;
  let base = 0;
  for (let i = 0; i < parts.length; i++) {
    const positions = parts[i].positions;
    const n = positions.length;
    const reply = replies[i];
    let reason = failureOf(reply);
    if (reason === null && !arrayElements(reply as Uint8Array, n, bounds, base)) {
      reason = bareReason(RouterErrorText.unexpectedReply(plan.command));
    }
    errors[i] = null;
    if (reason !== null) {
      const error = encodeError(RouterErrorText.keyFailed(names[parts[i].shard], reason));
      errors[i] = error;
      total += error.length * n;
    } else total += bounds[base + 2 * n - 1] - bounds[base]; // the elements are contiguous
    for (let j = 0; j < n; j++) {
      owner[positions[j]] = i;
      element[positions[j]] = reason === null ? base + 2 * j : -1;
    }
    base += 2 * n;
  }
  const out = slabBytes(headLength(keyCount) + total);
  let at = writeHead(out, 0, keyCount);
  for (let k = 0; k < keyCount; k++) {
    const e = element[k];
    if (e < 0) {
      const error = errors[owner[k]]!;
      copyBytes(out, at, error, 0, error.length);
      at += error.length;
    } else {
      copyBytes(out, at, replies[owner[k]] as Uint8Array, bounds[e], bounds[e + 1]);
      at += bounds[e + 1] - bounds[e];
    }
  }
  return out;
}

/**
 * Builds the client's reply from the parts' replies (`replies[i]` answers
 * `plan.parts[i]`); `shardNames` names shards by index for error messages.
 */
export function mergeReplies(
  plan: SplitPlan,
  replies: readonly ShardReply[],
  shardNames: readonly string[],
): Uint8Array {
  if (replies.length !== plan.parts.length) {
    throw new RangeError(`${replies.length} replies for ${plan.parts.length} parts`);
  }
  const merge = SHAPES[plan.command].merge;
  if (merge === "array") return mergeArray(plan, replies, shardNames);
  const failed: ShardFailureText[] = [];
  let sum = 0;
  for (const [i, part] of plan.parts.entries()) {
    const reply = replies[i];
    let reason = failureOf(reply);
    if (reason === null) {
      const frame = reply as Uint8Array;
      if (merge === "ok" && sameBytes(frame, OK)) continue;
      const n = merge === "ok" ? null : integerValue(frame);
      if (n !== null) {
        sum += n;
        continue;
      }
      reason = bareReason(RouterErrorText.unexpectedReply(plan.command));
    }
    failed.push({ shard: shardNames[part.shard], reason });
  }
  if (failed.length > 0) {
    return encodeError(
      merge === "sum-read"
        ? RouterErrorText.readFailed(plan.command, failed)
        : RouterErrorText.writeFailed(plan.command, failed, plan.parts.length - failed.length),
    );
  }
  return merge === "ok" ? OK : encodeInteger(sum);
}

/**
 * The reply to a command sent to every shard (script and function loads):
 * the shards' reply when they all agree, else the first error, else an
 * error saying they differ.
 */
export function mergeBroadcast(
  command: string,
  replies: readonly ShardReply[],
): Uint8Array {
  if (replies.length === 0) throw new RangeError("no replies to merge");
  const frames: Uint8Array[] = [];
  for (const reply of replies) {
    if (!(reply instanceof Uint8Array)) return encodeError(reply.error);
    if (errorMessage(reply) !== null) return reply;
    frames.push(reply);
  }
  const first = frames[0];
  return frames.every((f) => sameBytes(f, first))
    ? first
    : encodeError(RouterErrorText.broadcastDiffers(command));
}
