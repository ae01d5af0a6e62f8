/**
 * The differential test's parts: random command streams, how they are cut
 * into TCP writes, how a stream's replies are read and compared, and how a
 * failing stream is shrunk. Seeded: the same seed gives the same streams
 * and the same cuts.
 *
 * ```
 *  seed ─▶ Prng ─▶ stream (commands) ─▶ bytes ─▶ cuts ─┬─▶ Redis directly ──▶ frames ─┐
 *                                                      └─▶ shardgate ────────▶ frames ─┴─▶ normalize, compare
 * ```
 *
 * What differs by design is normalized away (see {@link normalize}): HELLO's
 * reply (the session id, the server fields), and MONITOR's lines (which show
 * every client of the node, so other clients through shardgate too).
 *
 * @module
 */

import { encodeCommand, INCOMPLETE, scanReply } from "../resp/mod.ts";
import { Prng } from "./faults/_prng.ts";

/** One command of a stream: its arguments, and whether it is sent inline. */
export interface StreamCommand {
  /** The arguments, name first. */
  readonly args: readonly string[];
  /** Sent as an inline command (`PING\r\n`) instead of a multibulk. */
  readonly inline: boolean;
}

const td = new TextDecoder("latin1");
const te = new TextEncoder();

/** The keys, channels and values one stream uses (its own namespace). */
function names(ns: string) {
  return {
    strings: [`${ns}:a`, `${ns}:b`, `${ns}:c`],
    counter: `${ns}:n`,
    list: `${ns}:l`,
    hash: `${ns}:h`,
    set: `${ns}:s`,
    zset: `${ns}:z`,
    channels: [`${ns}:ch0`, `${ns}:ch1`],
    pattern: `${ns}:p*`,
  };
}

/** Every key a stream in namespace `ns` may touch (to compare the data after). */
export function streamKeys(ns: string): string[] {
  const n = names(ns);
  return [...n.strings, n.counter, n.list, n.hash, n.set, n.zset];
}

/** Databases a stream may select. */
export const STREAM_DBS = [0, 1, 2];

const VALUES = ["1", "2", "x", "hello", "", "a b", "line\r\nbreak", "42", "-7", "\u00e9t\u00e9"];

/** A random value: mostly short, sometimes binary-ish (CRLF inside), sometimes long. */
function value(r: Prng): string {
  if (r.chance(0.03)) return "v".repeat(200 + r.int(3000));
  return VALUES[r.int(VALUES.length)];
}

function pick<T>(r: Prng, xs: readonly T[]): T {
  return xs[r.int(xs.length)];
}

/**
 * One random command for namespace `ns`: plain reads and writes on a few
 * keys, and the commands that change a connection's state (transactions,
 * pub/sub, MONITOR, CLIENT REPLY, HELLO, SELECT, AUTH, RESET, tracking).
 */
