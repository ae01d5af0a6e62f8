/**
 * A misbehaving node's replies for the fake replica: the right value most
 * of the time, otherwise malformed bytes, a truncated or absurd frame and a
 * closed connection, or silence. Every bad reply is one no proxy could take
 * for a good one (invalid, or incomplete and then cut off), so a read that
 * got one must be retried elsewhere and still return the right value. (A
 * node that sends a well-formed wrong value, or a reply ahead of its
 * command, cannot be told from a good one while other commands are in
 * flight; those are left to deterministic tests.)
 *
 * @module
 */

import type { FakeAction, FakePolicy } from "./_fake_replica.ts";
import { bulkText } from "./_fake_replica.ts";
import type { Prng } from "./_prng.ts";

const te = new TextEncoder();

/** Deepest nesting of a bad reply. */
const MAX_DEPTH = 100_000;
/** Bytes of a huge bulk a bad reply sends before it hangs up. */
const HUGE_BULK_SENT = 1024;
/** Bytes that cannot start a RESP reply. */
const NOT_A_TYPE = "abcdefgxyzABCXYZ0123456789@^&{}\\\t ";

/** One kind of bad reply: what it is, and its bytes given the good reply. */
type BadReply = readonly [string, (rng: Prng, good: string) => string];

const BAD_REPLIES: readonly BadReply[] = [
  ["garbage", (rng) => rng.pick([...NOT_A_TYPE]) + String.fromCharCode(...rng.bytes(rng.int(200)))],
  [
    "bad length",
    (rng) => rng.pick(["$-7", "$abc", "$99999999999999999999999", "*-3", "$1 ", "*"]) + "\r\n",
  ],
  ["bad integer", () => ":12x\r\n"],
  ["bad boolean", () => "#x\r\n"],
  ["CR without LF", () => "+OK\rX\r\n"],
  ["bulk not ended by CRLF", (_rng, good) => good.replace(/\r\n$/, "XY") + "garbage\r\n"],
  ["truncated", (rng, good) => good.slice(0, rng.int(good.length))],
  ["huge bulk, cut off", () => `$536870911\r\n${"x".repeat(HUGE_BULK_SENT)}`],
  ["deep nesting, cut off", (rng) => "*1\r\n".repeat(1 + rng.int(MAX_DEPTH))],
  ["deep nesting, bad leaf", (rng) => "*1\r\n".repeat(1 + rng.int(MAX_DEPTH)) + "?x\r\n"],
  ["streamed aggregate, never ended", () => "*?\r\n:1\r\n:2\r\n"],
  ["attribute without its value", () => "|1\r\n+key\r\n+value\r\n"],
];

/** Counts of what a {@linkcode badReplies} policy sent. */
export type BadReplyCounts = Record<string, number>;

/**
 * A policy answering `GET key:i` with `value:i`, except that with
 * probability `rate` it sends one of the bad replies and closes the
 * connection, or goes silent on that connection for good. Other commands
 * get `+OK`.
 */
export function badReplies(rng: Prng, rate: number, counts: BadReplyCounts): FakePolicy {
  const silenced = new Set<number>();
  return (cmd, conn): FakeAction => {
    if (silenced.has(conn)) return { kind: "silence" };
    const key = cmd[0]?.toUpperCase() === "GET" ? /^key:(\d+)$/.exec(cmd[1] ?? "") : null;
    const good = key === null ? "+OK\r\n" : bulkText(`value:${key[1]}`);
    if (!rng.chance(rate)) return { kind: "reply", bytes: te.encode(good) };
    if (rng.chance(1 / (BAD_REPLIES.length + 1))) {
      silenced.add(conn);
      counts.silence = (counts.silence ?? 0) + 1;
      return { kind: "silence" };
    }
    const [name, make] = rng.pick(BAD_REPLIES);
    counts[name] = (counts[name] ?? 0) + 1;
    return { kind: "reply-and-close", bytes: latin1(make(rng, good)) };
  };
}

/** Bytes of a string whose chars are all below 256. */
function latin1(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}