export function randomCommand(r: Prng, ns: string): StreamCommand {
  const n = names(ns);
  const s = pick(r, n.strings);
  const roll = r.int(100);
  let args: string[];
  if (roll < 8) args = ["SET", s, value(r)];
  else if (roll < 16) args = ["GET", s];
  else if (roll < 20) args = ["INCR", n.counter];
  else if (roll < 22) args = ["INCRBY", n.counter, String(r.int(20) - 10)];
  else if (roll < 24) args = ["APPEND", s, value(r)];
  else if (roll < 28) args = ["RPUSH", n.list, value(r)];
  else if (roll < 30) args = ["LPOP", n.list];
  else if (roll < 32) args = ["LRANGE", n.list, "0", "-1"];
  // (Short hash values: a long one turns the hash into a hash table, whose
  // HGETALL order is each server's own hash order.)
  else if (roll < 34) args = ["HSET", n.hash, pick(r, ["f", "g"]), pick(r, VALUES)];
  else if (roll < 35) args = ["HGETALL", n.hash];
  else if (roll < 36) args = ["SADD", n.set, value(r)];
  else if (roll < 37) args = ["SCARD", n.set];
  else if (roll < 38) args = ["ZADD", n.zset, String(r.int(10)), pick(r, ["m", "n", "o"])];
  else if (roll < 39) args = ["ZRANGE", n.zset, "0", "-1", "WITHSCORES"];
  else if (roll < 40) args = ["DEL", s, n.list];
  else if (roll < 41) args = ["EXISTS", s, n.counter];
  else if (roll < 42) args = ["MSET", s, value(r), n.counter, String(r.int(100))];
  else if (roll < 43) args = ["MGET", ...n.strings];
  else if (roll < 44) args = ["EXPIRE", s, "1000"];
  else if (roll < 45) args = ["TYPE", s];
  else if (roll < 46) args = ["EVAL", "return redis.call('INCR', KEYS[1])", "1", n.counter];
  else if (roll < 47) args = ["EVAL_RO", "return redis.call('GET', KEYS[1])", "1", s];
  else if (roll < 48) args = ["BLPOP", n.list, "0.01"];
  else if (roll < 50) args = ["PING"];
  else if (roll < 51) args = ["PING", value(r)];
  else if (roll < 52) args = ["ECHO", value(r)];
  else if (roll < 53) args = ["NOSUCHCOMMAND", "x"];
  else if (roll < 57) args = ["MULTI"];
  else if (roll < 60) args = ["EXEC"];
  else if (roll < 61) args = ["DISCARD"];
  else if (roll < 63) args = ["WATCH", s];
  else if (roll < 64) args = ["UNWATCH"];
  else if (roll < 67) args = ["SUBSCRIBE", ...n.channels.slice(0, 1 + r.int(2))];
  else if (roll < 69) args = ["UNSUBSCRIBE", ...(r.chance(0.5) ? [] : [n.channels[0]])];
  else if (roll < 70) args = ["PSUBSCRIBE", n.pattern];
  else if (roll < 71) args = ["PUNSUBSCRIBE"];
  else if (roll < 73) args = ["PUBLISH", pick(r, n.channels), value(r)];
  else if (roll < 74) args = ["MONITOR"];
  else if (roll < 76) args = ["CLIENT", "REPLY", pick(r, ["ON", "OFF", "SKIP"])];
  else if (roll < 79) args = ["HELLO", pick(r, ["2", "3"])];
  else if (roll < 80) args = ["HELLO", "3", "SETNAME", `${ns}-name`];
  else if (roll < 83) args = ["SELECT", String(pick(r, [...STREAM_DBS, 99]))];
  else if (roll < 84) args = ["PING", "auth"];
  else if (roll < 88) args = ["RESET"];
  else if (roll < 89) args = ["CLIENT", "TRACKING", pick(r, ["ON", "OFF"])];
  else if (roll < 91) args = ["CLIENT", "SETNAME", `${ns}-c${r.int(3)}`];
  else if (roll < 92) args = ["CLIENT", "GETNAME"];
  else if (roll < 93) args = ["CLIENT", "SETINFO", "lib-name", "difftest"];
  else if (roll < 96) args = ["SETNX", s, value(r)];
  else if (roll < 98) args = ["GETDEL", s];
  else args = ["LLEN", n.list];
  // Inline only where every argument is a plain token.
  const inline = r.chance(0.1) && args.every((a) => /^[A-Za-z0-9:*.\-_]+$/.test(a));
  return { args, inline };
}

/** A random plain read or write (the multiplexed path only): order shows in every reply. */
export function plainCommand(r: Prng, ns: string): StreamCommand {
  for (;;) {
    const c = randomCommand(r, ns);
    if (
      c.args[0] === "SET" || c.args[0] === "GET" || c.args[0].startsWith("INCR") ||
      c.args[0] === "RPUSH" || c.args[0] === "APPEND" || c.args[0] === "LPOP"
    ) return c;
  }
}

/**
 * A random stream of `length` commands (half of them speak RESP3 from the
 * start). No CLIENT REPLY inside MULTI: there Redis's own reply stream
 * breaks (EXEC's array header counts replies it then leaves out). None
 * under MONITOR either: a RESET that SKIP silences there ends MONITOR at a
 * moment shardgate cannot see (a known gap, in the README).
 */
export function randomStream(
  r: Prng,
  ns: string,
  length: number,
  plain = false,
): StreamCommand[] {
  const out: StreamCommand[] = [];
  if (r.chance(0.5)) out.push({ args: ["HELLO", "3"], inline: false });
  let inMulti = false, monitor = false;
  while (out.length < length) {
    const c = plain ? plainCommand(r, ns) : randomCommand(r, ns);
    const name = c.args[0];
    if ((inMulti || monitor) && name === "CLIENT" && c.args[1] === "REPLY") continue;
    if (name === "MULTI") inMulti = true;
    else if (name === "MONITOR") monitor = true;
    else if (name === "EXEC" || name === "DISCARD") inMulti = false;
    else if (name === "RESET") inMulti = monitor = false;
    out.push(c);
  }
  return out;
}

/** `stream` with its namespace `from` renamed `to` (a re-run on fresh keys). */
export function renamed(
  stream: readonly StreamCommand[],
  from: string,
  to: string,
): StreamCommand[] {
  return stream.map((c) => ({
    args: c.args.map((a) => a.startsWith(from) ? to + a.slice(from.length) : a),
    inline: c.inline,
  }));
}

/** The bytes of one command. */
export function commandBytes(c: StreamCommand): Uint8Array {
  return c.inline ? te.encode(`${c.args.join(" ")}\r\n`) : encodeCommand(c.args);
}

/**
 * The stream's bytes, closed by `RESET` (whatever state the stream left)
 * and an `ECHO` of `marker`, whose reply says every reply is in.
 */
export function streamBytes(stream: readonly StreamCommand[], marker: string): Uint8Array {
  const parts = [...stream, { args: ["RESET"], inline: false }, {
    args: ["ECHO", marker],
    inline: false,
  }].map(commandBytes);
  return concatBytes(parts);
}

/** `parts` one after another in one array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Where the stream's bytes are cut into TCP writes: random lengths, from
 * one byte (a command split mid-frame) to several commands at once.
 */
export function cutPoints(r: Prng, length: number): number[] {
  const cuts: number[] = [];
  let at = 0;
  while (at < length) {
    const roll = r.int(10);
    const size = roll < 3 ? 1 + r.int(8) : roll < 9 ? 8 + r.int(60) : 128 + r.int(2048);
    at = Math.min(length, at + size);
    cuts.push(at);
  }
  return cuts;
}

/**
 * Sends `bytes` to 127.0.0.1:`port` in the writes `cuts` give (yielding to
 * the event loop between them, so they arrive as separate reads), and reads
 * until the marker's echo. Returns the raw reply bytes before the echo.
 */
export async function runStream(
  port: number,
  bytes: Uint8Array,
  cuts: readonly number[],
  marker: string,
  timeoutMs: number,
): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), timeoutMs);
  const tail = te.encode(`$${marker.length}\r\n${marker}\r\n`);
  try {
    const writing = (async () => {
      let from = 0;
      for (const to of cuts) {
        const chunk = bytes.subarray(from, to);
        for (let p = 0; p < chunk.length;) p += await conn.write(chunk.subarray(p));
        // Mostly back to back (each write its own read at the other end,
        // the earlier commands maybe not run yet), sometimes after a pause.
        if (to % 17 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
        from = to;
      }
    })();
    let buf = new Uint8Array(64 * 1024);
    let end = 0;
    for (;;) {
      if (end === buf.length) {
        const bigger = new Uint8Array(buf.length * 2);
        bigger.set(buf);
        buf = bigger;
      }
      const n = await conn.read(buf.subarray(end));
      if (n === null) throw new Error(`port ${port} closed the connection before the marker`);
      end += n;
      if (endsWith(buf, end, tail)) break;
    }
    await writing;
    return buf.slice(0, end - tail.length);
  } catch (err) {
    if (err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted) {
      throw new Error(`port ${port}: no marker within ${timeoutMs} ms`);
    }
    throw err;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
}

function endsWith(buf: Uint8Array, end: number, tail: Uint8Array): boolean {
  if (end < tail.length) return false;
  for (let i = 0; i < tail.length; i++) if (buf[end - tail.length + i] !== tail[i]) return false;
  return true;
}

/** Splits reply bytes into frames (latin1 text, byte for byte). */
export function frames(bytes: Uint8Array): string[] {
  const out: string[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    let next: number;
    try {
      next = scanReply(bytes, pos, bytes.length);
    } catch {
      out.push(`<not RESP: ${td.decode(bytes.subarray(pos))}>`);
      break;
    }
    if (next === INCOMPLETE) {
      out.push(`<incomplete: ${td.decode(bytes.subarray(pos))}>`);
      break;
    }
    out.push(td.decode(bytes.subarray(pos, next)));
    pos = next;
  }
  return out;
}

const MONITOR_LINE = /^\+\d+\.\d+ \[/;
const MONITOR_INSIDE = /\+\d+\.\d+ \[[^\r]*\r\n/g;
const HELLO_REPLY = /^(%7|\*14)\r\n\$6\r\nserver\r\n/;
const HELLO_PROTO = /\$5\r\nproto\r\n:(\d)\r\n/;
const UNSUBSCRIBED =
  /([*>]3\r\n\$1[12]\r\np?unsubscribe\r\n)(?:\$\d+\r\n[^\r]*\r\n|\$-1\r\n|_\r\n)(:\d+\r\n)/g;
const HELLO_ID = /\$2\r\nid\r\n:\d+\r\n/g;

/**
 * What is compared of a frame; null to leave it out. MONITOR's lines show
 * every client of the node (so other clients through shardgate too);
 * HELLO's reply carries the connection id and the node's own fields.
 */
export function normalize(frame: string): string | null {
  if (MONITOR_LINE.test(frame)) return null;
  if (HELLO_REPLY.test(frame)) return `<HELLO reply, proto ${HELLO_PROTO.exec(frame)?.[1] ?? "?"}>`;
  // UNSUBSCRIBE without channels confirms them in the order of the node's
  // hash table (its own hash seed): only the counts are compared (also
  // inside an EXEC's reply).
  frame = frame.replace(UNSUBSCRIBED, "$1<channel>$2");
  // A HELLO run by EXEC: its reply inside EXEC's, with the connection's id;
  // a MONITOR run by EXEC: its lines inside EXEC's reply.
  return frame.replace(HELLO_ID, "$$2\r\nid\r\n:<id>\r\n").replace(
    MONITOR_INSIDE,
    "+<monitor line>\r\n",
  );
}

/** The frames that are compared. */
export function comparable(bytes: Uint8Array): string[] {
  const out: string[] = [];
  for (const f of frames(bytes)) {
    const n = normalize(f);
    if (n !== null) out.push(n);
  }
  return out;
}

/** Where two frame lists first differ, or -1 when equal. */
export function firstDifference(a: readonly string[], b: readonly string[]): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** A stream as text, one command a line (for a failure's report). */
export function showStream(stream: readonly StreamCommand[]): string {
  return stream.map((c) => `${c.inline ? "(inline) " : ""}${JSON.stringify(c.args)}`).join("\n");
}

/**
 * Shrinks a failing stream: drops ever smaller runs of commands while
 * `fails` still says the shorter stream fails, within `budget` tries.
 */
export async function shrink(
  stream: readonly StreamCommand[],
  fails: (s: readonly StreamCommand[]) => Promise<boolean>,
  budget: number,
): Promise<StreamCommand[]> {
  let best = [...stream];
  let tries = 0;
  for (let size = Math.ceil(best.length / 2); size >= 1 && tries < budget;) {
    let shrunk = false;
    for (let at = 0; at + size <= best.length && tries < budget; at += size) {
      const candidate = [...best.slice(0, at), ...best.slice(at + size)];
      tries++;
      if (candidate.length > 0 && await fails(candidate)) {
        best = candidate;
        shrunk = true;
        at -= size;
      }
    }
    if (!shrunk) size = Math.floor(size / 2);
  }
  return best;
}
